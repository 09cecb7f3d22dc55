"""Tests for keras_collapse.data.views.two_views."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_collapse import data as kd

X = np.random.default_rng(0).integers(0, 256, size=(40, 12, 12, 3), dtype=np.uint8)
Y = np.arange(40) % 4
AUG = kd.simclr_augment(8)


def _collect(ds):
    return [(a.numpy(), b.numpy()) for ((a, b),) in ds]


def test_structure_shapes_dtypes():
    ds = kd.two_views(X, AUG, batch_size=16, seed=0)
    batches = _collect(ds)
    assert len(batches) == 2  # drop_remainder
    for a, b in batches:
        assert a.shape == b.shape == (16, 8, 8, 3)
        assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
        assert not np.array_equal(a, b)  # augment_b=None: same op, other draws
    element = next(iter(ds))
    assert isinstance(element, tuple) and len(element) == 1 and len(element[0]) == 2


def test_same_seed_same_views_different_seed_different():
    first = _collect(kd.two_views(X, AUG, batch_size=8, seed=3))
    again = _collect(kd.two_views(X, AUG, batch_size=8, seed=3))
    other = _collect(kd.two_views(X, AUG, batch_size=8, seed=4))
    for (a1, b1), (a2, b2) in zip(first, again):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(first[0][0], other[0][0])


def test_epochs_get_fresh_views():
    ds = kd.two_views(X, AUG, batch_size=8, seed=0, shuffle=False)
    assert not np.array_equal(_collect(ds)[0][0], _collect(ds)[0][0])


def test_inputs_forms_labels_dropped():
    ident = lambda x, s: tf.cast(x, tf.float32)  # noqa: E731
    from_array = _collect(kd.two_views(X, ident, batch_size=40, shuffle=False))
    from_pair = _collect(kd.two_views((X, Y), ident, batch_size=40, shuffle=False))
    from_ds = _collect(kd.two_views(tf.data.Dataset.from_tensor_slices((X, Y)), ident,
                                    batch_size=40, shuffle=False))
    for got in (from_array, from_pair, from_ds):
        np.testing.assert_array_equal(got[0][0], X.astype(np.float32))
    shuffled = _collect(kd.two_views(X, ident, batch_size=40, seed=0))[0][0]
    assert sorted(map(bytes, shuffled.astype(np.uint8))) == sorted(map(bytes, X))


def test_asymmetric_views():
    ds = kd.two_views(X, kd.byol_augment(8, "a"), kd.byol_augment(6, "b"), batch_size=8)
    a, b = _collect(ds)[0]
    assert a.shape == (8, 8, 8, 3) and b.shape == (8, 6, 6, 3)


def test_vector_noise_views():
    x = kd.synthetic_gaussian(64, 16, seed=0)
    noise = kd.gaussian_noise(kd.block_noise_covariance(16, 8, 1.0))
    a, b = _collect(kd.two_views(x, noise, batch_size=32, shuffle=False))[0]
    np.testing.assert_allclose(a[:, :8], x[:32, :8], atol=1e-6)
    np.testing.assert_allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not np.allclose(a[:, 8:], b[:, 8:])


def test_view_changing_batch_size_is_clear_error():
    with pytest.raises(ValueError, match="keeps the batch size.*augment_b"):
        kd.two_views(X, AUG, lambda x, s: x[:-1], batch_size=8)


def test_dynamic_batch_change_fails_at_runtime():
    bad = lambda x, s: tf.cast(x, tf.float32)[: tf.shape(x)[0] // 2]  # noqa: E731
    ds = kd.two_views(X, bad, batch_size=8, drop_remainder=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="keeps the batch size"):
        _collect(ds)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 100}, ValueError, "lower batch_size"),
    ({"augment_a": "crop"}, TypeError, "augment_a"),
])
def test_bad_arguments(kwargs, error, match):
    args = {"augment_a": AUG, "batch_size": 8, **kwargs}
    with pytest.raises(error, match=match):
        kd.two_views(X, **args)


class PairModel(keras.Model):
    """Tiny model whose call takes (view_a, view_b); loss is an alignment term."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)])

    def call(self, inputs):
        view_a, view_b = inputs
        z_a, z_b = self.encoder(view_a), self.encoder(view_b)
        variance_term = (keras.ops.mean(z_a**2) - 1.0) ** 2
        self.add_loss(keras.ops.mean((z_a - z_b) ** 2) + variance_term)
        return z_a


def test_model_fit_smoke():
    model = PairModel()
    model.compile(optimizer="adam")
    history = model.fit(kd.two_views(X, AUG, batch_size=8, seed=0), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))
