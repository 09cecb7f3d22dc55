"""Two-view batches streamed from TFDS, iid or in an ordering of Li et al.

:func:`~keras_collapse.data.ordered_views` holds the data in memory (fine for
CIFAR, not for ImageNet's 1.28M images); :func:`tfds_views` reads each
epoch's subset as a TFDS split slice (`train[a:b]`), so an ImageNet run in a
continual ordering holds only a shuffle buffer.
"""

from __future__ import annotations

import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data.orderings import MultiPass, check_initial_epoch, get_ordering
from keras_collapse.data.sources import tfds as _tfds
from keras_collapse.data._stream import stream_views


def _num_examples(name, split, data_dir, max_examples):
    if max_examples is not None:
        return _checks.positive_int("max_examples", max_examples)
    import tensorflow_datasets

    info = tensorflow_datasets.builder(name, data_dir=data_dir).info
    try:
        return int(info.splits[split].num_examples)
    except KeyError:
        raise _checks.invalid(
            "split", f"a split of the prepared dataset (prepared: {sorted(info.splits)}); "
            "point data_dir at a prepared copy, or pass max_examples", split) from None


def tfds_views(name, augment_a, augment_b=None, *, batch_size, num_epochs, steps_per_epoch=None,
               ordering=None, split="train", data_dir=None, preprocess=None,
               shuffle_buffer=10_000, seed=0, initial_epoch=0, max_examples=None):
    """Batches `((view_a, view_b),)` of a TFDS image dataset, for `model.fit`.

    The fixed ordering of Li et al. is the order TFDS stores the split in
    (TFDS shuffles examples when it prepares a dataset): epoch `e` reads the
    ordering's subset (:meth:`~keras_collapse.data.Ordering.subset`) as the
    split slice `split[a:b]`, shuffles it in a buffer and repeats it to
    `steps_per_epoch` batches; `ordering=None` (or `MultiPass`) reads the
    whole split, shuffled, every epoch. Views of global step `s` use seed
    `(seed, s)` as :func:`~keras_collapse.data.ordered_views`, and a run
    resumed at `initial_epoch` reads the same subsets.

    Args:
        name: TFDS name (`"cifar10"`, `"imagenet2012"`, …), read from a
            prepared copy (:func:`~keras_collapse.data.tfds`).
        augment_a: Callable `(batch, seed) -> batch` for view a, or a Keras
            preprocessing layer.
        augment_b: Callable for view b, `None` for `augment_a`. Defaults to `None`.
        batch_size: Examples per batch (the global batch). Required.
        num_epochs: Epochs of the run (`E`, the number of chunks). Required.
        steps_per_epoch: Batches per epoch. Defaults to
            `num_examples // batch_size`.
        ordering: An :class:`~keras_collapse.data.Ordering` (`order="random"`:
            the stored order), a registered name, or `None` for iid.
            Defaults to `None`.
        split: TFDS split. Defaults to `"train"`.
        data_dir: Directory of the prepared dataset, `None` for TFDS' default.
            Defaults to `None`.
        preprocess: Per-example callable `image -> image` applied before
            batching (e.g. :class:`~keras_collapse.data.CenterCrop` to give
            ImageNet's images one size), or `None`; without it, images of
            different sizes are viewed one at a time before batching.
            Defaults to `None`.
        shuffle_buffer: Shuffle buffer in examples. Defaults to `10_000`.
        seed: Integer seed of the shuffles and the views. Defaults to `0`.
        initial_epoch: First epoch to produce (to resume). Defaults to `0`.
        max_examples: Use only the first `max_examples` of the split
            (`N`), or `None` for all. Defaults to `None`.

    Returns:
        A `tf.data.Dataset` of `(num_epochs - initial_epoch) * steps_per_epoch`
        batches `((view_a, view_b),)`.

    Example:

    >>> import tensorflow_datasets
    >>> from keras_collapse.data import simclr_augment
    >>> with tensorflow_datasets.testing.mock_data(num_examples=16):
    ...     ds = tfds_views("cifar10", simclr_augment(32), batch_size=4, num_epochs=2,
    ...                     ordering="single_pass", max_examples=16)
    ...     views = next(iter(ds))[0]
    >>> int(ds.cardinality()), tuple(views[0].shape)
    (8, (4, 32, 32, 3))
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    num_epochs = _checks.positive_int("num_epochs", num_epochs)
    shuffle_buffer = _checks.positive_int("shuffle_buffer", shuffle_buffer)
    ordering = MultiPass() if ordering is None else get_ordering(ordering)
    if ordering.order != "random":
        raise _checks.invalid(
            "ordering", 'an ordering with order="random" (a stream is read in its stored '
            'order; for order="class" load the data and use kc.data.ordered_views)', ordering)
    check_initial_epoch(initial_epoch, num_epochs)
    if preprocess is not None and not callable(preprocess):
        raise _checks.invalid("preprocess", "a callable image -> image, or None", preprocess,
                              TypeError)
    num_examples = _num_examples(name, split, data_dir, max_examples)
    if steps_per_epoch is None:
        steps_per_epoch = max(1, num_examples // batch_size)
    steps_per_epoch = _checks.positive_int("steps_per_epoch", steps_per_epoch)

    def read(subset):
        data = _tfds(name, split=f"{split}[{subset.start}:{subset.stop}]", data_dir=data_dir)
        data = data.take(subset.stop - subset.start).map(lambda image, label: image)
        if preprocess is not None:
            data = data.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        return data

    return stream_views(read, num_examples, ordering, augment_a, augment_b,
                        batch_size=batch_size, num_epochs=num_epochs,
                        steps_per_epoch=steps_per_epoch, shuffle_buffer=shuffle_buffer, seed=seed,
                        initial_epoch=initial_epoch)
