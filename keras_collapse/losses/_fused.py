"""Off-diagonal square sum of a `(d, d)` product, with a gradient that reuses it.

Automatic differentiation of `Σ f(M)` for a product `M` makes several
elementwise passes over `M` and its gradient before the two backward matmuls.
For squared entries the gradient is linear in `M`, so the backward pass can
multiply by `M` itself and apply scalings and the diagonal correction on the
`(N, d)` operands: no pass over the big matrix besides the matmuls (issue 7,
BENCHMARKS.md). Values and gradients are checked against central
differences of the NumPy references in tests/test_losses_gradients.py.
"""

from __future__ import annotations

import tensorflow as tf


def off_diagonal_square_sum_of_product(a, b, scale):
    """`Σ_{i≠j} M_ij²` of `M = scale · aᵀ b` (Barlow Twins, VICReg).

    Args:
        a: `(N, d)` float32.
        b: `(N, d)` float32 (may be `a` itself).
        scale: scalar float32 multiplying the product.

    Returns:
        Scalar float32. Gradient, with `D = 2(M − diag M)`:
        `∂/∂a = scale · b Dᵀ` and `∂/∂b = scale · a D`, computed as products
        with `M` and column scalings of `a` and `b`. Diagonal terms are the
        caller's, from :func:`diagonal_of_product`.
    """

    # With a is b (a covariance) M is symmetric and both gradients are a M.
    same = a is b

    @tf.custom_gradient
    def fused(a, b):
        m = tf.matmul(a * scale, b, transpose_a=True)
        diagonal = tf.linalg.diag_part(m)
        off = 2.0 * tf.nn.l2_loss(m) - tf.reduce_sum(tf.square(diagonal))

        def grad(upstream):
            factor = 2.0 * scale * upstream
            grad_b = factor * (tf.matmul(a, m) - a * diagonal)
            if same:
                return grad_b, grad_b
            # An explicit transpose and a plain matmul beat transpose_b here.
            grad_a = factor * (tf.matmul(b, tf.transpose(m)) - b * diagonal)
            return grad_a, grad_b

        return off, grad

    return fused(a, b)


def diagonal_of_product(a, b, scale):
    """`diag(scale · aᵀ b)` from the `(N, d)` operands (O(N·d), differentiable)."""
    return scale * tf.reduce_sum(a * b, axis=0)
