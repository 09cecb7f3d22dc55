"""Deterministic batched image functions, one parameter per example.

The counterparts of ``torchvision.transforms.functional`` (tensor backend) and
of the PIL filters that the SSL recipes call (solo-learn, lightly, MoCo v3,
DirectCLR, Li et al.), on a batch ``(batch_size, height, width, channels)`` of
float images in ``[0, 1]`` (``uint8`` is scaled to ``[0, 1]``). Parameters are
a scalar or one value per example, shape ``(batch_size,)``. The random
augmentations of :mod:`keras_collapse.data.augment` draw the parameters and
call these functions.

Resampling (crop-resize and blur) is a separable linear map: each example gets
its own ``(out, in)`` weight matrix per axis, and the batch is mapped with two
``einsum`` s, so the functions vectorise over the batch and compile with XLA.

Sources, cited by file and line below: torchvision 0.29.1 (git 1f1a920d685d),
``torchvision/transforms/_functional_tensor.py``; Pillow (git 4e5f09f533db),
``src/libImaging/Resample.c`` and ``src/libImaging/BoxBlur.c``.
"""

from __future__ import annotations

import tensorflow as tf

from keras_collapse import _checks

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
INTERPOLATIONS = ("bilinear", "bicubic")
_BICUBIC_A = -0.5  # Resample.c L51; torch's antialiased bicubic uses the same
# The functions have static Python control flow only: AutoGraph need not
# convert them (tracing inside tf.function is about 4x faster).
_no_autograph = tf.autograph.experimental.do_not_convert


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


def _column(value, ndim=4):
    """A scalar or ``(batch,)`` parameter shaped to broadcast over images."""
    return tf.reshape(tf.cast(value, tf.float32), [-1] + [1] * (ndim - 1))


def _separable(images, rows, cols):
    """``rows[b] @ images[b] @ cols[b]^T`` per channel: rows ``(B, OH, H)``, cols ``(B, OW, W)``."""
    out = tf.einsum("bih,bhwc->biwc", rows, images)
    return tf.einsum("bjw,biwc->bijc", cols, out)


# ------------------------------------------------------------------ resizing
def _resample_filter(t, interpolation):
    t = tf.abs(t)
    if interpolation == "bilinear":  # Resample.c L22-30, support 1
        return tf.maximum(1.0 - t, 0.0)
    a = _BICUBIC_A  # Resample.c L48-63, support 2
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = (((t - 5.0) * t + 8.0) * t - 4.0) * a
    return tf.where(t < 1.0, near, tf.where(t < 2.0, far, 0.0))


def _resample_matrix(start, length, in_size, out_size, interpolation):
    """``(B, out_size, in_size)`` weights resizing ``[start, start + length)`` to ``out_size``.

    PIL's ``precompute_coeffs`` (Resample.c L183-265) on the cropped segment:
    output pixel ``i`` is centred at ``(i + 0.5) * scale`` with
    ``scale = length / out_size``; the filter is stretched by
    ``max(scale, 1)`` (antialiasing when shrinking); weights outside the crop
    are dropped and the rest renormalised.
    """
    start = tf.cast(start, tf.float32)[:, None, None]
    length = tf.cast(length, tf.float32)[:, None, None]
    scale = length / float(out_size)
    stretch = tf.maximum(scale, 1.0)
    center = (tf.range(out_size, dtype=tf.float32)[None, :, None] + 0.5) * scale
    source = tf.cast(tf.range(in_size), tf.float32)[None, None, :] - start
    weights = _resample_filter((source + 0.5 - center) / stretch, interpolation)
    weights = tf.where((source >= 0.0) & (source < length), weights, 0.0)
    return weights / tf.reduce_sum(weights, axis=-1, keepdims=True)


@_no_autograph
def resized_crop(images, boxes, size, interpolation="bilinear"):
    """Crop one box per example and resize it, as torchvision and PIL do.

    ``torchvision.transforms.functional.resized_crop(img, top, left, height,
    width, size, interpolation, antialias=True)``: the crop's pixels are
    resampled with PIL's filters (triangle for ``"bilinear"``, Keys cubic with
    ``a = -0.5`` for ``"bicubic"``), widened by the shrink factor when the
    output is smaller than the crop (antialiasing), at half-pixel centres;
    only pixels inside the box contribute. torch's antialiased ``interpolate``
    and PIL's ``Image.resize`` agree with this to float precision. The result
    is clipped to ``[0, 1]`` (bicubic overshoots; PIL clips it to ``uint8``).

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        boxes: ``(batch_size, 4)`` integer ``(top, left, height, width)`` per
            example, inside the image.
        size: output ``(height, width)``.
        interpolation: ``"bilinear"`` or ``"bicubic"``. Defaults to
            ``"bilinear"``.

    Returns:
        ``(batch_size, size[0], size[1], channels)`` float32 images.

    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) / 15
    >>> y = resized_crop(x, [[0, 0, 2, 2]], (1, 1)).numpy()
    >>> round(float(y[0, 0, 0, 0]) * 15, 4)  # mean of the top-left 2x2
    2.5
    """
    interpolation = _checks.one_of("interpolation", interpolation, set(INTERPOLATIONS))
    images = to_float(images)
    boxes = tf.cast(tf.convert_to_tensor(boxes), tf.int32)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = _resample_matrix(boxes[:, 0], boxes[:, 2], height, size[0], interpolation)
    cols = _resample_matrix(boxes[:, 1], boxes[:, 3], width, size[1], interpolation)
    return tf.clip_by_value(_separable(images, rows, cols), 0.0, 1.0)


# ------------------------------------------------------------------ blurring
def _pil_box_radius(sigma):
    """PIL's ``_gaussian_blur_radius(sigma, passes=3)`` (BoxBlur.c L305-320).

    The extended box of Gwosdek et al. (2011) whose three passes have the
    variance ``sigma**2``: integer radius ``l`` and fractional part ``a``.
    """
    sigma2 = sigma * sigma / 3.0
    box = tf.sqrt(12.0 * sigma2 + 1.0)
    whole = tf.floor((box - 1.0) / 2.0)
    part = (2.0 * whole + 1.0) * (whole * (whole + 1.0) - 3.0 * sigma2)
    part /= 6.0 * (sigma2 - (whole + 1.0) ** 2)
    return whole + part


def _pil_box_matrix(radius, size):
    """``(B, size, size)`` matrix of one PIL box pass (BoxBlur.c L8-103, L171-234).

    Radius ``R = r + a``: weight ``1 / (2R + 1)`` on the ``2r + 1`` central
    taps and ``a / (2R + 1)`` on the two next ones (``ww`` and ``fw``,
    L178-179); pixels beyond the edges repeat the edge pixel (L40-58), so the
    edge columns collect the kernel's tails.
    """
    if size == 1:
        return tf.ones([tf.shape(radius)[0], 1, 1])
    whole = tf.floor(radius)[:, None, None]
    inner = 1.0 / (2.0 * radius[:, None, None] + 1.0)
    outer = (radius[:, None, None] - whole) * inner
    index = tf.range(size, dtype=tf.float32)
    x, y = index[:, None], index[None, :]

    def cdf(t):  # sum of the kernel's weights at offsets <= t
        return (outer * tf.cast(t >= -whole - 1.0, tf.float32)
                + inner * tf.clip_by_value(t + whole + 1.0, 0.0, 2.0 * whole + 1.0)
                + outer * tf.cast(t >= whole + 1.0, tf.float32))

    offset = tf.abs(y - x)
    middle = (inner * tf.cast(offset <= whole, tf.float32)
              + outer * tf.cast(tf.equal(offset, whole + 1.0), tf.float32))
    left = cdf(-x)
    right = 1.0 - cdf(size - 2.0 - x)
    return tf.where(tf.equal(y, 0.0), left, tf.where(tf.equal(y, size - 1.0), right, middle))


def _gaussian_matrix(sigma, kernel_size, size):
    """``(B, size, size)`` matrix of torchvision's Gaussian kernel with reflect padding.

    ``_get_gaussian_kernel1d`` (L727-734: ``exp(-x**2 / (2 sigma**2))`` at the
    integer offsets, normalised) and ``gaussian_blur``'s ``reflect`` padding
    (L758-759), which mirrors without repeating the edge pixel.
    """
    half = kernel_size // 2
    offsets = tf.range(-half, half + 1)
    taps = tf.cast(offsets, tf.float32)[None, :]
    kernel = tf.exp(-0.5 * (taps / sigma[:, None]) ** 2)
    kernel /= tf.reduce_sum(kernel, axis=1, keepdims=True)  # (B, K)
    if size == 1:
        return tf.ones([tf.shape(sigma)[0], 1, 1])
    period = 2 * (size - 1)
    source = tf.math.floormod(tf.range(size)[:, None] + offsets[None, :], period)
    source = tf.where(source > size - 1, period - source, source)  # (size, K)
    return tf.einsum("bk,xky->bxy", kernel, tf.one_hot(source, size))


@_no_autograph
def gaussian_blur(images, sigma, kernel_size=None):
    """Blur each example with its own ``sigma``, as PIL or torchvision do.

    ``kernel_size=None``: PIL's ``ImageFilter.GaussianBlur(radius=sigma)``,
    which solo-learn (``solo/data/pretrain_dataloader.py`` L101-102), lightly
    (``lightly/transforms/gaussian_blur.py`` L76), MoCo v3 (``moco/loader.py``
    L34), DirectCLR (``directclr/utils.py`` L111-112) and Li et al. call:
    three passes of an extended box filter whose variance is ``sigma**2``
    (``radius`` is PIL's name for the standard deviation), edges repeated, at
    any image size. PIL rounds to ``uint8`` after each of its six 1-D passes;
    this function does not (it matches PIL within ``6 * 0.5 / 255``).

    ``kernel_size=k`` (odd): ``torchvision.transforms.GaussianBlur(k, sigma)``
    on tensors: a sampled Gaussian of ``k`` taps with reflect padding
    (SimCLR's TensorFlow code, ``data_util.py`` L413, samples ``k = height //
    10`` taps, with zero padding).

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        sigma: standard deviation in pixels (``> 0``), a scalar or
            ``(batch_size,)``.
        kernel_size: ``None`` for PIL's blur, or an odd kernel size.
            Defaults to ``None``.

    Returns:
        The blurred float32 batch, same shape.

    >>> import numpy as np
    >>> x = np.zeros((1, 9, 9, 1), np.float32)
    >>> x[0, 4, 4] = 1.0
    >>> y = gaussian_blur(x, 1.0).numpy()[0, :, :, 0]
    >>> round(float(y.sum()), 4), bool(y[4, 4] == y.max())
    (1.0, True)
    """
    images = to_float(images)
    if kernel_size is not None:
        kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise _checks.invalid("kernel_size", "an odd positive integer or None", kernel_size)
    batch = tf.shape(images)[0]
    sigma = tf.broadcast_to(tf.cast(sigma, tf.float32), [batch])
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise _checks.invalid("images", "a batch with a known height and width",
                              f"tensor of shape {tuple(images.shape)}")
    if kernel_size is None:
        radius = _pil_box_radius(sigma)
        rows, cols = _pil_box_matrix(radius, height), _pil_box_matrix(radius, width)
        rows, cols = rows @ rows @ rows, cols @ cols @ cols
    else:
        rows = _gaussian_matrix(sigma, kernel_size, height)
        cols = _gaussian_matrix(sigma, kernel_size, width)
    return tf.clip_by_value(_separable(images, rows, cols), 0.0, 1.0)


# --------------------------------------------------------------------- colour
@_no_autograph
def rgb_to_grayscale(images):
    """Luma ``0.2989 r + 0.587 g + 0.114 b``, one channel; gray input unchanged.

    torchvision's ``rgb_to_grayscale`` (L148-166). PIL's ``convert("L")``
    weighs ``0.299`` (integer arithmetic): the two differ by at most
    ``1e-4``.

    Args:
        images: ``(batch_size, height, width, 1 or 3)`` images.

    Returns:
        ``(batch_size, height, width, 1)`` float32.

    >>> import numpy as np
    >>> x = np.ones((1, 1, 1, 3), np.float32)
    >>> round(float(rgb_to_grayscale(x)[0, 0, 0, 0]), 4)
    0.9999
    """
    images = to_float(images)
    if images.shape[-1] == 1:
        return images
    red, green, blue = GRAY_WEIGHTS
    return red * images[..., :1] + green * images[..., 1:2] + blue * images[..., 2:]


def _blend(images, other, factor):
    """``clamp(factor * images + (1 - factor) * other, 0, 1)`` (``_blend``, L258-261)."""
    factor = _column(factor)
    return tf.clip_by_value(factor * images + (1.0 - factor) * other, 0.0, 1.0)


@_no_autograph
def adjust_brightness(images, factor):
    """``clamp(factor * x, 0, 1)``: torchvision's ``adjust_brightness`` (L171-179).

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        factor: brightness factor ``>= 0`` (0 black, 1 unchanged), a scalar
            or ``(batch_size,)``.

    Returns:
        The brightened (or darkened) float32 batch.

    >>> import numpy as np
    >>> adjust_brightness(np.full((1, 1, 1, 1), 0.6, np.float32), 2.0).numpy().item()
    1.0
    """
    images = to_float(images)
    return _blend(images, 0.0, factor)


@_no_autograph
def adjust_contrast(images, factor):
    """Blend with the mean of the grayscale image: ``adjust_contrast`` (L182-196).

    ``clamp(c * x + (1 - c) * mean(gray(x)), 0, 1)``, the mean over the whole
    image of each example.

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        factor: contrast factor ``c >= 0`` (0 uniform gray, 1 unchanged),
            a scalar or ``(batch_size,)``.

    Returns:
        The float32 batch with its contrast scaled.

    >>> import numpy as np
    >>> x = np.array([0.2, 0.6], np.float32).reshape(1, 1, 2, 1)
    >>> [round(v, 4) for v in adjust_contrast(x, 0.5).numpy().ravel().tolist()]
    [0.3, 0.5]
    """
    images = to_float(images)
    mean = tf.reduce_mean(rgb_to_grayscale(images), axis=[1, 2, 3], keepdims=True)
    return _blend(images, mean, factor)


@_no_autograph
def adjust_saturation(images, factor):
    """Blend with the grayscale image: ``adjust_saturation`` (L224-235).

    Single-channel images are returned unchanged, as torchvision does.

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        factor: saturation factor ``>= 0`` (0 gray, 1 unchanged), a scalar or
            ``(batch_size,)``.

    Returns:
        The float32 batch with its saturation scaled.

    >>> import numpy as np
    >>> x = np.array([[[[0.9, 0.1, 0.1]]]], np.float32)
    >>> y = adjust_saturation(x, 0.0).numpy().ravel()
    >>> bool(np.allclose(y, y[0]))
    True
    """
    images = to_float(images)
    if images.shape[-1] == 1:
        return images
    return _blend(images, rgb_to_grayscale(images), factor)


@_no_autograph
def adjust_hue(images, factor):
    """Rotate the HSV hue by ``factor`` turns: ``adjust_hue`` (L199-221).

    RGB to HSV, ``h = (h + factor) mod 1``, back to RGB; TensorFlow's
    ``rgb_to_hsv``/``hsv_to_rgb`` compute torchvision's ``_rgb2hsv`` and
    ``_hsv2rgb`` (L264-321) to float precision. Single-channel images are
    returned unchanged.

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        factor: hue shift in turns, in ``[-0.5, 0.5]``, a scalar or
            ``(batch_size,)``.

    Returns:
        The float32 batch with its hues rotated.

    >>> import numpy as np
    >>> x = np.array([[[[1.0, 0.0, 0.0]]]], np.float32)  # red
    >>> [round(v, 4) for v in adjust_hue(x, 1 / 3).numpy().ravel().tolist()]  # green
    [0.0, 1.0, 0.0]
    """
    images = to_float(images)
    if images.shape[-1] == 1:
        return images
    hsv = tf.image.rgb_to_hsv(images)
    hue = tf.math.floormod(hsv[..., :1] + _column(factor), 1.0)
    out = tf.image.hsv_to_rgb(tf.concat([hue, hsv[..., 1:]], axis=-1))
    return tf.clip_by_value(out, 0.0, 1.0)


@_no_autograph
def solarize(images, threshold=0.5):
    """Invert the pixels ``>= threshold``: ``x -> 1 - x`` (``solarize``, L793-806).

    ``threshold=0.5`` on ``[0, 1]`` images is PIL's ``ImageOps.solarize(img)``
    (threshold ``128`` on ``uint8``, which solo-learn, MoCo v3, DirectCLR and
    lightly call): a value ``k / 255`` is ``>= 0.5`` exactly when ``k >= 128``,
    and a float ``x`` rounds to a ``uint8 >= 128`` exactly when ``x >= 0.5``.

    Args:
        images: ``(batch_size, height, width, channels)`` images.
        threshold: in ``[0, 1]``. Defaults to ``0.5``.

    Returns:
        The solarised float32 batch.

    >>> import numpy as np
    >>> x = np.array([127, 128], np.uint8).reshape(1, 1, 2, 1)
    >>> [round(v * 255) for v in solarize(x).numpy().ravel().tolist()]
    [127, 127]
    """
    images = to_float(images)
    return tf.where(images >= threshold, 1.0 - images, images)
