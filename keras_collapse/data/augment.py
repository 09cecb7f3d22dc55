"""Batched, seeded image augmentations and the SimCLR and BYOL recipes.

Every augmentation is a small callable object ``op(images, seed) -> images``:
``images`` is a whole batch ``(batch_size, height, width, channels)`` (``uint8``
is converted to ``float32`` in ``[0, 1]``, floats are cast to ``float32`` and
assumed in ``[0, 1]``) and ``seed`` an integer tensor of shape ``(2,)``. Each
example gets its own random parameters, drawn with ``tf.random.stateless_*``
from ``seed``, so the same seed always gives the same batch.

Single-channel (grayscale) images work with every op: saturation and hue
jitter and random grayscale are skipped for them, which is exactly what they
would do to a gray image tiled to RGB (its saturation is 0, so both leave it
unchanged), and the output keeps one channel.

A probability of 0 is exactly the identity (after the ``uint8`` to ``float32``
conversion).

References: SimCLR, Chen et al. 2020 (arXiv 2002.05709, Appendix A); BYOL,
Grill et al. 2020 (arXiv 2006.07733, Table 6).
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_collapse import _checks

_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def to_float(images):
    """Convert a batch to ``float32``; ``uint8`` is scaled to ``[0, 1]``.

    Args:
        images: ``(batch_size, height, width, channels)`` tensor or array.

    Returns:
        The batch as ``float32``.

    >>> import numpy as np
    >>> float(to_float(np.full((1, 2, 2, 1), 255, np.uint8)).numpy().max())
    1.0
    """
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def _seeds(seed, num):
    """Split one ``(2,)`` seed into ``num`` independent ``(2,)`` seeds."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(seed, num))


def _uniform(seed, batch, low, high):
    return tf.random.stateless_uniform([batch], seed, low, high)


def _apply_with_probability(images, transformed, probability, seed):
    """Keep ``transformed`` for a random ``probability`` share of examples."""
    if probability >= 1.0:
        return transformed
    batch = tf.shape(images)[0]
    keep = _uniform(seed, batch, 0.0, 1.0) < probability
    return tf.where(keep[:, None, None, None], transformed, images)


def _grayscale(images):
    weights = tf.constant(_GRAY_WEIGHTS, tf.float32)
    return tf.reduce_sum(images * weights, axis=-1, keepdims=True)


def _range(name, value, low_bound=0.0):
    """Check a ``(low, high)`` pair with ``low_bound <= low <= high``."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _checks.invalid(name, "a pair (low, high) of floats", value, TypeError)
    if not low_bound <= low <= high:
        raise _checks.invalid(name, f"a pair with {low_bound} <= low <= high", value)
    return (low, high)


def _size(value):
    if isinstance(value, int):
        value = (value, value)
    try:
        height, width = (_checks.positive_int("size", int(v)) for v in value)
    except (TypeError, ValueError):
        raise _checks.invalid("size", "a positive int or (height, width)", value)
    return (height, width)


class RandomResizedCrop:
    """Crop a random area and aspect ratio, then resize to ``size``.

    Per example an area fraction ``a ~ U(scale)`` and a log-uniform aspect ratio
    ``r`` (in ``ratio``) give a box of ``sqrt(a*H*W*r)`` by ``sqrt(a*H*W/r)``
    pixels (clipped to the image), placed uniformly at random and resized
    bilinearly. Clipping replaces torchvision's rejection loop, which keeps the
    op fully vectorised.

    Args:
        size: output ``(height, width)`` or an int for a square. Required.
        scale: range of the cropped area fraction. Defaults to ``(0.08, 1.0)``.
        ratio: range of the width/height aspect ratio.
            Defaults to ``(3/4, 4/3)``.

    >>> import numpy as np
    >>> op = RandomResizedCrop(16)
    >>> op(np.zeros((4, 32, 32, 3), np.uint8), seed=[0, 1]).shape
    TensorShape([4, 16, 16, 3])
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size = _size(size)
        self.scale = _range("scale", scale)
        if self.scale[1] > 1.0 or self.scale[1] == 0.0:
            raise _checks.invalid("scale", "a pair with 0 <= low <= high <= 1, high > 0", scale)
        self.ratio = _range("ratio", ratio)
        if self.ratio[0] <= 0:
            raise _checks.invalid("ratio", "a pair of positive floats", ratio)

    def __call__(self, images, seed):
        images = to_float(images)
        shape = tf.shape(images)
        batch = shape[0]
        height = tf.cast(shape[1], tf.float32)
        width = tf.cast(shape[2], tf.float32)
        s_area, s_ratio, s_y, s_x = _seeds(seed, 4)
        area = _uniform(s_area, batch, *self.scale) * height * width
        log_ratio = _uniform(s_ratio, batch, math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = tf.exp(log_ratio)
        crop_w = tf.minimum(tf.sqrt(area * aspect) / width, 1.0)
        crop_h = tf.minimum(tf.sqrt(area / aspect) / height, 1.0)
        y0 = _uniform(s_y, batch, 0.0, 1.0) * (1.0 - crop_h)
        x0 = _uniform(s_x, batch, 0.0, 1.0) * (1.0 - crop_w)
        boxes = tf.stack([y0, x0, y0 + crop_h, x0 + crop_w], axis=1)
        crops = tf.image.crop_and_resize(
            images, boxes, tf.range(batch), self.size, method="bilinear"
        )
        return tf.clip_by_value(crops, 0.0, 1.0)


class RandomFlip:
    """Flip each example left-right with probability ``probability``.

    Args:
        probability: chance of flipping an example. Defaults to ``0.5``.

    >>> import numpy as np
    >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    >>> RandomFlip(1.0)(x, seed=[0, 0]).numpy().ravel().tolist()
    [3.0, 2.0, 1.0, 0.0]
    """

    def __init__(self, probability=0.5):
        self.probability = _checks.probability("probability", probability)

    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        flipped = tf.reverse(images, axis=[2])
        return _apply_with_probability(images, flipped, self.probability, seed)


class ColorJitter:
    """Randomly change brightness, contrast, saturation and hue.

    With probability ``probability`` an example gets, in this fixed order
    (torchvision draws a random order; a fixed one keeps the op vectorised),
    each followed by clipping to ``[0, 1]``:

    * brightness: ``x * b`` with ``b ~ U(max(0, 1 - brightness), 1 + brightness)``;
    * contrast: ``mean(gray(x)) + c * (x - mean(gray(x)))``, ``c`` likewise;
    * saturation: ``gray(x) + s * (x - gray(x))``, ``s`` likewise;
    * hue: rotate the HSV hue by ``h ~ U(-hue, hue)`` (``hue <= 0.5``).

    Saturation and hue are skipped for single-channel images (they leave gray
    images unchanged).

    Args:
        brightness: brightness strength. Defaults to ``0.8``.
        contrast: contrast strength. Defaults to ``0.8``.
        saturation: saturation strength. Defaults to ``0.8``.
        hue: hue strength, at most ``0.5``. Defaults to ``0.2``.
        probability: chance of jittering an example. Defaults to ``0.8``.

    >>> import numpy as np
    >>> op = ColorJitter(probability=1.0)
    >>> op(np.full((2, 4, 4, 3), 0.5, np.float32), seed=[0, 2]).shape
    TensorShape([2, 4, 4, 3])
    """

    def __init__(self, brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2,
                 probability=0.8):
        self.brightness = _checks.non_negative_float("brightness", brightness)
        self.contrast = _checks.non_negative_float("contrast", contrast)
        self.saturation = _checks.non_negative_float("saturation", saturation)
        self.hue = _checks.non_negative_float("hue", hue)
        if self.hue > 0.5:
            raise _checks.invalid("hue", "a float in [0, 0.5]", hue)
        self.probability = _checks.probability("probability", probability)

    @staticmethod
    def _factor(seed, batch, strength):
        return _uniform(seed, batch, max(0.0, 1.0 - strength), 1.0 + strength)[
            :, None, None, None
        ]

    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        s_b, s_c, s_s, s_h, s_p = _seeds(seed, 5)
        batch = tf.shape(images)[0]
        rgb = images.shape[-1] == 3
        out = images
        if self.brightness > 0:
            out = tf.clip_by_value(out * self._factor(s_b, batch, self.brightness), 0.0, 1.0)
        if self.contrast > 0:
            gray = _grayscale(out) if rgb else out
            mean = tf.reduce_mean(gray, axis=[1, 2, 3], keepdims=True)
            factor = self._factor(s_c, batch, self.contrast)
            out = tf.clip_by_value(mean + factor * (out - mean), 0.0, 1.0)
        if rgb and self.saturation > 0:
            gray = _grayscale(out)
            factor = self._factor(s_s, batch, self.saturation)
            out = tf.clip_by_value(gray + factor * (out - gray), 0.0, 1.0)
        if rgb and self.hue > 0:
            hsv = tf.image.rgb_to_hsv(out)
            delta = _uniform(s_h, batch, -self.hue, self.hue)[:, None, None]
            hue = tf.math.floormod(hsv[..., 0] + delta, 1.0)
            out = tf.image.hsv_to_rgb(tf.stack([hue, hsv[..., 1], hsv[..., 2]], -1))
            out = tf.clip_by_value(out, 0.0, 1.0)
        return _apply_with_probability(images, out, self.probability, s_p)


class RandomGrayscale:
    """Turn an example gray (kept 3-channel) with probability ``probability``.

    Uses the ITU-R 601 luma ``0.2989 r + 0.587 g + 0.114 b``; single-channel
    images are already gray and pass through unchanged.

    Args:
        probability: chance of graying an example. Defaults to ``0.2``.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    >>> y = RandomGrayscale(1.0)(x, seed=[0, 0]).numpy()
    >>> bool(np.allclose(y[..., 0], y[..., 2]))
    True
    """

    def __init__(self, probability=0.2):
        self.probability = _checks.probability("probability", probability)

    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0 or images.shape[-1] == 1:
            return images
        gray = tf.tile(_grayscale(images), [1, 1, 1, 3])
        return _apply_with_probability(images, gray, self.probability, seed)


class GaussianBlur:
    """Blur with a Gaussian of random ``sigma`` with probability ``probability``.

    Per example ``sigma ~ U(sigma_range)`` (in pixels); the separable kernel has
    ``2 * (kernel_size // 2) + 1`` taps, ``kernel_size`` defaulting to 10% of
    the image height as in SimCLR, with reflect padding.

    Args:
        probability: chance of blurring an example. Defaults to ``0.5``.
        sigma: range of the standard deviation in pixels.
            Defaults to ``(0.1, 2.0)``.
        kernel_size: kernel size in pixels, or ``None`` for 10% of the image
            height (at least 3). Defaults to ``None``.

    >>> import numpy as np
    >>> x = np.zeros((2, 8, 8, 1), np.float32)
    >>> x[:, 4, 4] = 1.0
    >>> y = GaussianBlur(1.0, sigma=(1.0, 1.0))(x, seed=[0, 0]).numpy()
    >>> bool(y[0, 4, 4, 0] < 1.0), round(float(y[0].sum()), 3)
    (True, 1.0)
    """

    def __init__(self, probability=0.5, sigma=(0.1, 2.0), kernel_size=None):
        self.probability = _checks.probability("probability", probability)
        self.sigma = _range("sigma", sigma)
        if self.sigma[0] <= 0:
            raise _checks.invalid("sigma", "a pair of positive floats", sigma)
        if kernel_size is not None:
            kernel_size = _checks.positive_int("kernel_size", kernel_size)
        self.kernel_size = kernel_size

    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        s_sigma, s_p = _seeds(seed, 2)
        height, width, channels = images.shape[1:]
        kernel_size = self.kernel_size or max(3, int(0.1 * height))
        radius = min(kernel_size // 2, height - 1, width - 1)
        batch = tf.shape(images)[0]
        sigma = _uniform(s_sigma, batch, *self.sigma)
        taps = tf.range(-radius, radius + 1, dtype=tf.float32)
        kernel = tf.exp(-(taps[None, :] ** 2) / (2.0 * sigma[:, None] ** 2))
        kernel = kernel / tf.reduce_sum(kernel, axis=1, keepdims=True)  # (B, K)
        # One depthwise convolution with a different kernel per example: move
        # the batch into the channel axis.
        stacked = tf.transpose(images, [1, 2, 0, 3])  # (H, W, B, C)
        stacked = tf.reshape(stacked, [1, height, width, -1])
        per_channel = tf.reshape(tf.repeat(kernel, channels, axis=0), [-1, 2 * radius + 1])
        k_t = tf.transpose(per_channel)  # (K, B*C)
        pad = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
        out = tf.pad(stacked, pad, mode="REFLECT")
        out = tf.nn.depthwise_conv2d(out, k_t[:, None, :, None], [1, 1, 1, 1], "VALID")
        out = tf.nn.depthwise_conv2d(out, k_t[None, :, :, None], [1, 1, 1, 1], "VALID")
        out = tf.reshape(out, [height, width, batch, channels])
        blurred = tf.clip_by_value(tf.transpose(out, [2, 0, 1, 3]), 0.0, 1.0)
        return _apply_with_probability(images, blurred, self.probability, s_p)


class RandomSolarize:
    """Invert pixels above ``threshold`` (``x -> 1 - x``) with some probability.

    Args:
        probability: chance of solarising an example. Defaults to ``0.2``.
        threshold: pixels ``>= threshold`` are inverted. Defaults to ``0.5``.

    >>> import numpy as np
    >>> x = np.array([0.2, 0.8], np.float32).reshape(1, 1, 2, 1)
    >>> [round(float(v), 2) for v in RandomSolarize(1.0)(x, seed=[0, 0]).numpy().ravel()]
    [0.2, 0.2]
    """

    def __init__(self, probability=0.2, threshold=0.5):
        self.probability = _checks.probability("probability", probability)
        self.threshold = _checks.probability("threshold", threshold)

    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        solarized = tf.where(images >= self.threshold, 1.0 - images, images)
        return _apply_with_probability(images, solarized, self.probability, seed)


class Compose:
    """Apply augmentations in order, each with its own split of the seed.

    Args:
        ops: sequence of callables ``(images, seed) -> images``.

    >>> import numpy as np
    >>> op = Compose([RandomResizedCrop(8), RandomFlip()])
    >>> op(np.zeros((3, 16, 16, 3), np.uint8), seed=[1, 2]).shape
    TensorShape([3, 8, 8, 3])
    """

    def __init__(self, ops):
        self.ops = list(ops)
        for op in self.ops:
            if not callable(op):
                raise _checks.invalid("ops", "a sequence of callables", ops, TypeError)

    def __call__(self, images, seed):
        images = to_float(images)
        if not self.ops:
            return images
        for op, op_seed in zip(self.ops, _seeds(seed, len(self.ops))):
            images = op(images, op_seed)
        return images


def simclr_augment(size, strength=1.0, blur_probability=0.5, scale=(0.08, 1.0)):
    """The SimCLR view: crop, flip, colour jitter, grayscale, optional blur.

    Chen et al. 2020 (arXiv 2002.05709, Appendix A): random resized crop
    (``scale``), horizontal flip (p=0.5), colour jitter with brightness,
    contrast, saturation ``0.8 * strength`` and hue ``0.2 * strength``
    (p=0.8), grayscale (p=0.2), Gaussian blur (sigma in ``[0.1, 2]``, kernel
    10% of the size). SimCLR blurs ImageNet (p=0.5) but not CIFAR-10 (use
    ``blur_probability=0``).

    Args:
        size: output size, int or ``(height, width)``. Required.
        strength: colour-jitter strength ``s``. Defaults to ``1.0``.
        blur_probability: chance of the blur. Defaults to ``0.5``.
        scale: crop area range. Defaults to ``(0.08, 1.0)``.

    Returns:
        A :class:`Compose` callable ``(images, seed) -> images``.

    >>> import numpy as np
    >>> aug = simclr_augment(32)
    >>> aug(np.zeros((2, 40, 40, 3), np.uint8), seed=[0, 0]).shape
    TensorShape([2, 32, 32, 3])
    """
    s = _checks.non_negative_float("strength", strength)
    return Compose([
        RandomResizedCrop(size, scale=scale),
        RandomFlip(0.5),
        ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.5, 0.2 * s), probability=0.8),
        RandomGrayscale(0.2),
        GaussianBlur(blur_probability),
    ])


_BYOL_VIEWS = {"a": (1.0, 0.0), "b": (0.1, 0.2)}


def byol_augment(size, view="a", scale=(0.08, 1.0)):
    """One of BYOL's two asymmetric views.

    Grill et al. 2020 (arXiv 2006.07733, Table 6): random resized crop, flip
    (p=0.5), colour jitter (brightness 0.4, contrast 0.4, saturation 0.2, hue
    0.1, p=0.8), grayscale (p=0.2), then Gaussian blur (sigma in ``[0.1, 2]``)
    with p=1.0 for view ``"a"`` and p=0.1 for view ``"b"``, and solarisation
    with p=0.0 for view ``"a"`` and p=0.2 for view ``"b"``.

    Args:
        size: output size, int or ``(height, width)``. Required.
        view: ``"a"`` or ``"b"``. Defaults to ``"a"``.
        scale: crop area range. Defaults to ``(0.08, 1.0)``.

    Returns:
        A :class:`Compose` callable ``(images, seed) -> images``.

    >>> import numpy as np
    >>> aug = byol_augment(16, view="b")
    >>> aug(np.zeros((2, 32, 32, 3), np.uint8), seed=[0, 0]).shape
    TensorShape([2, 16, 16, 3])
    """
    blur, solarize = _BYOL_VIEWS[_checks.one_of("view", view, set(_BYOL_VIEWS))]
    return Compose([
        RandomResizedCrop(size, scale=scale),
        RandomFlip(0.5),
        ColorJitter(0.4, 0.4, 0.2, 0.1, probability=0.8),
        RandomGrayscale(0.2),
        GaussianBlur(blur),
        RandomSolarize(solarize),
    ])
