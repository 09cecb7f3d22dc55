"""NT-Xent, the SimCLR objective (Chen et al. 2020, arXiv 2002.05709)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import global_batch, num_replicas
from keras_collapse.losses import _ops
from keras_collapse.losses._base import PairLoss


def nt_xent(z_a, z_b, temperature=0.5):
    """Per-example NT-Xent (normalised temperature-scaled cross-entropy).

    The 2N embeddings `h = [z_a; z_b]` are ℓ2-normalised; each of the 2N anchors
    has one positive (the other view of its example) and 2N − 2 negatives:
    `ℓ_k = −s_{k,p(k)} + log Σ_{m≠k} exp(s_km)` with `s_km = h_k · h_m / τ`.
    The loss of example i is `(ℓ_i + ℓ_{N+i}) / 2`, so its batch mean is the
    mean over the 2N anchors. Under a `tf.distribute` strategy negatives come
    from the global batch. One `(2N, 2N)` similarity matrix is formed.

    Args:
        z_a: Embeddings of view a, shape `(batch_size, dim)`.
        z_b: Embeddings of view b, shape `(batch_size, dim)`.
        temperature: Positive float τ. Defaults to `0.5`.

    Returns:
        Per-example losses, shape `(batch_size,)`, float32.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    >>> # each anchor: positive cos 1, negatives cos 0 and 0
    >>> np.round(nt_xent(z, z, temperature=1.0).numpy(), 4)  # log(1 + 2/e)
    array([0.5514, 0.5514], dtype=float32)

    Reference: Chen et al., "A Simple Framework for Contrastive Learning of
    Visual Representations", ICML 2020, arXiv 2002.05709.
    """
    temperature = _checks.positive_float("temperature", temperature)
    z_a, z_b = _ops.check_pair(z_a, z_b, min_batch=2)
    if num_replicas() == 1:
        per_anchor = _symmetric(_ops.l2_normalize(tf.concat([z_a, z_b], axis=0)), temperature)
    else:
        per_anchor = _gathered(_ops.l2_normalize(z_a), _ops.l2_normalize(z_b), temperature)
    n = tf.shape(z_a)[0]
    return 0.5 * (per_anchor[:n] + per_anchor[n:])


def _gathered(h_a, h_b, temperature):
    """Per-anchor losses of the local anchors against the global batch."""
    global_a, offset = global_batch(h_a)
    global_b, _ = global_batch(h_b)
    n = tf.shape(h_a)[0]
    big_n = tf.shape(global_a)[0]
    logits = _ops.scaled_similarity(tf.concat([h_a, h_b], axis=0),
                                    tf.concat([global_a, global_b], axis=0), 1.0 / temperature)
    local = tf.range(n) + offset
    own = tf.concat([local, local + big_n], axis=0)
    logits -= _ops.MASK_PENALTY * tf.one_hot(own, 2 * big_n, dtype=tf.float32)
    return _ops.cross_entropy(logits, tf.concat([local + big_n, local], axis=0))


# Above this 1/τ the logits of unit vectors, |s| ≤ 1/τ, are exponentiated with
# a per-row shift; at or below it exp(s) itself stays finite and normal in
# float32 (e^±50, times any batch size), which keeps exp(S) symmetric.
_UNSHIFTED_MAX_INVERSE_TEMPERATURE = 50.0


def _pairs(matrix, n):
    """Entries `(i, p(i))` of a `(2N, 2N)` matrix, `p(i) = i ± N`: its ±N-th diagonals."""
    # A diagonal index held in a tensor leaves the rank unknown: restore it.
    return tf.reshape(tf.concat([tf.linalg.diag_part(matrix, k=n),
                                 tf.linalg.diag_part(matrix, k=-n)], axis=0), [-1])


def _set_pairs(matrix, values, n):
    """`matrix` with its entries `(i, p(i))` replaced by the `(2N,)` `values`."""
    matrix = tf.linalg.set_diag(matrix, values[:n], k=n)
    return tf.linalg.set_diag(matrix, values[n:], k=-n)


def _symmetric(h, temperature):
    """Per-anchor losses of the `(2N, d)` unit anchors `h = [h_a; h_b]` (one replica).

    The logits `S = h hᵀ / τ` are symmetric, so with `G = ∂L/∂S` the gradient
    `(G + Gᵀ) h / τ` takes one matmul where automatic differentiation takes
    two (checked against central differences of the NumPy formula in
    tests/test_losses_gradients.py).
    """
    if 1.0 / temperature <= _UNSHIFTED_MAX_INVERSE_TEMPERATURE:
        return _symmetric_unshifted(h, temperature)
    return _symmetric_row_shifted(h, temperature)


def _symmetric_unshifted(h, temperature):
    """`E = exp(S)` with a zero diagonal is symmetric, and so is the gradient.

    With row sums `Z` and `a = w / (τ Z)`, `G + Gᵀ = E ∘ (aᵢ + aⱼ)` except at
    the positives `(i, p(i))`, which lie on the ±N-th diagonals: two passes
    over `E` in the backward and no transpose. Positives are read from those
    diagonals of `S`.
    """
    two_n = tf.shape(h)[0]
    n = two_n // 2

    @tf.custom_gradient
    def fused(h):
        logits = _ops.scaled_similarity(h, h, 1.0 / temperature)
        positive = _pairs(logits, n)
        e = tf.linalg.set_diag(tf.exp(logits), tf.zeros([two_n]))
        z = tf.reduce_sum(e, axis=1)

        def grad(upstream):
            weight = upstream / temperature
            a = weight / z
            g = e * (a[:, tf.newaxis] + a[tf.newaxis, :])
            # At (i, p(i)): e·(aᵢ + a_p(i)) − (wᵢ + w_p(i))/τ, with p(i) = i ± N.
            pair_a, pair_w = (tf.reduce_sum(tf.reshape(x, [2, n]), axis=0) for x in (a, weight))
            pairs = tf.exp(positive) * tf.tile(pair_a, [2]) - tf.tile(pair_w, [2])
            return tf.matmul(_set_pairs(g, pairs, n), h)

        return tf.math.log(z) - positive, grad

    return fused(h)


def _symmetric_row_shifted(h, temperature):
    """Small τ: log-sum-exp with a per-row shift; `(G + Gᵀ) h` in one matmul.

    The anchors' own entries are overwritten in one pass.
    """
    two_n = tf.shape(h)[0]
    n = two_n // 2

    @tf.custom_gradient
    def fused(h):
        logits = _ops.scaled_similarity(h, h, 1.0 / temperature)
        positive = _pairs(logits, n)
        logits = tf.linalg.set_diag(
            logits, tf.fill([two_n], tf.constant(-_ops.MASK_PENALTY, tf.float32)))
        log_normalizer = tf.reduce_logsumexp(logits, axis=1)

        def grad(upstream):
            # G = diag(w/τ)(softmax(S) − onehot(p)), 1/τ folded in; then
            # ∂L/∂h = (G + Gᵀ) h: one matmul, no (2N, d) passes.
            weight = upstream / temperature
            g = tf.exp(logits - log_normalizer[:, tf.newaxis]) * weight[:, tf.newaxis]
            g = _set_pairs(g, _pairs(g, n) - weight, n)
            return tf.matmul(g + tf.transpose(g), h)

        return log_normalizer - positive, grad

    return fused(h)


@keras.saving.register_keras_serializable(package="keras_collapse")
class NTXent(PairLoss):
    """SimCLR's NT-Xent loss, see :func:`nt_xent`.

    Per-example loss of shape `(batch_size,)`.

    Args:
        temperature: Positive float τ. Defaults to `0.5`.
        name, reduction, dtype: As for `keras.losses.Loss` (float32 compute).

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z_a = rng.normal(size=(8, 4)).astype("float32")
    >>> loss = NTXent(temperature=0.1)
    >>> bool(loss(z_a, z_a) < loss(z_a, -z_a))
    True

    `model.compile(optimizer="adam", loss=kc.losses.NTXent(0.1))`.

    Reference: arXiv 2002.05709.
    """

    fn = staticmethod(nt_xent)
    min_batch = 2
    settings = ("temperature",)

    def __init__(self, temperature=0.5, **kwargs):
        super().__init__(**kwargs)
        self.temperature = _checks.positive_float("temperature", temperature)
