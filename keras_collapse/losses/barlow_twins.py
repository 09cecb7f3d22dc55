"""Barlow Twins (Zbontar et al. 2021, arXiv 2103.03230)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import global_batch
from keras_collapse.losses import _fused, _ops
from keras_collapse.losses._base import PairLoss

# BatchNorm1d(affine=False) of the authors' code: biased variance, this epsilon.
STANDARDIZE_EPSILON = 1e-5


def standardize(z):
    """Per-dimension batch standardisation `(z − mean) / sqrt(var + 1e-5)`."""
    # TensorFlow's fused batch-norm kernel (and its one-kernel gradient) on a
    # (N, 1, 1, d) view: half the time of moments + normalise, same values.
    n, d = tf.shape(z)[0], tf.shape(z)[1]
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        tf.reshape(z, [n, 1, 1, d]), tf.ones([d]), tf.zeros([d]),
        epsilon=STANDARDIZE_EPSILON, is_training=True)
    y = tf.reshape(y, [n, d])
    y.set_shape(z.shape)
    return y


def barlow_twins(z_a, z_b, redundancy_weight=5e-3):
    """Barlow Twins redundancy-reduction loss (a scalar over the batch).

    With `ẑ` the per-dimension batch-standardised embeddings and the
    cross-correlation `C = ẑ_aᵀ ẑ_b / N`:
    `L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²`. Under a `tf.distribute` strategy
    the statistics are those of the global batch.

    Args:
        z_a: Embeddings of view a, shape `(batch_size, dim)`.
        z_b: Embeddings of view b, shape `(batch_size, dim)`.
        redundancy_weight: Non-negative λ weighting the off-diagonal terms.
            Defaults to `5e-3`.

    Returns:
        Scalar float32 loss (a whole-batch objective: no per-example values).

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 1.0], [-1.0, -1.0]], "float32")
    >>> # C is (almost) all ones: diagonal terms ~0, off-diagonal 2 * 1 * λ
    >>> round(float(barlow_twins(z, z, redundancy_weight=0.5)), 3)
    1.0

    Reference: Zbontar et al., "Barlow Twins: Self-Supervised Learning via
    Redundancy Reduction", ICML 2021, arXiv 2103.03230.
    """
    redundancy_weight = _checks.non_negative_float(
        "redundancy_weight", redundancy_weight
    )
    z_a, z_b = _ops.check_pair(z_a, z_b, min_batch=2)
    z_a, _ = global_batch(z_a)
    z_b, _ = global_batch(z_b)
    scale = 1.0 / tf.cast(tf.shape(z_a)[0], tf.float32)
    z_a, z_b = standardize(z_a), standardize(z_b)
    # C_ii from the (N, d) inputs; the off-diagonal sum's gradient multiplies
    # by C itself (no elementwise pass over the (d, d) matrix, see _fused).
    c_ii = _fused.diagonal_of_product(z_a, z_b, scale)
    on_diagonal = tf.reduce_sum(tf.square(1.0 - c_ii))
    off_diagonal = _fused.off_diagonal_square_sum_of_product(z_a, z_b, scale)
    return on_diagonal + redundancy_weight * off_diagonal


@keras.saving.register_keras_serializable(package="keras_collapse")
class BarlowTwins(PairLoss):
    """Barlow Twins loss, see :func:`barlow_twins`.

    A whole-batch objective: returns a scalar (so `sample_weight` is not
    supported).

    Args:
        redundancy_weight: λ for the off-diagonal terms. Defaults to `5e-3`.
        scale: Constant factor on the loss (solo-learn's `scale_loss`, 0.1 in
            its CIFAR recipe). Defaults to `1.0`.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(256, 8)).astype("float32")
    >>> bool(BarlowTwins()(z, z) < BarlowTwins()(z, rng.normal(size=(256, 8))))
    True

    Reference: arXiv 2103.03230.
    """

    fn = staticmethod(barlow_twins)
    whole_batch = True
    min_batch = 2
    settings = ("redundancy_weight",)

    def __init__(self, redundancy_weight=5e-3, **kwargs):
        super().__init__(**kwargs)
        self.redundancy_weight = _checks.non_negative_float(
            "redundancy_weight", redundancy_weight
        )
