"""keras_collapse.data.functional against torchvision (pinned) and PIL (run here).

The torchvision values come from ``tests/upstream/make_pinned_augment.py``
(torchvision 0.29.1, the versions are in the file); PIL is installed with
matplotlib, so the PIL comparisons run directly, on scikit-learn's bundled
sample photographs.
"""

import os

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from sklearn.datasets import load_sample_images

from keras_collapse.data import functional as F
from keras_collapse.data.augment import ColorJitter

PINNED = np.load(os.path.join(os.path.dirname(__file__), "upstream", "torchvision_augment.npz"))
X32 = PINNED["images"].astype(np.float32) / 255.0  # (4, 32, 32, 3)
X16 = X32[:, 8:24, 8:24]  # the pixel-wise ops were pinned on the 16x16 centres
FLOAT = 1e-5  # float32 round-off of a few operations on values in [0, 1]


def _photos(height, width):
    """The two sample photographs reduced to ``(height, width)`` (PIL box filter)."""
    return [Image.fromarray(p).resize((width, height), Image.BOX)
            for p in load_sample_images().images]


PHOTOS = _photos(32, 48)
U8 = np.stack([np.asarray(p) for p in PHOTOS])  # (2, 32, 48, 3) uint8


# ------------------------------------------------------------- torchvision
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_resized_crop_matches_torchvision(mode):
    for k, (top, left, h, w, oh, ow) in enumerate(PINNED["boxes"]):
        boxes = np.tile([[top, left, h, w]], (len(X32), 1))
        got = F.resized_crop(X32, boxes, (oh, ow), mode).numpy()
        # torchvision does not clip float outputs; this function clips to [0, 1].
        want = np.clip(PINNED[f"resized_crop_{mode}_{k}"], 0.0, 1.0)
        np.testing.assert_allclose(got, want, atol=FLOAT, err_msg=f"box {k}")


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation", "hue"])
def test_adjust_matches_torchvision(name):
    got = getattr(F, f"adjust_{name}")(X16, PINNED[f"factor_{name}"]).numpy()
    np.testing.assert_allclose(got, PINNED[f"adjust_{name}"], atol=FLOAT)


def test_jitter_orders_match_torchvision():
    """ColorJitter.forward's loop with four different orders and factors."""
    f = PINNED["jitter_factors"]
    got = ColorJitter.apply(X16, PINNED["jitter_orders"], *f.T).numpy()
    np.testing.assert_allclose(got, PINNED["jitter_output"], atol=FLOAT)


def test_grayscale_solarize_and_kernel_blur_match_torchvision():
    np.testing.assert_allclose(F.rgb_to_grayscale(X16).numpy(), PINNED["grayscale"], atol=FLOAT)
    for threshold in (0.5, 128 / 255):
        np.testing.assert_array_equal(F.solarize(X16, threshold).numpy(),
                                      PINNED[f"solarize_{threshold:.4f}"])
    for k, (kernel, sigma) in enumerate(PINNED["blur_params"]):
        got = F.gaussian_blur(X16[k:k + 1], sigma, kernel_size=int(kernel)).numpy()
        np.testing.assert_allclose(got, PINNED["gaussian_blur"][k:k + 1], atol=FLOAT)


# --------------------------------------------------------------------- PIL
@pytest.mark.parametrize("mode, resample", [("bilinear", Image.BILINEAR),
                                            ("bicubic", Image.BICUBIC)])
def test_resized_crop_matches_pil_float(mode, resample):
    """PIL's float ("F") resampling, channel by channel: equal to float precision
    (the result is clipped to [0, 1]; PIL's float mode does not clip)."""
    x = U8.astype(np.float32) / 255.0
    for top, left, h, w, oh, ow in [(3, 5, 20, 30, 32, 32), (0, 0, 32, 48, 16, 24),
                                    (4, 10, 13, 11, 8, 8), (1, 2, 30, 9, 7, 20)]:
        want = np.stack([np.stack([
            np.asarray(Image.fromarray(image[..., c], "F").crop((left, top, left + w, top + h))
                       .resize((ow, oh), resample)) for c in range(3)], -1) for image in x])
        got = F.resized_crop(x, [[top, left, h, w]] * len(x), (oh, ow), mode).numpy()
        np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=FLOAT)


def test_resized_crop_bilinear_matches_pil_uint8():
    """PIL's 8-bit path rounds after each of its two 1-D passes: at most
    2 * 0.5 / 255 from the exact result."""
    for top, left, h, w, oh, ow in [(3, 5, 20, 30, 32, 32), (0, 0, 32, 48, 16, 24)]:
        want = np.stack([np.asarray(p.crop((left, top, left + w, top + h))
                                    .resize((ow, oh), Image.BILINEAR)) for p in PHOTOS])
        got = F.resized_crop(U8, [[top, left, h, w]] * 2, (oh, ow)).numpy() * 255
        assert np.abs(got - want).max() <= 1.0 + 1e-3


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 2.0, 3.7])
def test_blur_matches_pil_at_every_size(size, sigma):
    """PIL's GaussianBlur(radius=sigma) on uint8 photos.

    PIL runs six 1-D box passes, each rounded to uint8 (BoxBlur.c L34-38);
    the passes average (sup-norm 1), so the rounding errors add up to at
    most 6 * 0.5 / 255 (the fixed-point weights add < 1e-4 / 255). Their
    mean is that of a sum of six roundings, about 0.56 / 255 for
    independent ones; 0.75 / 255 is allowed.
    """
    photos = _photos(size, size)
    want = np.stack([np.asarray(p.filter(ImageFilter.GaussianBlur(radius=sigma)))
                     for p in photos]).astype(np.float32)
    got = F.gaussian_blur(np.stack([np.asarray(p) for p in photos]), sigma).numpy() * 255
    error = np.abs(got - want)
    assert error.max() <= 3.0 + 1e-3, error.max()
    assert error.mean() <= 0.75, error.mean()


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.0])
def test_blur_impulse_has_variance_sigma_squared(sigma):
    """Hand-derived: PIL's three extended boxes have variance sigma**2 / 3 each
    (Gwosdek et al. 2011), so an impulse far from the edges spreads with
    variance sigma**2 along each axis, whatever the image size. (The old
    kernel of 10% of the image side gave 3 taps at 32 px: std 0.8 at sigma 2.)"""
    x = np.zeros((1, 41, 41, 1), np.float32)
    x[0, 20, 20] = 1.0
    y = F.gaussian_blur(x, sigma).numpy()[0, :, :, 0]
    offsets = np.arange(41) - 20
    np.testing.assert_allclose(y.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose((y.sum(axis=0) * offsets ** 2).sum(), sigma ** 2, rtol=1e-4)


@pytest.mark.parametrize("factor", [0.3, 0.9, 1.4, 1.8])
def test_colour_blends_match_pil(factor):
    """PIL's ImageEnhance (torchvision's PIL backend, which solo-learn runs).

    ``Image.blend`` truncates (Blend.c L62): PIL is 0 to 1/255 below the exact
    blend. Brightness adds nothing else. Contrast blends with the L image's
    mean rounded to an integer (ImageEnhance.py L74) and saturation with the
    L image rounded per pixel: up to ``|1 - factor| * 0.5 / 255`` more, plus
    the luma weights (PIL 0.299 against 0.2989: ``|1 - factor| * 0.03 / 255``).
    """
    slack = abs(1.0 - factor) * 0.53
    for name, enhance, bound in (("brightness", ImageEnhance.Brightness, 0.0),
                                 ("contrast", ImageEnhance.Contrast, slack),
                                 ("saturation", ImageEnhance.Color, slack)):
        want = np.stack([np.asarray(enhance(p).enhance(factor)) for p in PHOTOS])
        got = getattr(F, f"adjust_{name}")(U8, factor).numpy() * 255
        diff = got - want
        assert -bound - 1e-3 <= diff.min() and diff.max() <= 1.0 + bound + 1e-3, (name, diff)


@pytest.mark.parametrize("factor", [-0.5, -0.23, 0.1, 0.37, 0.5])
def test_hue_matches_pil(factor):
    """torchvision's PIL ``adjust_hue`` (``_functional_pil.py`` L112-120): 8-bit
    HSV, the hue shifted by ``int(factor * 255)`` steps of 1/255 turn.

    With the same truncated shift, the differences are PIL's quantisation: the
    hue rounded to 1/255 turn moves a channel by up to ``6 (max - min) / 255``,
    the saturation's rounding by up to 1/255, the final rounding 0.5/255; on
    average a fraction of that (the photos' ``max - min`` is small).
    """
    want = []
    for photo in PHOTOS:
        h, s, v = photo.convert("HSV").split()
        hue = np.array(h, dtype=np.uint8)
        hue += np.int32(factor * 255).astype(np.uint8)
        want.append(np.asarray(Image.merge("HSV", (Image.fromarray(hue, "L"), s, v))
                               .convert("RGB")))
    got = F.adjust_hue(U8, int(factor * 255) / 255).numpy() * 255
    error = np.abs(got - np.stack(want))
    assert error.max() <= 7.5 and error.mean() <= 1.0, (error.max(), error.mean())


def test_solarize_and_grayscale_match_pil():
    """Threshold 0.5 on [0, 1] is PIL's 128 on uint8, exactly; the luma differs
    from PIL's rounded ``convert("L")`` by the rounding and the weights."""
    want = np.stack([np.asarray(ImageOps.solarize(p)) for p in PHOTOS])
    np.testing.assert_allclose(F.solarize(U8).numpy() * 255, want, atol=1e-3)
    want = np.stack([np.asarray(p.convert("L")) for p in PHOTOS])
    np.testing.assert_allclose(F.rgb_to_grayscale(U8).numpy()[..., 0] * 255, want, atol=0.53)


# ------------------------------------------------------------------ others
def test_per_example_parameters():
    """One parameter per example: each example as if it were alone."""
    def fn(x, boxes, sigma, hue):
        return F.adjust_hue(F.gaussian_blur(F.resized_crop(x, boxes, (16, 16), "bicubic"),
                                            sigma), hue)

    both = fn(U8, [[0, 0, 32, 48], [3, 5, 20, 30]], [0.5, 2.0], [0.1, -0.3]).numpy()
    for k, (box, sigma, hue) in enumerate([([0, 0, 32, 48], 0.5, 0.1),
                                           ([3, 5, 20, 30], 2.0, -0.3)]):
        np.testing.assert_allclose(both[k:k + 1], fn(U8[k:k + 1], [box], sigma, hue).numpy(),
                                   atol=FLOAT)


def test_gray_images_pass_through_colour_ops():
    gray = X16[..., :1]
    for fn in (F.adjust_saturation, F.adjust_hue, F.rgb_to_grayscale):
        np.testing.assert_array_equal(fn(gray, 0.3).numpy() if fn is not F.rgb_to_grayscale
                                      else fn(gray).numpy(), gray)


@pytest.mark.parametrize("call, match", [
    (lambda: F.resized_crop(X32, [[0, 0, 8, 8]] * 4, (4, 4), "nearest"), "interpolation"),
    (lambda: F.gaussian_blur(X32, 1.0, kernel_size=4), "kernel_size"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=f"Invalid value for argument `{match}`"):
        call()
