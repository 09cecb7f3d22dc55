"""Two-view tf.data pipelines that ``model.fit`` consumes.

Each element is ``((view_a, view_b),)``: a 1-tuple holding the pair, so Keras
unpacks ``x = (view_a, view_b)`` and no ``y``. Augmentations see whole batches
and a seed of shape ``(2,)`` derived statelessly from ``(seed, step)`` and the
view, so views are reproducible. Views always come out as floats: a view
function that returns ``uint8`` (an identity, say) has its views scaled to
``[0, 1]`` as the package's augmentations do, so every view of a pipeline is
on the same scale.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data.augment import to_float


def examples_of(data):
    """Return the inputs of ``data``, dropping labels.

    Args:
        data: a NumPy array / tensor ``(num_examples, ...)``, a tuple
            ``(x, y)`` of arrays, or a ``tf.data.Dataset`` whose elements are
            ``x``, ``(x, y, ...)`` or a dict with an ``"image"`` key.

    Returns:
        A NumPy array or a ``tf.data.Dataset`` of single examples ``x``.

    >>> examples_of((np.zeros((3, 2)), np.arange(3))).shape
    (3, 2)
    """
    if isinstance(data, tf.data.Dataset):
        if int(data.cardinality()) == 0:
            raise _checks.invalid("data", "a non-empty dataset of examples",
                                  "an empty tf.data.Dataset (cardinality 0)")
        spec = data.element_spec
        if isinstance(spec, dict):
            if "image" not in spec:
                raise _checks.invalid(
                    "data", "a dataset of x, (x, y) or dicts with an 'image' key",
                    f"dataset of dicts with keys {sorted(spec)}")
            return data.map(lambda element: element["image"])
        if isinstance(spec, tuple):
            return data.map(lambda *element: element[0])
        return data
    if isinstance(data, (tuple, list)):
        if len(data) not in (1, 2) or not hasattr(data[0], "shape"):
            raise _checks.invalid(
                "data", "an array, a tuple (x, y) of arrays or a tf.data.Dataset",
                type(data).__name__, TypeError)
        data = data[0]
    array = np.asarray(data)
    if array.ndim < 1 or array.shape[0] == 0:
        raise _checks.invalid("data", "a non-empty array of examples", f"array of shape {array.shape}")
    return array


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
        augment_a: callable ``(batch, seed) -> batch`` for view a.
        augment_b: callable for view b, or ``None`` for ``augment_a``.
        seed: integer base seed.

    Returns:
        The mapping function.

    >>> fn = views_map_fn(lambda x, s: x + 1.0, None, seed=0)
    >>> fn(tf.constant(0, tf.int64), tf.zeros((2, 3)))[0][1].shape
    TensorShape([2, 3])
    """
    augment_b = augment_a if augment_b is None else augment_b
    for name, fn in (("augment_a", augment_a), ("augment_b", augment_b)):
        if not callable(fn):
            raise _checks.invalid(name, "a callable (batch, seed) -> batch", fn, TypeError)
    seed = int(seed)

    def fn(step, batch):
        base = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
        seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(base, 2))
        view_a = _check_batch(augment_a(batch, seed_a), batch, "augment_a", augment_a)
        view_b = _check_batch(augment_b(batch, seed_b), batch, "augment_b", augment_b)
        return ((_as_float(view_a), _as_float(view_b)),)

    return fn


def two_views(data, augment_a, augment_b=None, batch_size=256, seed=0, shuffle=True,
              drop_remainder=True, shuffle_buffer=10_000):
    """Batched pairs of augmented views of ``data`` for ``model.fit``.

    Each element is ``((view_a, view_b),)``. Examples are shuffled (seeded,
    reshuffled every epoch), batched, and each batch is augmented twice with
    stateless seeds, so the same ``seed`` gives the same sequence of views and
    every epoch gets fresh draws. Labels, if given, are dropped.

    Args:
        data: array ``(num_examples, ...)``, tuple ``(x, y)`` of arrays, or a
            ``tf.data.Dataset`` of single examples (``x``, ``(x, y)`` or dicts
            with ``"image"``).
        augment_a: callable ``(batch, seed) -> batch`` with ``seed`` of shape
            ``(2,)``; must keep the batch size.
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
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    steps = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((steps, dataset))
    return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
