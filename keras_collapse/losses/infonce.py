"""InfoNCE in the forms of Jing et al. 2022 (arXiv 2110.09348) and their code,
with the positive weight α of Ziyin et al. 2023's weighted InfoNCE (arXiv 2210.00638)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import global_batch, num_replicas
from keras_collapse.losses import _ops
from keras_collapse.losses._base import PairLoss

SIMILARITIES = ("dot", "cosine", "gaussian")
PARTITIONS = ("weighted", "padded")


def _weighted_cross_entropy(logits, positive_index, positive_weight, partition="weighted"):
    """`−s_pos + log(α e^{s_pos} + Σ_neg e^{s_neg} [+ 1 − α])` per row (α = 1: cross-entropy)."""
    if positive_weight == 1.0:
        return _ops.cross_entropy(logits, positive_index)
    positive = tf.gather(logits, positive_index, axis=1, batch_dims=1)
    is_positive = tf.one_hot(positive_index, tf.shape(logits)[1], dtype=logits.dtype)
    # log α added to the positive's logit in the denominator only; α = 0 masks it.
    shift = (tf.math.log(positive_weight) if positive_weight > 0 else -_ops.MASK_PENALTY)
    logits = logits + shift * is_positive
    if partition == "padded":
        # The constant 1 − α (a logit log(1 − α)) fills the positive's slot.
        pad = tf.fill([tf.shape(logits)[0], 1], tf.math.log(
            tf.constant(1.0 - positive_weight, logits.dtype)))
        logits = tf.concat([logits, pad], axis=1)
    return tf.reduce_logsumexp(logits, axis=1) - positive


def _one_direction(anchors, positives, temperature, similarity, positive_weight=1.0,
                   partition="weighted"):
    """Per-anchor InfoNCE of `anchors` against the global batch."""
    n = tf.shape(anchors)[0]
    if similarity == "dot":
        # Code form: cross-entropy of z_a z_b^T / tau against the diagonal;
        # negatives are the other view's embeddings.
        candidates, offset = global_batch(positives)
        logits = _ops.scaled_similarity(anchors, candidates, 1.0 / temperature)
        return _weighted_cross_entropy(logits, tf.range(n) + offset, positive_weight,
                                       partition)
    # Paper form: s(u, v) = -|u - v|^2 / 2 (divided by tau); the positive is the
    # other view of the same example, negatives the same view's other examples.
    others, offset = global_batch(anchors)
    negatives = -_ops.squared_distances(anchors, others) / (2.0 * temperature)
    negatives -= _ops.MASK_PENALTY * _ops.self_mask(n, tf.shape(others)[0], offset)
    positive = -tf.reduce_sum(tf.square(anchors - positives), axis=1) / (
        2.0 * temperature
    )
    logits = tf.concat([positive[:, tf.newaxis], negatives], axis=1)
    return _weighted_cross_entropy(logits, tf.zeros_like(positive, tf.int32), positive_weight,
                                   partition)


def _symmetric_dot(z_a, z_b, temperature):
    """Both dot-form directions from ONE `(N, N)` logits matrix (one replica).

    Row i of `S = z_a z_bᵀ / τ` holds the a→b logits of anchor i and column i
    the b→a logits of anchor i, so the second matmul is not needed. The
    gradient `∂L/∂S = ½(diag(w) softmax_rows(S) + softmax_cols(S) diag(w)) −
    diag(w)` is formed in one expression and multiplied out, one matmul per
    view (checked against central differences of the NumPy formula in
    tests/test_losses_gradients.py).
    """

    @tf.custom_gradient
    def fused(z_a, z_b):
        logits = _ops.scaled_similarity(z_a, z_b, 1.0 / temperature)
        # The row- and column-shifted exponentials are kept for the backward
        # (two exp passes in all, where log-sum-exp and softmax take four).
        row_max = tf.reduce_max(logits, axis=1)
        column_max = tf.reduce_max(logits, axis=0)
        by_row = tf.exp(logits - row_max[:, tf.newaxis])
        by_column = tf.exp(logits - column_max[tf.newaxis, :])
        row_sum = tf.reduce_sum(by_row, axis=1)
        column_sum = tf.reduce_sum(by_column, axis=0)
        positive = tf.linalg.diag_part(logits)
        # max − positive first: exact 0 where the positive is the largest logit.
        value = 0.5 * ((row_max - positive) + tf.math.log(row_sum)
                       + (column_max - positive) + tf.math.log(column_sum))

        def grad(upstream):
            # ∂L/∂S with 1/τ folded in and the positives' −w_i on the diagonal:
            # both gradients are then one matmul each, no (N, d) passes.
            half = 0.5 * upstream / temperature
            g = (by_row * (half / row_sum)[:, tf.newaxis]
                 + by_column * (half / column_sum)[tf.newaxis, :])
            g = tf.linalg.set_diag(g, tf.linalg.diag_part(g) - upstream / temperature)
            return tf.matmul(g, z_b), tf.matmul(g, z_a, transpose_a=True)

        return value, grad

    return fused(z_a, z_b)


def info_nce(z_a, z_b, temperature=0.1, similarity="dot", symmetric=True, positive_weight=1.0,
             partition="weighted"):
    """Per-example InfoNCE loss between two views.

    Dot form (the authors' toy code): with logits `s_ij = z_a,i · z_b,j / τ`,
    `ℓ_i = −s_ii + log Σ_j exp(s_ij)`.

    Cosine form (the authors' DirectCLR code, ``directclr/main.py``
    ``infoNCE``): the dot form of the ℓ2-normalised embeddings,
    `s_ij = ẑ_a,i · ẑ_b,j / τ` with `ẑ = z / ‖z‖`; negatives are the other
    view's embeddings (SimCLR's NT-Xent also takes the same view's).

    Gaussian form (the paper's analysis, Lemma 1): with
    `s(u, v) = −‖u − v‖² / (2τ)`,
    `ℓ_i = −s(z_i, z'_i) + log(exp s(z_i, z'_i) + Σ_{j≠i} exp s(z_i, z_j))`;
    `τ = 1` is exactly the paper's loss.

    Weighted InfoNCE (Ziyin et al. 2023, arXiv 2210.00638): the positive's
    term in the denominator is multiplied by `α = positive_weight`,
    `ℓ_i = −s_pos + log(α exp s_pos + Σ_neg exp s_neg)`; `α = 1` is InfoNCE,
    `α = 0` leaves the positive out (what that paper calls NT-Xent). With
    `partition="padded"` the denominator is `α exp s_pos + (1 − α) +
    Σ_neg exp s_neg`: it holds `N` terms' worth at the origin (all logits 0),
    so the softmax weights there are `α/N` and `1/N`, the normalisation that
    paper's expansion `B = A0 − (1 − α) C / N` assumes. With the default
    `"weighted"` partition the weights at the origin are `α/(N − 1 + α)` and
    `1/(N − 1 + α)`, and for the Gaussian form the augmentation covariance `C`
    drops out of the second-order term for every α
    (:mod:`keras_collapse.theory.stationary`).

    With `symmetric=True` the loss averages the a→b and b→a directions.
    Under a `tf.distribute` strategy the negatives come from the global batch.

    Args:
        z_a: Embeddings of view a, shape `(batch_size, dim)`.
        z_b: Embeddings of view b, shape `(batch_size, dim)`.
        temperature: Positive float τ dividing the similarity. Defaults to `0.1`.
        similarity: `"dot"`, `"cosine"` or `"gaussian"`. Defaults to `"dot"`.
        symmetric: Whether to average both directions. Defaults to `True`.
        positive_weight: Non-negative float α weighting the positive in the
            denominator. Defaults to `1.0` (InfoNCE).
        partition: `"weighted"` (the denominator `α e^{s_pos} + Σ_neg e^{s_neg}`)
            or `"padded"` (plus the constant `1 − α`; needs `α ≤ 1`). The two
            agree at `α = 1`. Defaults to `"weighted"`.

    Returns:
        Per-example losses, shape `(batch_size,)`, float32.

    Example:

    >>> import numpy as np
    >>> z = np.eye(2, dtype="float32")
    >>> loss = info_nce(z, z, temperature=1.0)  # log(1 + e^-1) per example
    >>> np.round(loss.numpy(), 4)
    array([0.3133, 0.3133], dtype=float32)

    >>> # Cosine form: the scale of z does not matter.
    >>> np.round(info_nce(3.0 * z, z, temperature=1.0, similarity="cosine").numpy(), 4)
    array([0.3133, 0.3133], dtype=float32)

    >>> # α = 0: the positive left out of the denominator.
    >>> np.round(info_nce(z, z, temperature=1.0, positive_weight=0.0).numpy(), 4)
    array([-1., -1.], dtype=float32)

    >>> # Padded: the pad 1 − α = 1 joins the negative's e^0: log 2 − 1.
    >>> np.round(info_nce(z, z, temperature=1.0, positive_weight=0.0,
    ...                   partition="padded").numpy(), 4)
    array([-0.3069, -0.3069], dtype=float32)

    References: Jing et al., "Understanding Dimensional Collapse in
    Contrastive Self-Supervised Learning", ICLR 2022, arXiv 2110.09348; Ziyin
    et al., "What Shapes the Loss Landscape of Self-Supervised Learning?",
    ICLR 2023, arXiv 2210.00638 (weighted form).
    """
    temperature = _checks.positive_float("temperature", temperature)
    _checks.one_of("similarity", similarity, SIMILARITIES)
    positive_weight = _checks.non_negative_float("positive_weight", positive_weight)
    _check_partition(partition, positive_weight)
    z_a, z_b = _ops.check_pair(z_a, z_b, min_batch=2)
    if similarity == "cosine":
        z_a, z_b, similarity = _ops.l2_normalize(z_a), _ops.l2_normalize(z_b), "dot"
    if symmetric and similarity == "dot" and num_replicas() == 1 and positive_weight == 1.0:
        return _symmetric_dot(z_a, z_b, temperature)
    loss = _one_direction(z_a, z_b, temperature, similarity, positive_weight, partition)
    if symmetric:
        loss = 0.5 * (loss + _one_direction(z_b, z_a, temperature, similarity, positive_weight,
                                            partition))
    return loss


def _check_partition(partition, positive_weight):
    _checks.one_of("partition", partition, PARTITIONS)
    if partition == "padded" and positive_weight > 1.0:
        raise ValueError(
            "Invalid value for argument `positive_weight`. Expected α ≤ 1 with "
            "partition='padded' (the pad is 1 − α). Received: "
            f"positive_weight={positive_weight}"
        )


@keras.saving.register_keras_serializable(package="keras_collapse")
class InfoNCE(PairLoss):
    """InfoNCE contrastive loss (Jing et al. 2022), see :func:`info_nce`.

    Per-example loss of shape `(batch_size,)`, reduced by Keras (so
    `sample_weight` works).

    Args:
        temperature: Positive float τ. Defaults to `0.1` (the authors' code).
        similarity: `"dot"` (toy-code form, negatives from the other view),
            `"cosine"` (the same on ℓ2-normalised embeddings: the authors'
            DirectCLR code) or `"gaussian"` (the paper's −‖z_i − z_j‖²/2
            form). Defaults to `"dot"`.
        symmetric: Average the a→b and b→a directions. Defaults to `True`.
        positive_weight: α of the weighted InfoNCE of Ziyin et al. (arXiv
            2210.00638): the positive's weight in the denominator; `0` leaves
            it out. Defaults to `1.0`.
        partition: `"weighted"` or `"padded"` (the denominator padded with
            `1 − α`, as that paper's expansion assumes), see :func:`info_nce`.
            Defaults to `"weighted"`.
        name, reduction, dtype: As for `keras.losses.Loss`; computation is in
            float32 by default whatever the inputs.

    Example:

    >>> import numpy as np
    >>> loss = InfoNCE(temperature=1.0, similarity="gaussian")
    >>> z = np.array([[0.0, 0.0], [3.0, 4.0]], "float32")
    >>> float(np.round(loss(z, z), 4))  # log(1 + e^{-12.5})
    0.0

    Train with `model.compile(optimizer="adam", loss=kc.losses.InfoNCE())` on a
    :class:`keras_collapse.models.SiameseModel`.

    Reference: arXiv 2110.09348.
    """

    fn = staticmethod(info_nce)
    min_batch = 2
    settings = ("temperature", "similarity", "symmetric", "positive_weight", "partition")

    def __init__(self, temperature=0.1, similarity="dot", symmetric=True, positive_weight=1.0,
                 partition="weighted", **kwargs):
        super().__init__(**kwargs)
        self.temperature = _checks.positive_float("temperature", temperature)
        self.similarity = _checks.one_of("similarity", similarity, SIMILARITIES)
        self.symmetric = bool(symmetric)
        self.positive_weight = _checks.non_negative_float("positive_weight", positive_weight)
        _check_partition(partition, self.positive_weight)
        self.partition = partition
