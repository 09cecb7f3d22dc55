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
    h_a, h_b = _ops.l2_normalize(z_a), _ops.l2_normalize(z_b)
    global_a, offset = global_batch(h_a)
    global_b, _ = global_batch(h_b)
    n = tf.shape(h_a)[0]
    big_n = tf.shape(global_a)[0]
    # 1/τ scales the (2N, d) anchors, not the (2N, 2N) logits: one pass fewer
    # over the big matrix forward and backward.
    anchors = tf.concat([h_a, h_b], axis=0) / temperature
    candidates = tf.concat([global_a, global_b], axis=0)
    logits = tf.matmul(anchors, candidates, transpose_b=True)
    local = tf.range(n) + offset
    positive = tf.concat([local + big_n, local], axis=0)
    if num_replicas() == 1:
        # One replica: an anchor's own column is the diagonal; overwrite it in
        # one pass rather than building and subtracting a (2N, 2N) one-hot.
        logits = tf.linalg.set_diag(
            logits, tf.fill([2 * n], tf.constant(-_ops.MASK_PENALTY, tf.float32))
        )
    else:
        own = tf.concat([local, local + big_n], axis=0)
        logits -= _ops.MASK_PENALTY * tf.one_hot(own, 2 * big_n, dtype=tf.float32)
    per_anchor = _ops.cross_entropy(logits, positive)
    return 0.5 * (per_anchor[:n] + per_anchor[n:])


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
    min_batch_per_replica = 2
    settings = ("temperature",)

    def __init__(self, temperature=0.5, **kwargs):
        super().__init__(**kwargs)
        self.temperature = _checks.positive_float("temperature", temperature)
