"""Batched, seeded image augmentations and the SimCLR and BYOL recipes.

Every augmentation is a small callable object ``op(images, seed) -> images``:
``images`` is a whole batch ``(batch_size, height, width, channels)`` (``uint8``
is converted to ``float32`` in ``[0, 1]``, floats are cast to ``float32`` and
assumed in ``[0, 1]``) and ``seed`` an integer tensor of shape ``(2,)``. Each
example gets its own random parameters, drawn with ``tf.random.stateless_*``
from ``seed``, so the same seed always gives the same batch. The ops follow
torchvision's transforms and the PIL filters that the SSL recipes call
(solo-learn, lightly, MoCo v3, DirectCLR): the sampling rules are
torchvision's, the pixel arithmetic that of :mod:`keras_collapse.data.functional`.

Single-channel (grayscale) images work with every op: saturation and hue
jitter and random grayscale are skipped for them, which is exactly what they
would do to a gray image tiled to RGB (its saturation is 0, so both leave it
unchanged), and the output keeps one channel.

A probability of 0 is exactly the identity (after the ``uint8`` to ``float32``
conversion). Every op has ``get_config`` and is registered with Keras, so
``keras.saving.serialize_keras_object`` round-trips it.

References: SimCLR, Chen et al. 2020 (arXiv 2002.05709, Appendix A); BYOL,
Grill et al. 2020 (arXiv 2006.07733, Table 6); torchvision 0.29.1
``torchvision/transforms/transforms.py``.
"""

from __future__ import annotations

import math
import numbers

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data import functional as F
from keras_collapse.data.functional import to_float

_register = keras.saving.register_keras_serializable(package="keras_collapse")
_no_autograph = F._no_autograph  # static Python control flow only

# Per-channel (mean, std) of the recipes' inputs. solo-learn
# solo/data/pretrain_dataloader.py L206-212 (CIFAR-10, CIFAR-100; ImageNet is
# timm's IMAGENET_DEFAULT_MEAN/STD); the same ImageNet values in DirectCLR
# directclr/utils.py L143-144, MoCo v3 main_moco.py L258-259, Li et al.
# autolearn/moco/data.py L9 and lightly lightly/transforms/utils.py L1 (which
# its CIFAR-10 benchmark also uses).
NORMALIZATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def _seed(seed):
    if seed is None:
        raise _checks.invalid("seed", "an integer tensor of shape (2,) (a random "
                              "augmentation needs one)", seed)
    return tf.cast(tf.convert_to_tensor(seed), tf.int64)


def _seeds(seed, num):
    """Split one ``(2,)`` seed into ``num`` independent ``(2,)`` seeds."""
    return tf.unstack(tf.random.experimental.stateless_split(_seed(seed), num))


def _uniform(seed, shape, low, high):
    return tf.random.stateless_uniform(shape, _seed(seed), low, high)


def _apply_with_probability(images, transformed, probability, seed):
    """Keep ``transformed`` for a random ``probability`` share of examples."""
    if probability >= 1.0:
        return transformed
    keep = _uniform(seed, [tf.shape(images)[0]], 0.0, 1.0) < probability
    # k t + (1 - k) x with k in {0, 1} is exactly t or x (finite values) and
    # much faster on CPU than a broadcasting tf.where.
    keep = tf.cast(keep, tf.float32)[:, None, None, None]
    return keep * transformed + (1.0 - keep) * images


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


class _Op:
    """``get_config``/``from_config``/``repr`` shared by the augmentations."""

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@_register
class RandomResizedCrop(_Op):
    """Crop a random area and aspect ratio, then resize to ``size``: torchvision's rule.

    Per example, ``RandomResizedCrop.get_params`` (torchvision
    ``transforms.py`` L929-970): up to 10 tries of an area fraction
    ``a ~ U(scale)`` and a log-uniform aspect ratio ``r`` (in ``ratio``) give a
    box of ``round(sqrt(a H W r))`` by ``round(sqrt(a H W / r))`` pixels
    (width by height); the first try that fits the image is placed at a
    uniformly random integer offset; if none fits, the centre crop of the
    whole image (clamped to ``ratio``) is taken. The box is then resized with
    :func:`keras_collapse.data.functional.resized_crop` (antialiased, as
    torchvision's default ``antialias=True`` and PIL). All ten tries are
    drawn at once, so the op stays vectorised.

    Args:
        size: output ``(height, width)`` or an int for a square. Required.
        scale: range of the cropped area fraction. Defaults to ``(0.08, 1.0)``.
        ratio: range of the width/height aspect ratio.
            Defaults to ``(3/4, 4/3)``.
        interpolation: ``"bilinear"`` (torchvision's default; MoCo v3, Li et
            al., lightly) or ``"bicubic"`` (solo-learn
            ``solo/data/pretrain_dataloader.py`` L224, DirectCLR
            ``directclr/utils.py`` L132). Defaults to ``"bilinear"``.

    >>> import numpy as np
    >>> op = RandomResizedCrop(16)
    >>> op(np.zeros((4, 32, 32, 3), np.uint8), seed=[0, 1]).shape
    TensorShape([4, 16, 16, 3])
    """

    TRIES = 10

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 interpolation="bilinear"):
        self.size = _size(size)
        self.scale = _range("scale", scale)
        if self.scale[1] > 1.0 or self.scale[1] == 0.0:
            raise _checks.invalid("scale", "a pair with 0 <= low <= high <= 1, high > 0", scale)
        self.ratio = _range("ratio", ratio)
        if self.ratio[0] <= 0:
            raise _checks.invalid("ratio", "a pair of positive floats", ratio)
        self.interpolation = _checks.one_of("interpolation", interpolation,
                                            set(F.INTERPOLATIONS))

    @_no_autograph
    def get_params(self, shape, seed):
        """Draw the boxes: ``(batch_size, 4)`` int32 ``(top, left, height, width)``.

        Args:
            shape: the batch's shape ``(batch_size, height, width, ...)``
                (e.g. ``tf.shape(images)``).
            seed: integer tensor of shape ``(2,)``.

        Returns:
            The boxes, one per example, inside the image.

        >>> boxes = RandomResizedCrop(8).get_params((3, 32, 32), seed=[0, 0]).numpy()
        >>> boxes.shape, bool((boxes[:, :2] + boxes[:, 2:] <= 32).all())
        ((3, 4), True)
        """
        shape = tf.convert_to_tensor(shape)
        batch = shape[0]
        height = tf.cast(shape[1], tf.float32)
        width = tf.cast(shape[2], tf.float32)
        s_area, s_ratio, s_top, s_left = _seeds(seed, 4)
        tries = [batch, self.TRIES]
        area = _uniform(s_area, tries, *self.scale) * height * width
        aspect = tf.exp(_uniform(s_ratio, tries, math.log(self.ratio[0]),
                                 math.log(self.ratio[1])))
        w = tf.round(tf.sqrt(area * aspect))  # round half to even, as Python's round
        h = tf.round(tf.sqrt(area / aspect))
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = tf.reduce_min(tf.where(fits, tf.range(self.TRIES), self.TRIES), axis=1)
        found = first < self.TRIES
        first = tf.minimum(first, self.TRIES - 1)
        w = tf.gather(w, first, batch_dims=1)
        h = tf.gather(h, first, batch_dims=1)
        # The centre-crop fallback (L958-969).
        in_ratio = width / height
        low, high = self.ratio
        fallback_w = tf.where(in_ratio > high, tf.round(height * high), width)
        fallback_h = tf.where(in_ratio < low, tf.round(width / low), height)
        w = tf.where(found, w, fallback_w)
        h = tf.where(found, h, fallback_h)
        top = tf.floor(_uniform(s_top, [batch], 0.0, 1.0) * (height - h + 1.0))
        left = tf.floor(_uniform(s_left, [batch], 0.0, 1.0) * (width - w + 1.0))
        top = tf.where(found, tf.minimum(top, height - h), tf.floor((height - h) / 2.0))
        left = tf.where(found, tf.minimum(left, width - w), tf.floor((width - w) / 2.0))
        return tf.cast(tf.stack([top, left, h, w], axis=1), tf.int32)

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        boxes = self.get_params(tf.shape(images), seed)
        return F.resized_crop(images, boxes, self.size, self.interpolation)

    def get_config(self):
        return {"size": self.size, "scale": self.scale, "ratio": self.ratio,
                "interpolation": self.interpolation}


@_register
class RandomFlip(_Op):
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

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        flipped = tf.reverse(images, axis=[2])
        return _apply_with_probability(images, flipped, self.probability, seed)

    def get_config(self):
        return {"probability": self.probability}


def _jitter_range(name, value, center, bound):
    """torchvision's ``ColorJitter._check_input`` (transforms.py L1214-1235).

    A number ``v`` gives ``[center - v, center + v]`` (the low end clipped at
    0 for the factors); a pair is used as given. ``None`` when it is the
    identity (the op is skipped).
    """
    if isinstance(value, bool):
        raise _checks.invalid(name, "a non-negative float or a (min, max) pair", value, TypeError)
    if isinstance(value, numbers.Real):
        _checks.non_negative_float(name, value)
        low, high = center - float(value), center + float(value)
        if center == 1.0:
            low = max(low, 0.0)
    else:
        low, high = _range(name, value, low_bound=bound[0])
    if not bound[0] <= low <= high <= bound[1]:
        raise _checks.invalid(name, f"a value giving a range inside {list(bound)}", value)
    return None if low == high == center else (low, high)


@_register
class ColorJitter(_Op):
    """Randomly change brightness, contrast, saturation and hue, in a random order.

    torchvision's ``ColorJitter`` wrapped in ``RandomApply(p=probability)``:
    per jittered example a factor is drawn for each op and the four ops run
    in a uniformly random order (``torch.randperm(4)``, transforms.py
    L1237-1288), each clamping to ``[0, 1]``:

    * brightness: ``x * b``, ``b ~ U(max(0, 1 - brightness), 1 + brightness)``;
    * contrast: ``mean(gray(x)) + c * (x - mean(gray(x)))``, ``c`` likewise;
    * saturation: ``gray(x) + s * (x - gray(x))``, ``s`` likewise;
    * hue: rotate the HSV hue by ``h ~ U(-hue, hue)`` (``hue <= 0.5``).

    Each strength may also be a ``(min, max)`` range of the factor itself, as
    in torchvision. The formulas are those of
    :mod:`keras_collapse.data.functional`. Saturation and hue are skipped for
    single-channel images (they leave gray images unchanged).

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
        self.brightness, self.contrast = brightness, contrast
        self.saturation, self.hue = saturation, hue
        self._ranges = {
            "brightness": _jitter_range("brightness", brightness, 1.0, (0.0, math.inf)),
            "contrast": _jitter_range("contrast", contrast, 1.0, (0.0, math.inf)),
            "saturation": _jitter_range("saturation", saturation, 1.0, (0.0, math.inf)),
            "hue": _jitter_range("hue", hue, 0.0, (-0.5, 0.5)),
        }
        self.probability = _checks.probability("probability", probability)

    @_no_autograph
    def get_params(self, batch, seed):
        """Draw ``(order, factors)`` for ``batch`` examples.

        Args:
            batch: number of examples (int or scalar tensor).
            seed: integer tensor of shape ``(2,)``.

        Returns:
            ``order``: ``(batch, 4)`` int32, a uniformly random permutation of
            ``0-3`` (brightness, contrast, saturation, hue) per example;
            ``factors``: dict of ``(batch,)`` float32 factors by op name,
            ``None`` for an op that is off.
        """
        seeds = _seeds(seed, 5)
        order = tf.argsort(_uniform(seeds[0], [batch, 4], 0.0, 1.0), axis=1)
        factors = {name: None if bounds is None else _uniform(s, [batch], *bounds)
                   for (name, bounds), s in zip(self._ranges.items(), seeds[1:])}
        return order, factors

    @classmethod
    @_no_autograph
    def apply(cls, images, order, brightness=None, contrast=None, saturation=None, hue=None):
        """Jitter with given orders and factors (deterministic).

        ``ColorJitter.forward``'s loop (transforms.py L1280-1288) with its
        parameters given: ``order[b, p]`` is the op (0 brightness, 1
        contrast, 2 saturation, 3 hue) example ``b`` runs at step ``p``; a
        factor of ``None`` skips that op. Brightness, contrast and saturation
        are blends (``clamp(f x + (1 - f) y)`` with ``y`` black, the gray mean,
        the gray image), so the steps before and after the hue each run as one
        blend per position with the other examples' factor set to 1 (exactly
        the identity); the hue runs once.

        Args:
            images: ``(batch_size, height, width, channels)`` images.
            order: ``(batch_size, 4)`` permutations of ``0-3``.
            brightness, contrast, saturation, hue: ``(batch_size,)`` factors
                or ``None``.

        Returns:
            The jittered float32 batch.

        >>> import numpy as np
        >>> x = np.full((1, 2, 2, 3), 0.5, np.float32)
        >>> ColorJitter.apply(x, [[0, 1, 2, 3]], brightness=[1.5]).numpy()[0, 0, 0].tolist()
        [0.75, 0.75, 0.75]
        """
        images = to_float(images)
        rgb = images.shape[-1] == 3
        factors = [brightness, contrast, saturation if rgb else None]
        if hue is not None and not rgb:
            hue = None
        active = [k for k, f in enumerate(factors) if f is not None]
        if not active:
            return images if hue is None else F.adjust_hue(images, hue)
        factors = [None if f is None else tf.cast(f, tf.float32) for f in factors]
        position = tf.argsort(tf.cast(order, tf.int32), axis=1)  # step of each op
        hue_step = position[:, 3] if hue is not None else tf.fill([tf.shape(images)[0]], 4)
        # An op's rank among the active blends, and whether it runs after the hue.
        rank = {k: sum(tf.cast(position[:, j] < position[:, k], tf.int32)
                       for j in active if j != k) for k in active}
        after = {k: position[:, k] > hue_step for k in active}
        out = images
        for stage in (False, True) if hue is not None else (False,):
            for step in range(len(active)):
                runs = {k: tf.equal(rank[k], step) & tf.equal(after[k], stage) for k in active}
                out = cls._blend_step(out, runs, factors)
            if not stage and hue is not None:
                out = F.adjust_hue(out, hue)
        return out

    @staticmethod
    def _blend_step(images, runs, factors):
        """One blend per example: the op ``k`` with ``runs[k]`` true, else factor 1.

        The blend target is black (brightness), the gray mean (contrast) or
        the gray image (saturation); the 0/1 masks select it exactly.
        """
        factor = tf.ones_like(next(iter(runs.values())), tf.float32)
        other = 0.0
        gray = F.rgb_to_grayscale(images) if 1 in runs or 2 in runs else None
        for k, run in runs.items():
            factor = tf.where(run, factors[k], factor)
            if k == 0:
                continue
            target = gray if k == 2 else tf.reduce_mean(gray, axis=[1, 2, 3], keepdims=True)
            other += tf.cast(run, tf.float32)[:, None, None, None] * target
        return F._blend(images, other, factor)

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        s_params, s_p = _seeds(seed, 2)
        order, factors = self.get_params(tf.shape(images)[0], s_params)
        out = self.apply(images, order, **factors)
        return _apply_with_probability(images, out, self.probability, s_p)

    def get_config(self):
        return {"brightness": self.brightness, "contrast": self.contrast,
                "saturation": self.saturation, "hue": self.hue,
                "probability": self.probability}


@_register
class RandomGrayscale(_Op):
    """Turn an example gray (kept 3-channel) with probability ``probability``.

    torchvision's ``RandomGrayscale``: the luma of
    :func:`keras_collapse.data.functional.rgb_to_grayscale`
    (``0.2989 r + 0.587 g + 0.114 b``) in all three channels; single-channel
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

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0 or images.shape[-1] == 1:
            return images
        gray = tf.tile(F.rgb_to_grayscale(images), [1, 1, 1, 3])
        return _apply_with_probability(images, gray, self.probability, seed)

    def get_config(self):
        return {"probability": self.probability}


@_register
class GaussianBlur(_Op):
    """Blur with a Gaussian of random ``sigma`` with probability ``probability``.

    Per example ``sigma ~ U(sigma)`` in pixels (solo-learn
    ``solo/data/pretrain_dataloader.py`` L101), then
    :func:`keras_collapse.data.functional.gaussian_blur`: by default PIL's
    ``ImageFilter.GaussianBlur(radius=sigma)``, which the recipes call
    (solo-learn L102, lightly, MoCo v3, DirectCLR): its extent follows
    ``sigma``, not the image size. ``kernel_size=k`` gives torchvision's
    ``transforms.GaussianBlur(k, sigma)`` instead (a ``k``-tap sampled
    Gaussian, reflect padding; SimCLR's TensorFlow code, ``data_util.py``
    L413, uses ``k = height // 10`` with zero padding).

    Args:
        probability: chance of blurring an example. Defaults to ``0.5``.
        sigma: range of the standard deviation in pixels.
            Defaults to ``(0.1, 2.0)``.
        kernel_size: ``None`` for PIL's blur, or an odd kernel size.
            Defaults to ``None``.

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
            if kernel_size % 2 == 0:
                raise _checks.invalid("kernel_size", "an odd positive integer or None",
                                      kernel_size)
        self.kernel_size = kernel_size

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        s_sigma, s_p = _seeds(seed, 2)
        sigma = _uniform(s_sigma, [tf.shape(images)[0]], *self.sigma)
        blurred = F.gaussian_blur(images, sigma, self.kernel_size)
        return _apply_with_probability(images, blurred, self.probability, s_p)

    def get_config(self):
        return {"probability": self.probability, "sigma": self.sigma,
                "kernel_size": self.kernel_size}


@_register
class RandomSolarize(_Op):
    """Invert pixels ``>= threshold`` (``x -> 1 - x``) with some probability.

    :func:`keras_collapse.data.functional.solarize`; the default threshold
    ``0.5`` is PIL's ``ImageOps.solarize`` threshold ``128`` that solo-learn,
    MoCo v3, DirectCLR and lightly use, on ``[0, 1]`` images.

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

    @_no_autograph
    def __call__(self, images, seed):
        images = to_float(images)
        if self.probability == 0.0:
            return images
        solarized = F.solarize(images, self.threshold)
        return _apply_with_probability(images, solarized, self.probability, seed)

    def get_config(self):
        return {"probability": self.probability, "threshold": self.threshold}


@_register
class Normalize(_Op):
    """Standardise each channel: ``(x - mean) / std`` (deterministic).

    torchvision's ``Normalize`` (``_functional_tensor.py`` L905-928), the last
    step of every recipe (e.g. solo-learn ``pretrain_dataloader.py`` L266).
    The output leaves ``[0, 1]``, so it goes last in a :class:`Compose`; the
    evaluation images need the same step (e.g. as ``eval_preprocess``). It
    takes one image ``(height, width, channels)`` or a batch, and ignores
    ``seed``.

    Args:
        mean: per-channel means, or ``None`` with ``dataset``.
            Defaults to ``None``.
        std: per-channel standard deviations (``> 0``), or ``None`` with
            ``dataset``. Defaults to ``None``.
        dataset: a key of :data:`NORMALIZATION` (``"cifar10"``,
            ``"cifar100"``, ``"imagenet"``) for the recipes' statistics, or
            ``None`` with ``mean`` and ``std``. Defaults to ``None``.

    >>> import numpy as np
    >>> op = Normalize(mean=[0.5], std=[0.25])
    >>> op(np.full((1, 1, 1, 1), 1.0, np.float32)).numpy().item()
    2.0
    >>> Normalize(dataset="cifar10").std
    (0.247, 0.2435, 0.2616)
    """

    def __init__(self, mean=None, std=None, dataset=None):
        if dataset is not None:
            if mean is not None or std is not None:
                raise _checks.invalid("dataset", "None when mean and std are given", dataset)
            mean, std = NORMALIZATION[_checks.one_of("dataset", dataset, set(NORMALIZATION))]
        elif mean is None or std is None:
            raise _checks.invalid("mean", "per-channel means with std (or dataset= one of "
                                  f"{sorted(NORMALIZATION)})", mean)
        try:
            self.mean = tuple(float(v) for v in mean)
            self.std = tuple(_checks.positive_float("std", float(v)) for v in std)
        except TypeError:
            raise _checks.invalid("mean", "sequences of floats for mean and std",
                                  (mean, std), TypeError)
        if len(self.mean) != len(self.std) or not self.mean:
            raise _checks.invalid("std", f"{len(self.mean)} values, one per channel of mean",
                                  std)
        self.dataset = dataset

    @_no_autograph
    def __call__(self, images, seed=None):
        del seed  # deterministic; the argument matches the augmentations'
        images = to_float(images)
        channels = images.shape[-1]
        if channels is not None and channels != len(self.mean):
            raise _checks.invalid("images", f"{len(self.mean)} channels (one per mean)",
                                  f"tensor of shape {tuple(images.shape)}")
        return (images - tf.constant(self.mean)) / tf.constant(self.std)

    def get_config(self):
        if self.dataset is not None:
            return {"dataset": self.dataset}
        return {"mean": self.mean, "std": self.std}


@_register
class Compose(_Op):
    """Apply augmentations in order, each with its own split of the seed.

    With ``seed=None`` each op is called with ``None``: deterministic steps
    (:class:`Normalize`, :class:`~keras_collapse.data.CenterCrop`) chain this
    way, e.g. as an evaluation preprocessing.

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

    @_no_autograph
    def __call__(self, images, seed=None):
        images = to_float(images)
        if not self.ops:
            return images
        seeds = [None] * len(self.ops) if seed is None else _seeds(seed, len(self.ops))
        for op, op_seed in zip(self.ops, seeds):
            images = op(images, op_seed)
        return images

    def get_config(self):
        return {"ops": [keras.saving.serialize_keras_object(op) for op in self.ops]}

    def __repr__(self):
        return f"Compose(ops=[{', '.join(repr(op) for op in self.ops)}])"

    @classmethod
    def from_config(cls, config):
        return cls([keras.saving.deserialize_keras_object(op) for op in config["ops"]])


def _recipe(ops, normalize):
    if normalize is not None and not callable(normalize):
        raise _checks.invalid("normalize", "a Normalize op (or callable) or None", normalize,
                              TypeError)
    return Compose(ops + ([normalize] if normalize is not None else []))


def simclr_augment(size, strength=1.0, blur_probability=0.5, scale=(0.08, 1.0),
                   interpolation="bilinear", normalize=None):
    """The SimCLR view: crop, flip, colour jitter, grayscale, optional blur.

    Chen et al. 2020 (arXiv 2002.05709, Appendix A): random resized crop
    (``scale``), horizontal flip (p=0.5), colour jitter with brightness,
    contrast, saturation ``0.8 * strength`` and hue ``0.2 * strength``
    (p=0.8), grayscale (p=0.2), Gaussian blur (sigma in ``[0.1, 2]``, PIL's
    blur as in solo-learn's ``symmetric.yaml``). SimCLR blurs ImageNet
    (p=0.5) but not CIFAR-10 (use ``blur_probability=0``).

    Args:
        size: output size, int or ``(height, width)``. Required.
        strength: colour-jitter strength ``s``. Defaults to ``1.0``.
        blur_probability: chance of the blur. Defaults to ``0.5``.
        scale: crop area range. Defaults to ``(0.08, 1.0)``.
        interpolation: the crop's resampling, ``"bilinear"`` or
            ``"bicubic"`` (solo-learn). Defaults to ``"bilinear"``.
        normalize: a final :class:`Normalize`, or ``None``. Defaults to
            ``None``.

    Returns:
        A :class:`Compose` callable ``(images, seed) -> images``.

    >>> import numpy as np
    >>> aug = simclr_augment(32)
    >>> aug(np.zeros((2, 40, 40, 3), np.uint8), seed=[0, 0]).shape
    TensorShape([2, 32, 32, 3])
    """
    s = _checks.non_negative_float("strength", strength)
    return _recipe([
        RandomResizedCrop(size, scale=scale, interpolation=interpolation),
        RandomFlip(0.5),
        ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.5, 0.2 * s), probability=0.8),
        RandomGrayscale(0.2),
        GaussianBlur(blur_probability),
    ], normalize)


_BYOL_VIEWS = {"a": (1.0, 0.0), "b": (0.1, 0.2)}


def byol_augment(size, view="a", scale=(0.08, 1.0), interpolation="bilinear", normalize=None):
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
        interpolation: the crop's resampling, ``"bilinear"`` or
            ``"bicubic"`` (DirectCLR, solo-learn). Defaults to ``"bilinear"``.
        normalize: a final :class:`Normalize`, or ``None``. Defaults to
            ``None``.

    Returns:
        A :class:`Compose` callable ``(images, seed) -> images``.

    >>> import numpy as np
    >>> aug = byol_augment(16, view="b")
    >>> aug(np.zeros((2, 32, 32, 3), np.uint8), seed=[0, 0]).shape
    TensorShape([2, 16, 16, 3])
    """
    blur, solarize = _BYOL_VIEWS[_checks.one_of("view", view, set(_BYOL_VIEWS))]
    return _recipe([
        RandomResizedCrop(size, scale=scale, interpolation=interpolation),
        RandomFlip(0.5),
        ColorJitter(0.4, 0.4, 0.2, 0.1, probability=0.8),
        RandomGrayscale(0.2),
        GaussianBlur(blur),
        RandomSolarize(solarize),
    ], normalize)
