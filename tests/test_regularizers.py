"""Tests of keras_collapse.regularizers: WERank, werank_penalty, attach_werank."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
import reference as ref

R = kc.regularizers

SHAPES = [(8, 4), (4, 8), (5, 5), (3, 3, 2, 5), (1, 1, 2, 5), (2, 2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_matches_numpy_reference(shape, alpha):
    """Dense (d_in ≥ d_out and d_in < d_out) and conv kernels
    (k·k·c_in ≥ c_out: (3,3,2,5) → 18×5; k·k·c_in < c_out: (1,1,2,5) → 2×5)."""
    kernel = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = ref.werank(kernel, alpha)
    assert float(R.werank_penalty(kernel, alpha)) == pytest.approx(expected, rel=1e-5)
    assert float(R.WERank(alpha)(tf.constant(kernel))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gradient_matches_central_differences_of_reference(shape):
    """The penalty's hand-written gradient against the NumPy formula."""
    kernel = tf.constant(np.random.default_rng(2).normal(size=shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        value = R.werank_penalty(kernel, alpha=0.7)
    got = tape.gradient(value, kernel).numpy()
    expected = ref.numeric_gradient(lambda w: ref.werank(w, 0.7), kernel.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_hand_worked_values():
    """W = [[1, 0], [0, 2], [0, 0]] (3×2, d_in ≥ d_out): WᵀW = diag(1, 4),
    ‖WᵀW − I‖_F = ‖diag(0, 3)‖_F = 3, so α = 0.1 gives 0.3.

    W = [[1, 1]] (1×2, d_in < d_out): WWᵀ = [2], ‖[2] − I‖ = 1 — not the
    (rank-deficient) WᵀW = [[1, 1], [1, 1]] whose distance to I would be √2.
    """
    w = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], "float32")
    assert float(R.werank_penalty(w, alpha=0.1)) == pytest.approx(0.3, rel=1e-6)
    wide = np.array([[1.0, 1.0]], "float32")
    assert float(R.werank_penalty(wide, alpha=1.0)) == pytest.approx(1.0, rel=1e-6)
    assert float(R.werank_penalty(wide, alpha=1.0)) != pytest.approx(math.sqrt(2))
    # conv kernel (1, 1, 3, 2) flattens to the 3×2 matrix above
    assert float(R.werank_penalty(w.reshape(1, 1, 3, 2), alpha=0.1)) == pytest.approx(0.3)


def test_zero_at_orthonormal_kernel_with_finite_zero_gradient():
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 3)))
    kernel = tf.Variable(q.astype("float32"))
    with tf.GradientTape() as tape:
        value = R.werank_penalty(kernel, alpha=1.0)
    grad = tape.gradient(value, kernel).numpy()
    assert float(value) < 1e-3
    assert np.all(np.isfinite(grad))
    exact = tf.Variable(tf.eye(3))
    with tf.GradientTape() as tape:
        value = R.werank_penalty(exact, alpha=1.0)
    grad = tape.gradient(value, exact).numpy()
    assert float(value) == 0.0
    assert np.all(grad == 0.0)


@pytest.mark.parametrize("shape", [(12, 6), (4, 9), (3, 3, 2, 8)], ids=str)
def test_minimising_alone_drives_singular_values_to_one(shape):
    """400 Adam steps (lr 1e-2, halved every 100 steps) on α‖WᵀW − I‖_F alone
    bring every singular value of the (flattened) kernel to within 0.02 of 1,
    starting from a random kernel whose singular values spread well beyond."""
    keras.utils.set_random_seed(0)
    init = np.random.default_rng(2).normal(scale=0.6, size=shape).astype("float32")
    flat = init.reshape(-1, shape[-1])
    assert np.max(np.abs(np.linalg.svd(flat, compute_uv=False) - 1)) > 0.3
    kernel = tf.Variable(init)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        1e-2, decay_steps=100, decay_rate=0.5, staircase=True)
    optimizer = keras.optimizers.Adam(schedule)
    regularizer = R.WERank(alpha=1.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = regularizer(kernel)
        optimizer.apply_gradients([(tape.gradient(value, kernel), kernel)])
        return value

    first = float(step())
    for _ in range(399):
        last = float(step())
    sigma = np.linalg.svd(kernel.numpy().reshape(-1, shape[-1]), compute_uv=False)
    assert last < 0.05 * first
    np.testing.assert_allclose(sigma, 1.0, atol=0.02)


def test_serialization_round_trip():
    reg = R.WERank(alpha=0.25)
    kernel = np.random.default_rng(3).normal(size=(5, 3)).astype("float32")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert isinstance(restored, R.WERank)
    assert restored.get_config() == reg.get_config() == {"alpha": 0.25}
    assert float(restored(kernel)) == pytest.approx(float(reg(kernel)))
    again = R.WERank.from_config(reg.get_config())
    assert float(again(kernel)) == pytest.approx(ref.werank(kernel, 0.25), rel=1e-5)
    via_get = keras.regularizers.get(keras.regularizers.serialize(reg))
    assert isinstance(via_get, R.WERank) and via_get.alpha == 0.25


@pytest.mark.parametrize("shape", [(5,), (3, 4, 5), (1, 2, 3, 4, 5)], ids=str)
def test_kernel_of_wrong_rank_raises(shape):
    with pytest.raises(ValueError, match=r"argument `kernel`.*kernel.shape="):
        R.WERank(0.1)(np.ones(shape, "float32"))
    with pytest.raises(ValueError, match=r"argument `kernel`"):
        R.werank_penalty(np.ones(shape, "float32"))


def test_negative_or_bad_alpha_raises():
    with pytest.raises(ValueError, match="argument `alpha`"):
        R.WERank(alpha=-1)
    with pytest.raises(ValueError, match="argument `alpha`"):
        R.werank_penalty(np.eye(2), alpha=-0.5)
    with pytest.raises(TypeError, match="argument `alpha`"):
        R.WERank(alpha="0.1")


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(8, name="d1"),
        keras.layers.Dense(3, name="d2"),
    ])


def _kernel(model, name):
    return model.get_layer(name).kernel.numpy()


def test_attach_werank_to_every_kernel():
    model = _model()
    assert model.losses == []
    attached = R.attach_werank(model, 0.2)
    assert attached == ["conv", "d1", "d2"]
    assert len(model.losses) == 3
    expected = sum(ref.werank(_kernel(model, name), 0.2) for name in attached)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    for name in attached:
        assert isinstance(model.get_layer(name).kernel_regularizer, R.WERank)
    assert model.get_layer("bn").losses == []


def test_attach_werank_per_layer_dict_and_callable():
    model = _model()
    assert R.attach_werank(model, {"conv": 0.5, "d2": 0.01}) == ["conv", "d2"]
    assert len(model.losses) == 2
    expected = ref.werank(_kernel(model, "conv"), 0.5) + ref.werank(_kernel(model, "d2"), 0.01)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert model.get_layer("d1").kernel_regularizer is None

    other = _model()
    chosen = R.attach_werank(other, lambda layer: 0.3 if layer.name.startswith("d") else None)
    assert chosen == ["d1", "d2"]
    assert [layer.kernel_regularizer.alpha for layer in other.layers[-2:]] == [0.3, 0.3]


def test_attach_werank_losses_enter_training_loss():
    """With α large the regularization dominates the compiled loss reported by
    evaluate; without it the loss is the plain MSE."""
    x = np.random.default_rng(4).normal(size=(16, 6, 6, 2)).astype("float32")
    y = np.zeros((16, 3), "float32")
    model = _model()
    model.compile(loss="mse")
    plain = model.evaluate(x, y, verbose=0)
    R.attach_werank(model, 1.0)
    model.compile(loss="mse")
    regularized = model.evaluate(x, y, verbose=0)
    assert regularized == pytest.approx(plain + float(sum(model.losses)), rel=1e-4)
    assert regularized > plain + 1.0


def test_attach_werank_errors():
    model = _model()
    with pytest.raises(ValueError, match=r"argument `alpha`.*\['nope'\]"):
        R.attach_werank(model, {"nope": 0.1})
    with pytest.raises(TypeError, match="argument `alpha`"):
        R.attach_werank(model, "0.1")
    with pytest.raises(ValueError, match="argument `alpha`"):
        R.attach_werank(model, -1.0)
    empty = keras.Sequential([keras.Input((3,)), keras.layers.ReLU()])
    with pytest.raises(ValueError, match="argument `model`"):
        R.attach_werank(empty)


def test_werank_dense_survives_save_and_load(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, kernel_regularizer=R.WERank(0.2), name="reg"),
        keras.layers.Dense(3, name="later"),
    ])
    R.attach_werank(model, {"later": 0.7})
    path = str(tmp_path / "werank.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for name, alpha in (("reg", 0.2), ("later", 0.7)):
        reg = loaded.get_layer(name).kernel_regularizer
        assert isinstance(reg, R.WERank) and reg.alpha == alpha
    assert len(loaded.losses) == 2
    np.testing.assert_allclose(sorted(float(v) for v in loaded.losses),
                               sorted(float(v) for v in model.losses), rtol=1e-6)
    x = np.ones((2, 5), "float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_attach_werank_adds_to_an_existing_regularizer(tmp_path):
    """A kernel with `kernel_regularizer=L2(1e-2)` keeps its L2 penalty and
    gains WERank's (their sum, against NumPy), also after save/load_model."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L2(1e-2),
                                                 name="l2"),
                              keras.layers.Dense(3, name="plain")])
    assert R.attach_werank(model, 0.3) == ["l2", "plain"]
    kernels = {name: _kernel(model, name) for name in ("l2", "plain")}
    expected = (1e-2 * np.sum(kernels["l2"].astype("float64") ** 2) + ref.werank(kernels["l2"], 0.3)
                + ref.werank(kernels["plain"], 0.3))
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert isinstance(model.get_layer("plain").kernel_regularizer, R.WERank)
    model.save(tmp_path / "both.keras")
    loaded = keras.saving.load_model(tmp_path / "both.keras")
    combined = loaded.get_layer("l2").kernel_regularizer
    assert isinstance(combined, R.Sum)
    assert [type(r).__name__ for r in combined.regularizers] == ["L2", "WERank"]
    assert float(sum(loaded.losses)) == pytest.approx(expected, rel=1e-5)


def test_attach_werank_twice_is_refused_before_any_change():
    model = _model()
    R.attach_werank(model, {"d1": 0.1})
    before = [type(layer.kernel_regularizer).__name__ for layer in model.layers if
              hasattr(layer, "kernel")]
    with pytest.raises(ValueError, match=r"argument `model`.*\['d1'\] already have a WERank"):
        R.attach_werank(model, 0.2)
    assert [type(layer.kernel_regularizer).__name__ for layer in model.layers
            if hasattr(layer, "kernel")] == before
    assert R.attach_werank(model, lambda layer: None if layer.name == "d1" else 0.2) == [
        "conv", "d2"]


def test_sum_refuses_an_empty_list():
    with pytest.raises(ValueError, match="argument `regularizers`"):
        R.Sum([])
