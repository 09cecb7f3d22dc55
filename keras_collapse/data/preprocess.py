"""Deterministic per-example preprocessing: resize the shorter side, crop the centre."""

from __future__ import annotations

import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data.augment import _size


class CenterCrop:
    """Resize the shorter side to `resize` (aspect kept), then crop the centre `size`.

    The evaluation transform of ImageNet linear probes (resize 256, crop 224),
    and the per-example step that gives images of varying size one size
    before batching (the package's augmentations work on batches). Works on
    one image `(height, width, channels)` or a batch; `uint8` stays `uint8`
    (rounded), so shuffle buffers stay a quarter of float32's size; floats
    stay floats.

    Args:
        size: Output `(height, width)`, or an int for a square. Required.
        resize: Shorter side before cropping, or `None` to crop without
            resizing (the image must be at least `size`). Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> CenterCrop(224, resize=256)(np.zeros((300, 400, 3), np.uint8)).shape
    TensorShape([224, 224, 3])
    >>> CenterCrop(2)(np.arange(16, dtype=np.uint8).reshape(4, 4, 1))[:, :, 0].numpy()
    array([[ 5,  6],
           [ 9, 10]], dtype=uint8)
    """

    def __init__(self, size, resize=None):
        self.size = _size(size)
        self.resize = None if resize is None else _checks.positive_int("resize", resize)

    def __call__(self, images, seed=None):
        del seed  # deterministic; the argument matches the augmentations'
        images = tf.convert_to_tensor(images)
        dtype = images.dtype
        shape = tf.shape(images)
        height, width = shape[-3], shape[-2]
        if self.resize is not None:
            scale = self.resize / tf.cast(tf.minimum(height, width), tf.float32)
            height = tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32)
            width = tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32)
            images = tf.image.resize(images, tf.stack([height, width]), antialias=True)
            if dtype == tf.uint8:
                images = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
            else:
                images = tf.cast(images, dtype)
        top, left = (height - self.size[0]) // 2, (width - self.size[1]) // 2
        return tf.image.crop_to_bounding_box(images, top, left, *self.size)

    def get_config(self):
        return {"size": self.size, "resize": self.resize}

    def __repr__(self):
        return f"CenterCrop(size={self.size}, resize={self.resize})"
