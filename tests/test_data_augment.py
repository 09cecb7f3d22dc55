"""Tests for keras_collapse.data.augment and keras_collapse.data.noise."""

import numpy as np
import pytest
import tensorflow as tf

from keras_collapse import data as kd

RNG = np.random.default_rng(0)
RGB_U8 = RNG.integers(0, 256, size=(6, 20, 24, 3), dtype=np.uint8)
RGB_F = RGB_U8.astype(np.float32) / 255.0
GRAY = RNG.random((6, 8, 8, 1)).astype(np.float32)

OPS = {
    "crop": lambda: kd.RandomResizedCrop(12),
    "flip": lambda: kd.RandomFlip(0.5),
    "jitter": lambda: kd.ColorJitter(probability=1.0),
    "grayscale": lambda: kd.RandomGrayscale(0.5),
    "blur": lambda: kd.GaussianBlur(1.0),
    "solarize": lambda: kd.RandomSolarize(0.5),
    "simclr": lambda: kd.simclr_augment(12),
    "byol_a": lambda: kd.byol_augment(12, view="a"),
    "byol_b": lambda: kd.byol_augment(12, view="b"),
}
RESIZES = {"crop", "simclr", "byol_a", "byol_b"}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("images", [RGB_U8, RGB_F, GRAY], ids=["uint8", "float", "gray"])
def test_shape_dtype_range(name, images):
    out = OPS[name]()(images, tf.constant([1, 2])).numpy()
    size = (12, 12) if name in RESIZES else images.shape[1:3]
    assert out.shape == (images.shape[0], *size, images.shape[-1])
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


@pytest.mark.parametrize("name", sorted(OPS))
def test_same_seed_same_output_different_seed_different(name):
    op = OPS[name]()
    a = op(RGB_U8, [3, 4]).numpy()
    b = op(RGB_U8, [3, 4]).numpy()
    c = op(RGB_U8, [5, 6]).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_per_example_parameters_differ():
    """A batch of identical images gets different crops per example."""
    same = np.repeat(RGB_F[:1], 8, axis=0)
    out = kd.RandomResizedCrop(12)(same, [0, 0]).numpy()
    assert len({out[i].tobytes() for i in range(8)}) == 8


@pytest.mark.parametrize("op", [
    kd.RandomFlip(0.0), kd.ColorJitter(probability=0.0), kd.RandomGrayscale(0.0),
    kd.GaussianBlur(0.0), kd.RandomSolarize(0.0), kd.Compose([]),
    kd.Compose([kd.RandomFlip(0.0), kd.ColorJitter(probability=0.0), kd.GaussianBlur(0.0)]),
], ids=lambda op: type(op).__name__)
@pytest.mark.parametrize("images", [RGB_F, GRAY], ids=["rgb", "gray"])
def test_probability_zero_is_identity(op, images):
    np.testing.assert_array_equal(op(images, [7, 7]).numpy(), images)


def test_uint8_identity_converts_to_unit_range():
    out = kd.RandomFlip(0.0)(RGB_U8, [0, 0]).numpy()
    np.testing.assert_allclose(out, RGB_F, atol=1e-7)


def test_full_crop_is_resize_identity():
    op = kd.RandomResizedCrop((20, 24), scale=(1.0, 1.0), ratio=(24 / 20, 24 / 20))
    np.testing.assert_allclose(op(RGB_F, [0, 1]).numpy(), RGB_F, atol=1e-5)


def test_flip_probability_one_reverses_width():
    np.testing.assert_array_equal(kd.RandomFlip(1.0)(RGB_F, [0, 0]).numpy(), RGB_F[:, :, ::-1])


def test_grayscale_equal_channels_and_gray_input_unchanged():
    out = kd.RandomGrayscale(1.0)(RGB_F, [0, 0]).numpy()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)
    np.testing.assert_array_equal(kd.RandomGrayscale(1.0)(GRAY, [0, 0]).numpy(), GRAY)


def test_jitter_hue_saturation_skipped_for_gray():
    """Only hue/saturation: gray input is untouched (its saturation is 0)."""
    op = kd.ColorJitter(brightness=0, contrast=0, saturation=0.8, hue=0.4, probability=1.0)
    np.testing.assert_array_equal(op(GRAY, [1, 1]).numpy(), GRAY)
    assert not np.allclose(op(RGB_F, [1, 1]).numpy(), RGB_F)


def test_blur_preserves_constant_and_smooths():
    const = np.full((2, 10, 10, 3), 0.3, np.float32)
    np.testing.assert_allclose(kd.GaussianBlur(1.0)(const, [0, 0]).numpy(), const, atol=1e-6)
    out = kd.GaussianBlur(1.0, sigma=(2.0, 2.0))(RGB_F, [0, 0]).numpy()
    assert out.std() < RGB_F.std()


def test_solarize_inverts_bright_pixels():
    out = kd.RandomSolarize(1.0)(RGB_F, [0, 0]).numpy()
    np.testing.assert_allclose(out, np.where(RGB_F >= 0.5, 1 - RGB_F, RGB_F), atol=1e-7)


def test_byol_asymmetric_settings():
    ops_a = {type(op).__name__: op for op in kd.byol_augment(8, "a").ops}
    ops_b = {type(op).__name__: op for op in kd.byol_augment(8, "b").ops}
    assert (ops_a["GaussianBlur"].probability, ops_a["RandomSolarize"].probability) == (1.0, 0.0)
    assert (ops_b["GaussianBlur"].probability, ops_b["RandomSolarize"].probability) == (0.1, 0.2)


def test_works_inside_tf_function():
    fn = tf.function(lambda x, s: kd.simclr_augment(12)(x, s))
    np.testing.assert_allclose(fn(RGB_U8, tf.constant([1, 2])).numpy(),
                               kd.simclr_augment(12)(RGB_U8, [1, 2]).numpy(), atol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: kd.RandomFlip(1.5), "probability"),
    (lambda: kd.ColorJitter(hue=0.7), "hue"),
    (lambda: kd.RandomResizedCrop(8, scale=(0.5, 0.1)), "scale"),
    (lambda: kd.GaussianBlur(sigma=(0.0, 1.0)), "sigma"),
    (lambda: kd.byol_augment(8, view="c"), "view"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=f"Invalid value for argument `{match}`"):
        make()


# --- vector noise -----------------------------------------------------------

def test_block_noise_covariance_matches_empirical():
    """Tolerance: with n=200k samples the std error of a variance-2.25 entry is
    about 2.25*sqrt(2/n) ~ 0.007; allow 0.05 (absolute)."""
    cov = kd.block_noise_covariance(16, 8, variance=1.5**2)
    noise = kd.gaussian_noise(cov)(np.zeros((200_000, 16)), [0, 1]).numpy()
    emp = np.cov(noise, rowvar=False)
    np.testing.assert_allclose(emp, cov, atol=0.05)
    assert np.all(noise[:, :8] == 0.0)


def test_general_covariance_matches_empirical():
    a = np.random.default_rng(1).normal(size=(4, 4))
    cov = a @ a.T + np.diag([0.1, 0.2, 0.3, 0.4])
    noise = kd.gaussian_noise(cov)(np.zeros((200_000, 4)), [2, 3]).numpy()
    np.testing.assert_allclose(np.cov(noise, rowvar=False), cov, atol=0.05 * np.abs(cov).max())


def test_isotropic_noise_and_seeds():
    op = kd.isotropic_noise(0.5)
    a = op(np.ones((50_000, 3)), [0, 0]).numpy()
    np.testing.assert_allclose(np.cov(a, rowvar=False), 0.25 * np.eye(3), atol=0.01)
    np.testing.assert_array_equal(a, op(np.ones((50_000, 3)), [0, 0]).numpy())
    assert not np.array_equal(a, op(np.ones((50_000, 3)), [0, 1]).numpy())


@pytest.mark.parametrize("cov, match", [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
    (np.array([[1.0, 0.0], [0.0, -1.0]]), "positive semi-definite"),
    (np.ones(3), "square"),
])
def test_bad_covariance(cov, match):
    with pytest.raises(ValueError, match=match):
        kd.gaussian_noise(cov)


def test_noise_dim_mismatch():
    with pytest.raises(ValueError, match="covariance"):
        kd.gaussian_noise(np.eye(3))(np.zeros((2, 4)), [0, 0])
