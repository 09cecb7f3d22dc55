"""Tests for keras_collapse.data.sources (no network anywhere)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets

from keras_collapse import data as kd


def test_synthetic_gaussian_shape_seed_covariance():
    """Tolerance: n=100k, entries of size <= 4 have std error ~0.02; allow 0.1."""
    cov = kd.block_noise_covariance(6, 3, variance=4.0) + np.eye(6)
    x = kd.synthetic_gaussian(100_000, 6, covariance=cov, seed=1)
    assert x.shape == (100_000, 6) and x.dtype == np.float32
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov, atol=0.1)
    np.testing.assert_array_equal(kd.synthetic_gaussian(50, 6, seed=3),
                                  kd.synthetic_gaussian(50, 6, seed=3))
    assert not np.array_equal(kd.synthetic_gaussian(50, 6, seed=3),
                              kd.synthetic_gaussian(50, 6, seed=4))


def test_synthetic_singular_covariance():
    x = kd.synthetic_gaussian(1000, 4, covariance=kd.block_noise_covariance(4, 2, 1.0))
    assert np.all(x[:, :2] == 0)


def test_imbalanced_mixture():
    mixture = {"weights": [0.7, 0.2, 0.1], "means": [[0, 0], [10, 0], [0, 10]],
               "covariances": [np.eye(2), 0.01 * np.eye(2), np.eye(2)]}
    x, y = kd.synthetic_gaussian(1000, 2, seed=0, mixture=mixture)
    assert x.shape == (1000, 2) and y.shape == (1000,)
    assert np.bincount(y).tolist() == [700, 200, 100]
    np.testing.assert_allclose(x[y == 1].mean(0), [10, 0], atol=0.05)
    np.testing.assert_allclose(x[y == 1].std(0), [0.1, 0.1], atol=0.02)


@pytest.mark.parametrize("kwargs, match", [
    ({"covariance": np.eye(3)}, "covariance"),
    ({"mixture": {"weights": [1.0]}}, "mixture"),
    ({"mixture": {"weights": [0.5, 0.5], "means": [[0, 0]]}}, "means"),
    ({"mixture": {"weights": [-1, 2], "means": [[0, 0], [1, 1]]}}, "weights"),
])
def test_synthetic_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        kd.synthetic_gaussian(10, 2, **kwargs)


def test_digits_all_and_split():
    x, y = kd.digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0 and set(y.tolist()) == set(range(10))
    (x_tr, y_tr), (x_te, y_te) = kd.digits(test_fraction=0.25, seed=0)
    assert len(x_tr) + len(x_te) == 1797 and abs(len(x_te) - 0.25 * 1797) < 1
    (x_tr2, _), _ = kd.digits(test_fraction=0.25, seed=0)
    np.testing.assert_array_equal(x_tr, x_tr2)
    with pytest.raises(ValueError, match="test_fraction"):
        kd.digits(test_fraction=1.0)


def test_digits_feed_two_views():
    x, _ = kd.digits()
    ((a, b),) = next(iter(kd.two_views(x, kd.simclr_augment(8), batch_size=32)))
    assert a.shape == b.shape == (32, 8, 8, 1)


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("stl10", (96, 96, 3))])
def test_tfds_on_mock_data(name, shape):
    with tensorflow_datasets.testing.mock_data(num_examples=6):
        ds = kd.tfds(name, split="train")
        assert ds.element_spec[0].shape == shape
        x, y = kd.tfds(name, split="train", as_numpy=True, max_examples=4)
        ((a, _),) = next(iter(kd.two_views(kd.tfds(name), kd.simclr_augment(16), batch_size=3)))
    assert x.shape == (4, *shape) and x.dtype == np.uint8 and y.shape == (4,)
    assert a.shape == (3, 16, 16, 3)


def test_tfds_unknown_name():
    with pytest.raises(ValueError, match="argument `name`.*list_builders"):
        kd.tfds("no_such_dataset_xyz")


def test_tfds_unavailable_offline(tmp_path):
    with pytest.raises(ValueError, match="not prepared.*data_dir=.*download=True"):
        kd.tfds("cifar10", data_dir=str(tmp_path))


def test_tfds_dataset_is_tf_data():
    with tensorflow_datasets.testing.mock_data(num_examples=3):
        assert isinstance(kd.tfds("cifar10"), tf.data.Dataset)
