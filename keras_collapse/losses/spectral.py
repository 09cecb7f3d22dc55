"""Spectral contrastive loss (HaoChen et al. 2021, arXiv 2106.04156)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse.distribute import global_batch
from keras_collapse.losses import _ops
from keras_collapse.losses._base import PairLoss


def spectral_contrastive(z_a, z_b):
    """Per-anchor spectral contrastive loss.

    `L = −2·E_i[z_a,i · z_b,i] + E_{i≠j}[(z_a,i · z_b,j)²]`, written per anchor
    as `ℓ_i = −2 z_a,i·z_b,i + (1/(N−1)) Σ_{j≠i} (z_a,i·z_b,j)²`, whose mean
    over the batch is exactly `L`. Under a `tf.distribute` strategy the
    `j` run over the global batch.

    Args:
        z_a: Embeddings of view a, shape `(batch_size, dim)`.
        z_b: Embeddings of view b, shape `(batch_size, dim)`.

    Returns:
        Per-example losses, shape `(batch_size,)`, float32.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [1.0, 1.0]], "float32")
    >>> # l_0 = -2*1 + (1·1)^2 = -1 ; l_1 = -2*2 + (1·1)^2 = -3
    >>> spectral_contrastive(z, z).numpy()
    array([-1., -3.], dtype=float32)

    Reference: HaoChen, Wei, Gaidon, Ma, "Provable Guarantees for
    Self-Supervised Deep Learning with Spectral Contrastive Loss",
    NeurIPS 2021, arXiv 2106.04156.
    """
    z_a, z_b = _ops.check_pair(z_a, z_b, min_batch=2)
    candidates, offset = global_batch(z_b)
    return _per_anchor(z_a, candidates, offset)


def _per_anchor(z_a, candidates, offset):
    """ℓ_i from `S = z_a candidatesᵀ`; anchor i's positive is column offset + i.

    The gradient is hand-written: `∂ℓ_i/∂S_ij = 2 S_ij/(N−1)` off the positive
    and `−2` at it, so with per-anchor upstream `w` one pass over `S` forms
    `G` and each view's gradient is one matmul (checked against central
    differences of the NumPy formula in tests/test_losses_gradients.py).
    """
    n = tf.shape(z_a)[0]
    own = tf.stack([tf.range(n), tf.range(n) + offset], axis=1)
    inverse = 1.0 / tf.cast(tf.shape(candidates)[0] - 1, tf.float32)

    @tf.custom_gradient
    def fused(z_a, candidates):
        s = tf.matmul(z_a, candidates, transpose_b=True)
        positive = tf.gather_nd(s, own)
        negative = tf.reduce_sum(tf.square(s), axis=1) - tf.square(positive)

        def grad(upstream):
            g = (2.0 * inverse) * upstream[:, tf.newaxis] * s
            g = tf.tensor_scatter_nd_update(g, own, -2.0 * upstream)
            return tf.matmul(g, candidates), tf.matmul(g, z_a, transpose_a=True)

        return -2.0 * positive + negative * inverse, grad

    return fused(z_a, candidates)


@keras.saving.register_keras_serializable(package="keras_collapse")
class SpectralContrastive(PairLoss):
    """Spectral contrastive loss, see :func:`spectral_contrastive`.

    Per-example (per-anchor) loss of shape `(batch_size,)`; its mean is the
    paper's whole-batch objective.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [1.0, 1.0]], "float32")
    >>> float(SpectralContrastive()(z, z))
    -2.0

    Reference: arXiv 2106.04156.
    """

    fn = staticmethod(spectral_contrastive)
    min_batch = 2
