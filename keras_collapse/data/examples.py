"""The data the two-view pipelines take, turned into single examples.

The pipelines shuffle and batch single examples themselves. What they are
given may be:

* an array `(num_examples, ...)` or a tuple `(x, y)` of arrays;
* a `tf.data.Dataset` of single examples: `x`, `(x, y, ...)` or dicts with an
  `"image"` key (TFDS);
* a `tf.data.Dataset` of batches as Keras gives them:
  `keras.utils.image_dataset_from_directory(...)` yields batches of images
  `(batch, height, width, channels)`, with labels `(images, labels)` or
  without (`labels=None`). Elements of rank 4 (image batches), and of rank 2
  with an unknown first dimension (batches of vectors), are read as batches
  and unbatched, so no copy of the whole set is made.

Labels are dropped. Images keep their dtype, except float images on Keras'
0..255 scale (what `image_dataset_from_directory` gives): float images whose
values lie in `[0, 255]` and exceed 1 (in the first 256 examples of a
dataset, or anywhere in an array) are scaled to `[0, 1]`, the scale the
package's augmentations and views use; `uint8` images are scaled by the
augmentations themselves.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_collapse import _checks

#: How many examples of a dataset are read to tell 0..255 float images from [0, 1] ones.
SCALE_PROBE = 256
_IMAGE_CHANNELS = (1, 3, 4)


def _without_labels(data):
    """A dataset's `x`: the `"image"` of dicts, the first part of tuples."""
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


def _is_batched(spec):
    """Whether dataset elements of this `tf.TensorSpec` are batches: image
    batches (rank 4) or vector batches (rank 2, unknown first dimension)."""
    shape = spec.shape
    return shape.rank == 4 or (shape.rank == 2 and shape[0] is None)


def _is_image(spec):
    """Whether single examples of this spec are images `(height, width, channels)`."""
    return spec.shape.rank == 3 and spec.shape[-1] in _IMAGE_CHANNELS


def _on_255_scale(low, high):
    return low >= 0.0 and 1.0 < high <= 255.0


def _scaled_dataset(examples):
    spec = examples.element_spec
    if not (_is_image(spec) and spec.dtype.is_floating):
        return examples
    low, high = examples.take(SCALE_PROBE).reduce(
        (tf.constant(np.inf, spec.dtype), tf.constant(-np.inf, spec.dtype)),
        lambda bounds, x: (tf.minimum(bounds[0], tf.reduce_min(x)),
                           tf.maximum(bounds[1], tf.reduce_max(x))))
    if not _on_255_scale(float(low), float(high)):
        return examples
    return examples.map(lambda x: tf.cast(x, tf.float32) / 255.0)


def _scaled_array(array):
    if (array.ndim == 4 and array.shape[-1] in _IMAGE_CHANNELS
            and np.issubdtype(array.dtype, np.floating)
            and _on_255_scale(float(array.min()), float(array.max()))):
        return (array / 255.0).astype(np.float32)
    return array


def examples_of(data):
    """Return the single examples of ``data``, without labels.

    Args:
        data: a NumPy array / tensor ``(num_examples, ...)``, a tuple
            ``(x, y)`` of arrays, or a ``tf.data.Dataset`` whose elements are
            ``x``, ``(x, y, ...)`` or dicts with an ``"image"`` key, single
            examples or batches (e.g. from
            ``keras.utils.image_dataset_from_directory``).

    Returns:
        A NumPy array or a ``tf.data.Dataset`` of single examples ``x``; float
        images on the 0..255 scale come back scaled to ``[0, 1]``.

    >>> examples_of((np.zeros((3, 2)), np.arange(3))).shape
    (3, 2)
    >>> batches = tf.data.Dataset.from_tensor_slices(np.full((5, 4, 4, 3), 255.0)).batch(2)
    >>> x = examples_of(batches.map(lambda images: (images, 0)))
    >>> x.element_spec.shape, float(next(iter(x)).numpy().max())
    (TensorShape([4, 4, 3]), 1.0)
    """
    if isinstance(data, tf.data.Dataset):
        if int(data.cardinality()) == 0:
            raise _checks.invalid("data", "a non-empty dataset of examples",
                                  "an empty tf.data.Dataset (cardinality 0)")
        data = _without_labels(data)
        if _is_batched(data.element_spec):
            data = data.unbatch()
        return _scaled_dataset(data)
    if isinstance(data, (tuple, list)):
        if len(data) not in (1, 2) or not hasattr(data[0], "shape"):
            raise _checks.invalid(
                "data", "an array, a tuple (x, y) of arrays or a tf.data.Dataset",
                type(data).__name__, TypeError)
        data = data[0]
    array = np.asarray(data)
    if array.ndim < 1 or array.shape[0] == 0:
        raise _checks.invalid("data", "a non-empty array of examples", f"array of shape {array.shape}")
    return _scaled_array(array)


def count(examples):
    """The number of examples of a finite dataset.

    Its cardinality when known, else counted by reading it once.

    Args:
        examples: a ``tf.data.Dataset``.

    Returns:
        The number of elements, an int >= 1.

    Raises:
        ValueError: for an infinite dataset or one that yields nothing.

    >>> count(tf.data.Dataset.range(10).filter(lambda i: i % 2 == 0))
    5
    """
    cardinality = int(examples.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise _checks.invalid("data", "a finite dataset of examples",
                              "an infinite tf.data.Dataset (e.g. from .repeat())")
    if cardinality < 0:
        cardinality = int(examples.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    if cardinality == 0:
        raise _checks.invalid("data", "a non-empty dataset of examples",
                              "a tf.data.Dataset that yielded no examples")
    return cardinality
