"""Gradients of every objective against central differences of its NumPy
reference (float64, tests/reference.py).

Several objectives have hand-written gradients (keras_collapse/losses/_fused.py,
the one-replica NT-Xent and InfoNCE paths), so the gradient is checked here
independently of TensorFlow's automatic differentiation, with non-uniform
per-example weights (as `sample_weight` gives) and a small temperature.
"""

import numpy as np
import pytest
import reference as ref
import tensorflow as tf
from test_losses import LOSSES, _spectral_per_anchor, make_views

CASES = [case for case in LOSSES if not case.siamese]


def _reference(case, view_a, view_b, **overrides):
    if case.id == "spectral":
        return _spectral_per_anchor(view_a, view_b)
    return case.reference_value(view_a, view_b, **overrides)


# NT-Xent exponentiates its logits unshifted for 1/τ ≤ 50 and with a per-row
# shift above; τ = 0.01 takes the second path.
PARAMS = [(case, {}) for case in CASES] + [
    (case, {"temperature": tau}) for case in CASES if case.temperature
    for tau in ((0.05, 0.01) if case.id == "ntxent" else (0.05,))]


@pytest.mark.parametrize(
    "case, overrides", PARAMS,
    ids=[case.id + "".join(f"-tau{v}" for v in overrides.values()) for case, overrides in PARAMS])
def test_gradient_matches_central_differences_of_reference(case, overrides):
    view_a, view_b = make_views(case, seed=30, n=6, dim=4, scale=0.5)
    weights = np.random.default_rng(31).uniform(0.2, 2.0, size=6)

    def reference_objective(a, b):
        value = _reference(case, a, b, **overrides)
        return float(np.sum(weights * value)) if case.per_example else float(value)

    a, b = tf.constant(view_a), tf.constant(view_b)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        value = case.call_fn(a, b, **overrides)
        if case.per_example:
            value = tf.reduce_sum(tf.constant(weights, tf.float32) * value)
    got_a, got_b = tape.gradient(value, [a, b])

    a64, b64 = ref._f64(view_a), ref._f64(view_b)
    expected_a = ref.numeric_gradient(lambda x: reference_objective(x, b64), a64)
    expected_b = ref.numeric_gradient(lambda x: reference_objective(a64, x), b64)
    scale = max(np.abs(expected_a).max(), np.abs(expected_b).max())
    np.testing.assert_allclose(got_a.numpy(), expected_a, rtol=1e-3, atol=1e-4 * scale)
    np.testing.assert_allclose(got_b.numpy(), expected_b, rtol=1e-3, atol=1e-4 * scale)
