"""Two-view tf.data pipelines that ``model.fit`` consumes.

Each element is ``((view_a, view_b),)``: a 1-tuple holding the pair, so Keras
unpacks ``x = (view_a, view_b)`` and no ``y``. Augmentations see whole batches
and a seed of shape ``(2,)`` derived statelessly from ``(seed, step)`` and the
view, so views are reproducible. Views always come out as floats: a view
function that returns ``uint8`` (an identity, say) has its views scaled to
``[0, 1]`` as the package's augmentations do, so every view of a pipeline is
on the same scale.

The data may be arrays or datasets of single examples or of batches, as
Keras gives them (:mod:`~keras_collapse.data.examples`); a view function may
be a Keras preprocessing layer (:mod:`~keras_collapse.data.keras_layers`).
Images of no fixed size (a dataset whose image height or width is unknown,
e.g. decoded from files of different sizes) are augmented one example at a
time before batching, so the view function must give them one size
(``RandomResizedCrop``, ``CenterCrop``, ``keras.layers.Resizing`` do).
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data.augment import Compose, to_float
from keras_collapse.data.examples import examples_of
from keras_collapse.data.keras_layers import KerasAugment

__all__ = ["examples_of", "per_example", "two_views", "view_batches", "view_function",
           "views_map_fn"]

_SIGNATURE = "a callable (batch, seed) -> batch"


def view_function(fn, name):
    """``fn`` checked as a view function ``(batch, seed) -> batch``.

    Keras layers come back wrapped in
    :class:`~keras_collapse.data.KerasAugment`; a callable that cannot take
    the two arguments, or a ``Compose`` holding a bare Keras layer, is refused
    now rather than when tf.data traces it.

    Args:
        fn: the view function.
        name: the argument's name, for errors.

    Returns:
        A callable ``(batch, seed) -> batch``.

    >>> view_function(keras.layers.RandomFlip(name="flip"), "augment_a")
    KerasAugment(RandomFlip 'flip')
    """
    if isinstance(fn, keras.layers.Layer):
        return KerasAugment(fn)
    if not callable(fn):
        raise _checks.invalid(name, _SIGNATURE, fn, TypeError)
    if isinstance(fn, Compose):
        for op in fn.ops:
            if isinstance(op, keras.layers.Layer):
                raise _checks.invalid(
                    name, "a Compose of callables (images, seed) -> images: wrap Keras "
                    f"layers in it as kc.data.KerasAugment(layer)", fn.ops, TypeError)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none to show
        return fn
    try:
        signature.bind(None, None)
    except TypeError:
        raise _checks.invalid(
            name, f"{_SIGNATURE}, called with a batch and a seed tensor of shape (2,) (wrap a "
            "one-argument function as lambda batch, seed: fn(batch); Keras preprocessing "
            "layers are accepted as they are)", f"{fn!r} with signature {signature}",
            TypeError) from None
    return fn


def _check_batch(view, batch, name, augment):
    """Raise (statically if possible) when ``augment`` changed the batch size."""
    expected, got = batch.shape[0], view.shape[0]
    message = (
        f"Invalid value for argument `{name}`. Expected a view function that keeps "
        f"the batch size (maps a batch of N examples and a seed to N views). "
        f"Received: {name}={augment!r} returning {got} views for a batch of {expected}"
    )
    if expected is not None and got is not None:
        if expected != got:
            raise ValueError(message)
        return view
    with tf.control_dependencies(
        [tf.debugging.assert_equal(tf.shape(view)[0], tf.shape(batch)[0], message=message)]
    ):
        return tf.identity(view)


def _as_float(view):
    """uint8 views scaled to [0, 1] like the augmentations' output; other
    integer views cast to float32; float views unchanged."""
    if view.dtype == tf.uint8:
        return to_float(view)
    if view.dtype.is_integer:
        return tf.cast(view, tf.float32)
    return view


def views_map_fn(augment_a, augment_b, seed):
    """Build ``fn(step, batch) -> ((view_a, view_b),)`` for ``Dataset.map``.

    View ``v`` of the batch at ``step`` uses seed
    ``stateless_split([seed, step], 2)[v]``.

    Args:
        augment_a: callable ``(batch, seed) -> batch`` for view a, or a Keras
            preprocessing layer.
        augment_b: callable for view b, or ``None`` for ``augment_a``.
        seed: integer base seed.

    Returns:
        The mapping function.

    >>> fn = views_map_fn(lambda x, s: x + 1.0, None, seed=0)
    >>> fn(tf.constant(0, tf.int64), tf.zeros((2, 3)))[0][1].shape
    TensorShape([2, 3])
    """
    augment_a = view_function(augment_a, "augment_a")
    augment_b = augment_a if augment_b is None else view_function(augment_b, "augment_b")
    seed = int(seed)

    def fn(step, batch):
        base = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
        seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(base, 2))
        view_a = _check_batch(augment_a(batch, seed_a), batch, "augment_a", augment_a)
        view_b = _check_batch(augment_b(batch, seed_b), batch, "augment_b", augment_b)
        return ((_as_float(view_a), _as_float(view_b)),)

    return fn


def per_example(spec):
    """Whether examples of this spec are viewed one at a time: images
    ``(height, width, channels)`` whose shape is not known to be fixed.

    Args:
        spec: the ``tf.TensorSpec`` of a dataset's single examples.

    Returns:
        bool.

    >>> per_example(tf.TensorSpec((None, None, 3))), per_example(tf.TensorSpec((32, 32, 3)))
    (True, False)
    """
    return spec.shape.rank == 3 and not spec.shape.is_fully_defined()


def view_batches(examples, fn, batch_size, drop_remainder, steps):
    """Batches ``((view_a, view_b),)`` of a dataset of single examples.

    Fixed-size examples are batched, then ``fn`` (from :func:`views_map_fn`)
    maps ``zip(steps(False), batches)``; images of no fixed size
    (:func:`per_example`) are viewed one by one with one step each from
    ``steps(True)``, then batched.

    Args:
        examples: ``tf.data.Dataset`` of single examples.
        fn: ``(step, batch) -> ((view_a, view_b),)``.
        batch_size: examples per batch.
        drop_remainder: drop the last incomplete batch.
        steps: callable ``per_example -> tf.data.Dataset`` of int64 step ids,
            one per batch (``False``) or per example (``True``).

    Returns:
        A ``tf.data.Dataset`` of ``((view_a, view_b),)``.

    >>> fn = views_map_fn(lambda x, s: tf.image.resize(x, (2, 2)), None, seed=0)
    >>> sizes = tf.data.Dataset.range(1, 4).map(lambda i: tf.zeros(tf.stack([i, i, 3])))
    >>> ds = view_batches(sizes, fn, 3, False, lambda per: tf.data.Dataset.range(10 ** 6))
    >>> next(iter(ds))[0][0].shape
    TensorShape([3, 2, 2, 3])
    """
    if not per_example(examples.element_spec):
        batches = examples.batch(batch_size, drop_remainder=drop_remainder)
        return tf.data.Dataset.zip((steps(False), batches)).map(
            fn, num_parallel_calls=tf.data.AUTOTUNE)

    def one(step, x):
        ((view_a, view_b),) = fn(step, x[None])
        return ((view_a[0], view_b[0]),)

    views = tf.data.Dataset.zip((steps(True), examples)).map(
        one, num_parallel_calls=tf.data.AUTOTUNE)
    for name, spec in zip(("augment_a", "augment_b"), views.element_spec[0]):
        if not spec.shape.is_fully_defined():
            raise _checks.invalid(
                name, "a view function that gives images of different sizes one size (e.g. "
                "kc.data.RandomResizedCrop(size), kc.data.CenterCrop(size, resize=...) or "
                "keras.layers.Resizing(height, width)): the dataset's images have no fixed "
                f"size (shape {examples.element_spec.shape}), so they are viewed one by one "
                "and then batched", f"views of shape {spec.shape}")
    return views.batch(batch_size, drop_remainder=drop_remainder)


def two_views(data, augment_a, augment_b=None, batch_size=256, seed=0, shuffle=True,
              drop_remainder=True, shuffle_buffer=10_000):
    """Batched pairs of augmented views of ``data`` for ``model.fit``.

    Each element is ``((view_a, view_b),)``. Examples are shuffled (seeded,
    reshuffled every epoch), batched, and each batch is augmented twice with
    stateless seeds, so the same ``seed`` gives the same sequence of views and
    every epoch gets fresh draws. Labels, if given, are dropped. A dataset is
    streamed (never copied whole into memory): batches, as
    ``keras.utils.image_dataset_from_directory`` gives them, are unbatched,
    shuffled in a buffer and batched again with ``batch_size``; float images
    on its 0..255 scale are scaled to ``[0, 1]``
    (:func:`~keras_collapse.data.examples_of`).

    Args:
        data: array ``(num_examples, ...)``, tuple ``(x, y)`` of arrays, or a
            ``tf.data.Dataset`` of single examples or of batches (``x``,
            ``(x, y)`` or dicts with ``"image"``), of images of any size.
        augment_a: callable ``(batch, seed) -> batch`` with ``seed`` of shape
            ``(2,)``, or a Keras preprocessing layer (or ``keras.Sequential``
            of them; see :class:`~keras_collapse.data.KerasAugment`); must
            keep the batch size and give the views one size.
        augment_b: callable for view b; ``None`` uses ``augment_a`` with other
            random draws. Defaults to ``None``.
        batch_size: examples per batch. Defaults to ``256``.
        seed: integer seed of the shuffling and the views. Defaults to ``0``.
        shuffle: shuffle examples each epoch. Defaults to ``True``.
        drop_remainder: drop the last incomplete batch. Defaults to ``True``.
        shuffle_buffer: shuffle buffer for dataset input (arrays are shuffled
            fully). Defaults to ``10_000``.

    Returns:
        A prefetched ``tf.data.Dataset`` of ``((view_a, view_b),)``, each view
        ``(batch_size, ...)``.

    >>> from keras_collapse.data import simclr_augment
    >>> x = np.zeros((8, 12, 12, 3), np.uint8)
    >>> ds = two_views(x, simclr_augment(8), batch_size=4, seed=0)
    >>> [tuple(v.shape) for v in next(iter(ds))[0]]
    [(4, 8, 8, 3), (4, 8, 8, 3)]
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    fn = views_map_fn(augment_a, augment_b, seed)
    examples = examples_of(data)
    if isinstance(examples, tf.data.Dataset):
        dataset, buffer = examples, _checks.positive_int("shuffle_buffer", shuffle_buffer)
    else:
        if drop_remainder and examples.shape[0] < batch_size:
            raise _checks.invalid(
                "batch_size", f"at most the number of examples ({examples.shape[0]}) "
                "when drop_remainder=True; lower batch_size or pass drop_remainder=False",
                batch_size)
        dataset, buffer = tf.data.Dataset.from_tensor_slices(examples), examples.shape[0]
    if shuffle:
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = view_batches(
        dataset, fn, batch_size, drop_remainder,
        lambda _: tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True))
    return dataset.prefetch(tf.data.AUTOTUNE)
