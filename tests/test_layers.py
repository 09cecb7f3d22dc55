"""Tests of keras_collapse.layers: DirectCLRHead, ProjectionHead, PredictionHead."""

import json
import pathlib
import zipfile

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


# ------------------------------------------------- BatchNorm numerics (PyTorch)
PINNED = json.loads((pathlib.Path(__file__).parent / "upstream" / "batchnorm_torch.json")
                    .read_text())


def _batch_norms(layer_or_model):
    if isinstance(layer_or_model, keras.Model):
        return [x for x in layer_or_model.layers if isinstance(x, keras.layers.BatchNormalization)]
    return [x for x in layer_or_model.blocks if isinstance(x, keras.layers.BatchNormalization)]


def _all_default_batch_norms():
    return {
        "ProjectionHead": _batch_norms(H.ProjectionHead(4, hidden_dims=(6, 6),
                                                        final_batch_norm=True)),
        "PredictionHead": _batch_norms(H.PredictionHead(4, hidden_dim=2)),
        "convnet": _batch_norms(kc.encoders.convnet((8, 8, 1), width=2)),
        "mlp": _batch_norms(kc.encoders.mlp((8,), width=2)),
        "resnet": _batch_norms(kc.encoders.resnet(18, cifar_stem=True, input_shape=(8, 8, 3))),
    }


def test_every_batch_norm_defaults_to_pytorchs_epsilon_and_momentum():
    """eps 1e-5, Keras momentum 0.9 = PyTorch's momentum 0.1 (pinned file)."""
    for where, layers in _all_default_batch_norms().items():
        assert layers, where
        for layer in layers:
            assert layer.epsilon == PINNED["batchnorm1d"]["eps"], (where, layer.name)
            assert layer.momentum == 1 - PINNED["batchnorm1d"]["momentum"], (where, layer.name)


def _two_training_steps(layer, case, to_keras=lambda x: x):
    """Train-mode outputs of two steps and the moving statistics after them."""
    if not layer.built:
        layer.build(to_keras(np.asarray(case["inputs"][0], "float32")).shape)
    layer.gamma.assign(case["weight"])
    layer.beta.assign(case["bias"])
    outputs = [layer(to_keras(np.asarray(x, "float32")), training=True).numpy()
               for x in case["inputs"]]
    return outputs, layer.moving_mean.numpy(), layer.moving_variance.numpy()


def _check_against_torch(layer, case, to_keras=lambda x: x):
    """Outputs and running mean equal torch's; Keras' moving variance averages
    the biased batch variance b where PyTorch's running_var averages
    u = n/(n−1)·b. From var0 = 1 after two steps with the same n:
    torch = m² + m(1−m)·u1 + (1−m)·u2, so Keras = m² + (torch − m²)·(n−1)/n."""
    outputs, mean, variance = _two_training_steps(layer, case, to_keras)
    for got, expected in zip(outputs, case["outputs"]):
        np.testing.assert_allclose(got, to_keras(np.asarray(expected)), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(mean, case["running_mean"], rtol=1e-6, atol=1e-6)
    m = 1 - case["momentum"]
    x = np.asarray(case["inputs"][0])
    n = x.size // x.shape[1]
    expected = m**2 + (np.asarray(case["running_var"]) - m**2) * (n - 1) / n
    np.testing.assert_allclose(variance, expected, rtol=1e-6)


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def test_head_batch_norm_matches_pinned_pytorch_batchnorm1d():
    case = PINNED["batchnorm1d"]
    for head in (H.ProjectionHead(4, hidden_dims=(6,)), H.PredictionHead(4, hidden_dim=6)):
        _check_against_torch(_batch_norms(head)[0], case)
    # Keras' own defaults (eps 1e-3) would not pass: the check can fail
    with pytest.raises(AssertionError):
        _check_against_torch(keras.layers.BatchNormalization(), case)


def test_convnet_batch_norm_matches_pinned_pytorch_batchnorm2d():
    case = PINNED["batchnorm2d"]
    encoder = kc.encoders.convnet((2, 2, 3), width=4)
    _check_against_torch(encoder.get_layer("bn_0"), case, _nhwc)


def test_batch_norm_arguments_reach_every_layer_and_the_config():
    x = _x(n=8)
    head = H.ProjectionHead(4, hidden_dims=(6,), final_batch_norm=True, epsilon=1e-3,
                            momentum=0.99)
    assert [(b.epsilon, b.momentum) for b in _batch_norms(head)] == [(1e-3, 0.99)] * 2
    config = head.get_config()
    assert (config["epsilon"], config["momentum"]) == (1e-3, 0.99)
    _round_trip(head, x)
    predictor = H.PredictionHead(4, hidden_dim=3, epsilon=0.01, momentum=0.5)
    assert [(b.epsilon, b.momentum) for b in _batch_norms(predictor)] == [(0.01, 0.5)]
    _round_trip(predictor, _x(n=8, d=4))
    for build in (kc.encoders.convnet, kc.encoders.mlp):
        encoder = build((4, 4, 1), width=2, epsilon=1e-3, momentum=0.99)
        assert {(b.epsilon, b.momentum) for b in _batch_norms(encoder)} == {(1e-3, 0.99)}


@pytest.mark.parametrize("argument, value, error", [
    ("epsilon", 0.0, ValueError), ("epsilon", "1e-5", TypeError),
    ("momentum", 1.5, ValueError), ("momentum", -0.1, ValueError)])
def test_batch_norm_arguments_invalid(argument, value, error):
    for build in (lambda **k: H.ProjectionHead(4, hidden_dims=(6,), **k),
                  lambda **k: H.PredictionHead(4, **k),
                  lambda **k: kc.encoders.convnet((4, 4, 1), **k),
                  lambda **k: kc.encoders.mlp((4,), **k)):
        with pytest.raises(error, match=f"argument `{argument}`.*Received: {argument}="):
            build(**{argument: value})


def test_heads_saved_before_the_batch_norm_arguments_load_as_trained(tmp_path):
    """A `.keras` file whose head configs lack `epsilon`/`momentum` (saved by
    an earlier version, which built Keras' 1e-3 / 0.99) loads with those:
    the same training-mode outputs and moving statistics as the original."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    old = {"epsilon": 1e-3, "momentum": 0.99}
    outputs = [H.ProjectionHead(4, hidden_dims=(6,), final_batch_norm=True, **old)(inputs),
               H.PredictionHead(10, hidden_dim=3, **old)(inputs)]
    model = keras.Model(inputs, outputs)
    path = tmp_path / "old.keras"
    model.save(path)
    stripped = tmp_path / "stripped.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                heads = [layer["config"] for layer in config["config"]["layers"]
                         if layer["class_name"] in ("ProjectionHead", "PredictionHead")]
                assert len(heads) == 2
                for head in heads:
                    del head["epsilon"], head["momentum"]
                data = json.dumps(config)
            target.writestr(item, data)
    loaded = keras.saving.load_model(stripped)
    for head in loaded.layers[1:]:
        assert [(b.epsilon, b.momentum) for b in _batch_norms(head)] == [(1e-3, 0.99)] * len(
            _batch_norms(head))
    x = _x(n=8)
    for training in (True, False):
        for a, b in zip(model(x, training=training), loaded(x, training=training)):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(model.weights, loaded.weights):  # the moving statistics too
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, err_msg=a.path)


@pytest.mark.parametrize("head", [
    lambda: kc.layers.ProjectionHead(256, hidden_dims=(512,), batch_norm=False,
                                     initializer="torch"),
    lambda: kc.layers.PredictionHead(256, hidden_dim=512, batch_norm=False,
                                     initializer="torch"),
])
def test_torch_initializer_is_nn_linears_default(head):
    """initializer="torch": PyTorch's nn.Linear.reset_parameters
    (torch/nn/modules/linear.py: kaiming_uniform_(weight, a=√5), bias
    U(−1/√fan_in, 1/√fan_in)). kaiming_uniform_'s bound is
    gain·√(3/fan_in) with gain √(2/(1 + a²)) = √(1/3): 1/√fan_in, by hand.
    Checked per Dense: every value within the bound, the largest near it and
    the standard deviation that of U(±b), b/√3."""
    keras.utils.set_random_seed(0)
    layer = head()
    layer.build((None, 256))
    denses = [b for b in layer.blocks if isinstance(b, keras.layers.Dense)]
    for dense, fan_in in zip(denses, (256, 512)):
        bound = 1 / np.sqrt(fan_in)
        for values in (dense.kernel.numpy(), dense.bias.numpy()):
            assert np.abs(values).max() <= bound
            assert np.abs(values).max() > 0.95 * bound
        kernel = dense.kernel.numpy()
        np.testing.assert_allclose(kernel.std(), bound / np.sqrt(3), rtol=0.02)
    # Keras' default is unchanged: zero biases.
    keras_head = kc.layers.ProjectionHead(8, hidden_dims=(16,), batch_norm=False)
    keras_head.build((None, 32))
    assert not np.any(keras_head.blocks[-1].bias.numpy())


def test_initializer_round_trips_and_names_itself_when_wrong():
    head = kc.layers.ProjectionHead(8, hidden_dims=(16,), initializer="torch")
    assert head.get_config()["initializer"] == "torch"
    again = kc.layers.ProjectionHead.from_config(head.get_config())
    assert again.initializer == "torch"
    with pytest.raises(ValueError, match="initializer"):
        kc.layers.PredictionHead(8, initializer="pytorch")
