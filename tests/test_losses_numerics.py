"""Numerical checks of every objective, driven by the table in test_losses.py:
eager = tf.function = XLA, mixed-precision inputs, small temperatures and huge
embeddings (finite values and gradients)."""

import numpy as np
import pytest
import tensorflow as tf

import reference as ref
from test_losses import BY_ID, LOSSES, TEMPERATURE, make_views

ids = pytest.mark.parametrize("case", LOSSES, ids=lambda c: c.id)


def _tensors(view):
    if isinstance(view, tuple):
        return tuple(tf.constant(x) for x in view)
    return tf.constant(view)


def _cast(view, dtype):
    return tf.nest.map_structure(lambda x: tf.cast(x, dtype), view)


def _loss_and_grads(loss_fn, view_a, view_b):
    flat = tf.nest.flatten((view_a, view_b))
    with tf.GradientTape() as tape:
        tape.watch(flat)
        loss = loss_fn(view_a, view_b)
    grads = tape.gradient(loss, flat)
    return loss, [g for g in grads if g is not None]


# ------------------------------------------------- eager / graph / XLA
@ids
def test_eager_graph_and_xla_agree(case):
    view_a, view_b = (_tensors(v) for v in make_views(case, seed=20))
    loss = case.make()

    def per_example(a, b):
        return case.call_fn(a, b)

    eager = per_example(view_a, view_b).numpy()
    graph = tf.function(per_example)(view_a, view_b).numpy()
    xla = tf.function(per_example, jit_compile=True)(view_a, view_b).numpy()
    np.testing.assert_allclose(graph, eager, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xla, eager, rtol=1e-4, atol=1e-5)

    # the class, with its gradients, compiled once by XLA
    value, g_eager = _loss_and_grads(loss, view_a, view_b)
    graph_cls = float(tf.function(lambda a, b: loss(a, b))(view_a, view_b))
    xla_cls, g_xla = tf.function(lambda a, b: _loss_and_grads(loss, a, b), jit_compile=True)(
        view_a, view_b)
    assert graph_cls == pytest.approx(float(value), rel=1e-5, abs=1e-6)
    assert float(xla_cls) == pytest.approx(float(value), rel=1e-4, abs=1e-5)
    assert len(g_eager) == len(g_xla) > 0
    for a, b in zip(g_eager, g_xla):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in LOSSES if c.id in
                                  ("infonce_dot_sym", "ntxent", "barlow_twins", "byol")],
                         ids=lambda c: c.id)
def test_graph_with_unknown_batch_size(case):
    """A tf.function traced with a None batch dimension (as in fit) still matches."""
    view_a, view_b = (_tensors(v) for v in make_views(case, seed=21))
    spec = tf.nest.map_structure(lambda x: tf.TensorSpec((None, x.shape[1]), tf.float32),
                                 (view_a, view_b))
    fn = tf.function(lambda a, b: case.call_fn(a, b), input_signature=list(spec))
    np.testing.assert_allclose(fn(view_a, view_b).numpy(),
                               case.call_fn(view_a, view_b).numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------- mixed precision
# Inputs of scale ~1 rounded to float16 (relative rounding 2^-11 ≈ 4.9e-4) or
# bfloat16 (2^-8 ≈ 3.9e-3) change the loss by a few times that: tolerances are
# |Δ| ≤ 5e-3·(1 + |L|) for float16 and 3e-2·(1 + |L|) for bfloat16. Computed in
# float32 on the *rounded* inputs the value must agree to float32 round-off.
TOLERANCE = {"float16": 5e-3, "bfloat16": 3e-2}


@ids
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mixed_precision_inputs_give_float32_close_to_float32(case, dtype):
    view_a, view_b = (_tensors(v) for v in make_views(case, seed=22))
    loss = case.make()
    full = float(loss(view_a, view_b))
    low_a, low_b = _cast(view_a, dtype), _cast(view_b, dtype)
    out = loss(low_a, low_b)
    assert out.dtype == tf.float32
    assert abs(float(out) - full) <= TOLERANCE[dtype] * (1 + abs(full))
    rounded = float(loss(_cast(low_a, tf.float32), _cast(low_b, tf.float32)))
    assert float(out) == pytest.approx(rounded, rel=1e-5, abs=1e-6)

    per_example = case.call_fn(low_a, low_b)
    assert per_example.dtype == tf.float32
    expected = case.call_fn(view_a, view_b).numpy()
    assert np.all(np.abs(per_example.numpy() - expected)
                  <= TOLERANCE[dtype] * (1 + np.abs(expected)))


@ids
def test_float64_inputs_give_float32(case):
    view_a, view_b = make_views(case, seed=23)
    as64 = tf.nest.map_structure(lambda x: x.astype("float64"), (view_a, view_b))
    out = case.make()(*as64)
    assert out.dtype == tf.float32
    assert float(out) == pytest.approx(float(case.make()(view_a, view_b)), rel=1e-6)


# -------------------------------------------------------------- extremes
@pytest.mark.parametrize("case", TEMPERATURE, ids=lambda c: c.id)
def test_small_temperature_is_finite_and_correct(case):
    """τ = 0.01: logits up to ~100 (dot/cosine) or distances/0.02; the float64
    exp-then-log reference still fits, so the value must match it too."""
    scale = 0.3 if "gauss" in case.id else 1.0 / np.sqrt(5)
    view_a, view_b = (_tensors(v) for v in make_views(case, seed=24, scale=scale))
    loss = case.make(temperature=0.01)
    value, grads = _loss_and_grads(loss, view_a, view_b)
    assert np.isfinite(float(value))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    expected = np.mean(case.reference_value(make_views(case, 24, scale=scale)[0],
                                            make_views(case, 24, scale=scale)[1],
                                            temperature=0.01))
    assert float(value) == pytest.approx(expected, rel=1e-4, abs=1e-4)


def _to_norm(view, norm):
    return tf.nest.map_structure(
        lambda x: (norm * x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32"), view)


def _cases_and_temperatures():
    for case in LOSSES:
        yield pytest.param(case, None, id=f"{case.id}-default")
        if case.temperature:
            yield pytest.param(case, 0.01, id=f"{case.id}-tau0.01")


@pytest.mark.parametrize("case,temperature", list(_cases_and_temperatures()))
def test_huge_embeddings_give_finite_loss_and_gradients(case, temperature):
    view_a, view_b = make_views(case, seed=25)
    big_a, big_b = _to_norm(view_a, 1e4), _to_norm(view_b, 1e4)
    overrides = {} if temperature is None else {"temperature": temperature}
    loss = case.make(**overrides)
    value, grads = _loss_and_grads(loss, _tensors(big_a), _tensors(big_b))
    assert np.isfinite(float(value))
    assert grads and all(np.all(np.isfinite(g.numpy())) for g in grads)
    # Scale-invariant objectives must give the value at norm 1.
    if case.id in ("ntxent", "simsiam", "byol", "barlow_twins"):
        unit = float(loss(*(_to_norm(v, 1.0) for v in (view_a, view_b))))
        # (Barlow Twins: up to the 1e-5 added to the per-dimension variance)
        assert float(value) == pytest.approx(unit, rel=2e-3, abs=1e-4)


def test_gaussian_infonce_huge_distances_matches_log_sum_exp_reference():
    """At norm 1e4 the plain reference underflows; the loss must equal the
    log-sum-exp form of the same formula (distances up to ~4e8)."""
    case = BY_ID["infonce_gauss_one"]
    view_a, view_b = make_views(case, seed=26, n=4, dim=3)
    big_a, big_b = _to_norm(view_a, 1e4).astype("float64"), _to_norm(view_b, 1e4).astype(
        "float64")
    tau = case.kwargs["temperature"]
    expected = []
    for i in range(len(big_a)):
        logits = [-np.sum((big_a[i] - big_b[i]) ** 2) / (2 * tau)] + [
            -np.sum((big_a[i] - big_a[j]) ** 2) / (2 * tau) for j in range(len(big_a)) if j != i]
        top = max(logits)
        expected.append(top + np.log(np.sum(np.exp(np.array(logits) - top))) - logits[0])
    got = case.call_fn(big_a.astype("float32"), big_b.astype("float32")).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    assert ref.info_nce(view_a, view_b, tau, "gaussian", False) == pytest.approx(
        case.call_fn(view_a, view_b).numpy(), rel=1e-5, abs=1e-6)
