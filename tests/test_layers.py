"""Tests of keras_collapse.layers: DirectCLRHead, ProjectionHead, PredictionHead."""

import keras
import numpy as np
import pytest

import keras_collapse as kc

H = kc.layers


def _x(n=6, d=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _round_trip(layer, x):
    """serialize/deserialize and from_config give an equal config; with the same
    weights the copies compute the same output."""
    expected = layer(x, training=False).numpy()
    copies = [
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)),
        type(layer).from_config(layer.get_config()),
    ]
    for copy in copies:
        assert type(copy) is type(layer)
        assert copy.get_config() == layer.get_config()
        copy(x)
        assert len(copy.weights) == len(layer.weights)
        copy.set_weights(layer.get_weights())
        np.testing.assert_allclose(copy(x, training=False).numpy(), expected, rtol=1e-6)


# ------------------------------------------------------------------ DirectCLR
def test_directclr_hand_worked():
    """r = [[3, 4, 100], [0, −2, 7]], dim 2: [3, 4]/5 = [0.6, 0.8]; [0, −2]/2 = [0, −1]."""
    r = np.array([[3.0, 4.0, 100.0], [0.0, -2.0, 7.0]], "float32")
    np.testing.assert_allclose(H.DirectCLRHead(2)(r).numpy(), [[0.6, 0.8], [0.0, -1.0]],
                               rtol=1e-6)


def test_directclr_is_normalised_first_dims_without_weights():
    x = _x()
    head = H.DirectCLRHead(dim=4)
    z = head(x).numpy()
    expected = x[:, :4] / np.linalg.norm(x[:, :4], axis=1, keepdims=True)
    np.testing.assert_allclose(z, expected, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    assert head.weights == [] and head.trainable_weights == []
    # other features are ignored
    x2 = x.copy()
    x2[:, 4:] = 1e3
    np.testing.assert_allclose(head(x2).numpy(), z)
    assert head.compute_output_shape((None, 10)) == (None, 4)
    # zero sub-vector gives 0, not NaN
    zero = np.zeros((2, 10), "float32")
    assert np.all(head(zero).numpy() == 0.0)
    _round_trip(head, x)


def test_directclr_dim_larger_than_representation_raises():
    with pytest.raises(ValueError, match=r"argument `dim`.*representation size 10.*dim=11"):
        H.DirectCLRHead(dim=11)(_x())
    with pytest.raises(ValueError, match="argument `dim`"):
        keras.Sequential([keras.Input((3,)), H.DirectCLRHead(dim=4)])
    with pytest.raises(ValueError, match="argument `dim`"):
        H.DirectCLRHead(dim=0)
    with pytest.raises(TypeError, match="argument `dim`"):
        H.DirectCLRHead(dim=2.5)


# ------------------------------------------------------------- ProjectionHead
def test_linear_projection_head_is_affine():
    x = _x()
    head = H.ProjectionHead(3)
    z = head(x).numpy()
    assert z.shape == (6, 3)
    kernel, bias = (w.numpy() for w in head.weights)
    assert kernel.shape == (10, 3) and bias.shape == (3,)
    np.testing.assert_allclose(z, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    _round_trip(head, x)


def test_two_layer_nonlinear_projection_head():
    keras.utils.set_random_seed(0)
    x = _x()
    head = H.ProjectionHead(4, hidden_dims=(16,))
    z = head(x, training=True).numpy()
    assert z.shape == (6, 4)
    shapes = sorted(tuple(w.shape) for w in head.trainable_weights)
    # Dense 10→16 without bias (BN follows), BN γ, β (16,), Dense 16→4 + bias
    assert shapes == sorted([(10, 16), (16,), (16,), (16, 4), (4,)])
    # nonlinear: not equal to any affine map, e.g. f(−x) ≠ 2 f(0) − f(x) in general
    f = lambda v: head(v, training=False).numpy()  # noqa: E731
    zero = np.zeros_like(x)
    assert np.max(np.abs(f(-x) - (2 * f(zero) - f(x)))) > 1e-3
    _round_trip(head, x)
    config = head.get_config()
    assert config["hidden_dims"] == [16] and config["output_dim"] == 4


def test_projection_head_without_batch_norm_and_with_other_activation():
    head = H.ProjectionHead(5, hidden_dims=(8, 7), batch_norm=False, activation="tanh")
    x = _x()
    assert head(x).shape == (6, 5)
    assert not any("bn" in w.path for w in head.weights)
    assert len(head.trainable_weights) == 6  # three Dense layers with biases
    _round_trip(head, x)


def test_projection_head_final_batch_norm():
    """Ends in BatchNorm(center=False, scale=False): in training mode each output
    dimension has batch mean 0 and (biased) variance ≈ 1, and there is no γ/β."""
    keras.utils.set_random_seed(1)
    x = _x(n=32)
    head = H.ProjectionHead(4, hidden_dims=(8,), final_batch_norm=True)
    z = head(x, training=True).numpy()
    assert z.shape == (32, 4)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.var(axis=0), 1.0, rtol=1e-2)
    trainable = sorted(tuple(w.shape) for w in head.trainable_weights)
    assert trainable == sorted([(10, 8), (8,), (8,), (8, 4), (4,)])
    assert head.get_config()["final_batch_norm"] is True
    _round_trip(head, x)


def test_projection_head_invalid_arguments():
    with pytest.raises(ValueError, match="argument `output_dim`"):
        H.ProjectionHead(0)
    with pytest.raises(ValueError, match="argument `hidden_dims`"):
        H.ProjectionHead(4, hidden_dims=(8, -1))


# ------------------------------------------------------------- PredictionHead
def test_prediction_head_shapes_and_round_trip():
    keras.utils.set_random_seed(0)
    x = _x(d=12)
    head = H.PredictionHead(12, hidden_dim=3)
    assert head(x, training=True).shape == (6, 12)
    shapes = sorted(tuple(w.shape) for w in head.trainable_weights)
    assert shapes == sorted([(12, 3), (3,), (3,), (3, 12), (12,)])
    config = head.get_config()
    assert config["hidden_dim"] == 3 and "hidden_dims" not in config
    assert config["output_dim"] == 12
    _round_trip(head, x)
    assert H.PredictionHead(8).hidden_dim == 512


def test_heads_in_saved_functional_model(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    r = keras.layers.Dense(8)(inputs)
    outputs = [
        H.DirectCLRHead(3)(r),
        H.ProjectionHead(4, hidden_dims=(6,), final_batch_norm=True)(r),
        H.PredictionHead(8, hidden_dim=2)(r),
    ]
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "heads.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = _x()
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
