"""VICReg (Bardes, Ponce, LeCun 2022, arXiv 2105.04906)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import global_batch
from keras_collapse.losses import _fused, _ops
from keras_collapse.losses._base import PairLoss


def _variance_term(z, epsilon):
    """mean_k relu(1 − sqrt(Var_k(z) + ε)), unbiased variance as in the code."""
    n = tf.cast(tf.shape(z)[0], tf.float32)
    centered = z - tf.reduce_mean(z, axis=0)
    variance = tf.reduce_sum(tf.square(centered), axis=0) / (n - 1.0)
    return tf.reduce_mean(tf.nn.relu(1.0 - tf.sqrt(variance + epsilon)))


def _covariance_term(z):
    """Σ_{i≠j} Cov(z)_ij² / dim with the unbiased covariance."""
    n = tf.cast(tf.shape(z)[0], tf.float32)
    centered = z - tf.reduce_mean(z, axis=0)
    off_diagonal = _fused.off_diagonal_square_sum_of_product(centered, centered, 1.0 / (n - 1.0))
    return off_diagonal / tf.cast(tf.shape(z)[1], tf.float32)


def vicreg(
    z_a,
    z_b,
    invariance_weight=25.0,
    variance_weight=25.0,
    covariance_weight=1.0,
    epsilon=1e-4,
):
    """VICReg loss (a scalar over the batch).

    `L = λ·mean((z_a − z_b)²) + μ·[v(z_a) + v(z_b)]/2 + ν·[c(z_a) + c(z_b)]`
    with the variance hinge `v(z) = mean_k relu(1 − sqrt(Var(z_k) + ε))` and the
    covariance penalty `c(z) = Σ_{i≠j} Cov(z)_ij² / dim` (as in the authors'
    code). Under a `tf.distribute` strategy the statistics are global.

    Args:
        z_a: Embeddings of view a, shape `(batch_size, dim)`.
        z_b: Embeddings of view b, shape `(batch_size, dim)`.
        invariance_weight: λ. Defaults to `25.0`.
        variance_weight: μ. Defaults to `25.0`.
        covariance_weight: ν. Defaults to `1.0`. (The WERank paper uses
            `(10, 10, 1)`.)
        epsilon: ε inside the square root. Defaults to `1e-4`.

    Returns:
        Scalar float32 loss.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 1.0], [-1.0, -1.0]], "float32")
    >>> # invariance 0; std = sqrt(2 + 1e-4) > 1 so variance 0;
    >>> # Cov = [[2, 2], [2, 2]]: off-diagonal 2*4/2 = 4 per view
    >>> round(float(vicreg(z, z)), 3)
    8.0

    Reference: Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR 2022, arXiv 2105.04906.
    """
    weights = [
        _checks.non_negative_float(name, value)
        for name, value in (
            ("invariance_weight", invariance_weight),
            ("variance_weight", variance_weight),
            ("covariance_weight", covariance_weight),
        )
    ]
    epsilon = _checks.positive_float("epsilon", epsilon)
    z_a, z_b = _ops.check_pair(z_a, z_b, min_batch=2)
    z_a, _ = global_batch(z_a)
    z_b, _ = global_batch(z_b)
    invariance = tf.reduce_mean(tf.square(z_a - z_b))
    variance = 0.5 * (_variance_term(z_a, epsilon) + _variance_term(z_b, epsilon))
    covariance = _covariance_term(z_a) + _covariance_term(z_b)
    return weights[0] * invariance + weights[1] * variance + weights[2] * covariance


@keras.saving.register_keras_serializable(package="keras_collapse")
class VICReg(PairLoss):
    """VICReg loss, see :func:`vicreg`. A whole-batch objective (scalar).

    Args:
        invariance_weight: Defaults to `25.0`.
        variance_weight: Defaults to `25.0`.
        covariance_weight: Defaults to `1.0`.
        epsilon: Defaults to `1e-4`.

    Example:

    >>> loss = VICReg(10.0, 10.0, 1.0)  # the WERank paper's coefficients
    >>> loss.get_config()["variance_weight"]
    10.0

    Reference: arXiv 2105.04906.
    """

    fn = staticmethod(vicreg)
    whole_batch = True
    min_batch = 2
    settings = ("invariance_weight", "variance_weight", "covariance_weight", "epsilon")

    def __init__(
        self,
        invariance_weight=25.0,
        variance_weight=25.0,
        covariance_weight=1.0,
        epsilon=1e-4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.invariance_weight = _checks.non_negative_float(
            "invariance_weight", invariance_weight
        )
        self.variance_weight = _checks.non_negative_float(
            "variance_weight", variance_weight
        )
        self.covariance_weight = _checks.non_negative_float(
            "covariance_weight", covariance_weight
        )
        self.epsilon = _checks.positive_float("epsilon", epsilon)
