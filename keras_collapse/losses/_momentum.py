"""The momentum (EMA) target schedule shared by BYOL and MoCo v3."""

from __future__ import annotations

import math

import tensorflow as tf

from keras_collapse import _checks


class MomentumTarget:
    """Mixin for objectives trained against an EMA copy of the online network.

    :class:`keras_collapse.models.SiameseModel` compiled with such a loss keeps
    an EMA copy of its encoder and head, updated after every step as
    `θ' ← m θ' + (1 − m) θ` with `m = target_momentum(step)`: constant `m_0`,
    or with `total_steps = K` BYOL's cosine schedule
    `m_k = 1 − (1 − m_0)(cos(πk/K) + 1)/2` rising to 1 at step `K` (MoCo v3
    uses the same schedule, its `--moco-m-cos`).
    """

    def _init_momentum(self, momentum, total_steps):
        self.momentum = _checks.probability("momentum", momentum)
        self.total_steps = (
            None if total_steps is None else _checks.positive_int("total_steps", total_steps)
        )

    def target_momentum(self, step):
        """EMA momentum at optimizer step `step` (a scalar tensor or int)."""
        base = tf.constant(self.momentum, tf.float32)
        if self.total_steps is None:
            return base
        progress = tf.minimum(tf.cast(step, tf.float32) / self.total_steps, 1.0)
        return 1.0 - (1.0 - base) * (tf.cos(math.pi * progress) + 1.0) / 2.0

    def _momentum_config(self):
        return {"momentum": self.momentum, "total_steps": self.total_steps}
