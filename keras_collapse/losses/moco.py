"""MoCo v3's symmetrised contrastive objective (Chen, Xie, He 2021, arXiv 2104.02057)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import global_batch
from keras_collapse.losses import _ops
from keras_collapse.losses._base import PairLoss
from keras_collapse.losses._momentum import MomentumTarget


def _contrast(q, k, temperature):
    """`2τ · CE(q kᵀ/τ)` per local query against the global keys, shape `(n,)`."""
    keys, offset = global_batch(tf.stop_gradient(_ops.l2_normalize(k)))
    logits = _ops.scaled_similarity(_ops.l2_normalize(q), keys, 1.0 / temperature)
    labels = tf.range(tf.shape(q)[0]) + offset
    return 2.0 * temperature * _ops.cross_entropy(logits, labels)


def moco_v3(z_a, z_b, temperature=1.0):
    """Per-example MoCo v3 loss: `ctr(q_a, k_b) + ctr(q_b, k_a)` (Algorithm 1).

    Each view is a pair `(q, k)`: `q` the online network's prediction and `k`
    the momentum (target) network's projection of that view -- what
    :class:`keras_collapse.models.SiameseModel` passes with a predictor and an
    EMA target. Both are ℓ2-normalised; `ctr(q, k) = 2τ · CE(q kᵀ/τ, labels =
    diagonal)`, the keys `k` a constant (stop-gradient), every other key of the
    batch a negative. The loss of example i is
    `2τ [ℓ(q_a,i; k_b) + ℓ(q_b,i; k_a)]` with
    `ℓ(q_i; k) = log Σ_j exp(q_i·k_j/τ) − q_i·k_i/τ`, so its batch mean is
    Algorithm 1's loss. Under a `tf.distribute` strategy the keys come from the
    global batch (the authors' `concat_all_gather`).

    Args:
        z_a: View a: a pair `(q, k)` of tensors `(batch_size, dim)`, or one
            tensor used as both.
        z_b: View b, the same structure.
        temperature: Positive float τ. Defaults to `1.0` (the authors' code
            for ResNet-50; 0.2 for ViTs and solo-learn's CIFAR recipe).

    Returns:
        Per-example losses, shape `(batch_size,)`, float32.

    Example:

    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    >>> # each query: positive cos 1, one negative cos 0 -> 2·(log(e + 1) − 1) per direction
    >>> np.round(moco_v3((q, q), (q, q), temperature=1.0).numpy(), 4)
    array([1.253, 1.253], dtype=float32)

    Reference: Chen, Xie, He, "An Empirical Study of Training Self-Supervised
    Vision Transformers", ICCV 2021, arXiv 2104.02057.
    """
    temperature = _checks.positive_float("temperature", temperature)
    (q_a, k_a), (q_b, k_b) = _ops.check_siamese_views(z_a, z_b, min_batch=2)
    return _contrast(q_a, k_b, temperature) + _contrast(q_b, k_a, temperature)


@keras.saving.register_keras_serializable(package="keras_collapse")
class MoCoV3(MomentumTarget, PairLoss):
    """MoCo v3 loss with its momentum encoder, see :func:`moco_v3`.

    Per-example, shape `(batch_size,)`. Like :class:`BYOL` it carries the
    target network's momentum: `SiameseModel(encoder, head, predictor=...)`
    compiled with it keeps an EMA copy of the encoder and the projector (not
    the predictor), the momentum encoder of Algorithm 1, and hands the loss
    `(prediction, momentum projection)` for each view.

    Args:
        temperature: Positive float τ. Defaults to `1.0` (authors' ResNet-50
            setting).
        momentum: Base EMA momentum `m_0` in [0, 1]. Defaults to `0.99`
            (the authors' ResNet-50 setting).
        total_steps: If given, the momentum rises to 1 on the cosine schedule
            over `total_steps` steps (the authors' `--moco-m-cos`); `None`
            keeps it constant. Defaults to `None`.
        name, reduction, dtype: As for `keras.losses.Loss` (float32 compute).

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    >>> model = kc.models.SiameseModel(
    ...     encoder, head=kc.layers.ProjectionHead(8),
    ...     predictor=kc.layers.PredictionHead(8, hidden_dim=16))
    >>> model.compile(optimizer="sgd", loss=kc.losses.MoCoV3(temperature=0.2))
    >>> x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    >>> history = model.fit((x, x + 0.1), batch_size=16, epochs=1, verbose=0)
    >>> model.embed_target(x).shape
    TensorShape([32, 8])

    Reference: arXiv 2104.02057.
    """

    fn = staticmethod(moco_v3)
    min_batch = 2
    takes_predictions = True
    settings = ("temperature",)

    def __init__(self, temperature=1.0, momentum=0.99, total_steps=None, **kwargs):
        super().__init__(**kwargs)
        self.temperature = _checks.positive_float("temperature", temperature)
        self._init_momentum(momentum, total_steps)

    def get_config(self):
        return {**super().get_config(), **self._momentum_config()}
