"""The warmup + cosine learning-rate schedule of solo-learn and Li et al.

Keras' `CosineDecay(initial, decay_steps, warmup_target=..., warmup_steps=...)`
covers the per-step schedules of MoCo v3, DirectCLR and SimCLR; this one is
Lightning Bolts' `LinearWarmupCosineAnnealingLR`, whose warmup reaches the
peak one scheduler step earlier, and which solo-learn's July 2021 CIFAR runs
stepped once per *epoch* (Lightning's default interval).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_collapse import _checks


@keras.saving.register_keras_serializable(package="keras_collapse")
class LinearWarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup then cosine annealing, stepped every `steps_per_epoch` steps.

    With `e = ⌊step / steps_per_epoch⌋` (the scheduler's epoch), base rate
    `lr`, `W = warmup_epochs`, `T = max_epochs`:

    * `e < W`: `warmup_start_lr + e·(lr − warmup_start_lr)/(W − 1)` (the peak
      is reached at `e = W − 1`; `W = 1` keeps `warmup_start_lr` for epoch 0);
    * `e ≥ W`: `eta_min + ½(lr − eta_min)(1 + cos(π·(e − W)/(T − W)))`, with
      `e` held at `T` afterwards.

    This is the closed form of Lightning Bolts' `LinearWarmupCosineAnnealingLR`
    (`pl_bolts/optimizers/lr_scheduler.py`, `_get_closed_form_lr`). solo-learn
    stepped it once per epoch in its July 2021 CIFAR runs (set
    `steps_per_epoch` to the epoch's length) and once per step later
    (`steps_per_epoch=1`, epochs counted in steps). `warmup_epochs=0` gives
    the per-epoch cosine of Li et al.'s `main_simsiam.py`.

    Args:
        learning_rate: Positive float, the base (peak) rate `lr`.
        warmup_epochs: Non-negative int `W`.
        max_epochs: Positive int `T` > `W`.
        warmup_start_lr: Non-negative float. Defaults to `0.0`.
        eta_min: Non-negative float, the final rate. Defaults to `0.0`.
        steps_per_epoch: Positive int: optimizer steps per scheduler step.
            Defaults to `1`.

    Example:

    >>> schedule = LinearWarmupCosine(0.4, warmup_epochs=10, max_epochs=1000,
    ...                               warmup_start_lr=0.003, steps_per_epoch=195)
    >>> [round(float(schedule(s)), 4) for s in (0, 194, 195, 9 * 195, 10 * 195)]
    [0.003, 0.003, 0.0471, 0.4, 0.4]
    """

    def __init__(self, learning_rate, warmup_epochs, max_epochs, warmup_start_lr=0.0,
                 eta_min=0.0, steps_per_epoch=1):
        self.learning_rate = _checks.positive_float("learning_rate", learning_rate)
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) \
                or warmup_epochs < 0:
            raise _checks.invalid("warmup_epochs", "a non-negative integer", warmup_epochs)
        self.warmup_epochs = warmup_epochs
        self.max_epochs = _checks.positive_int("max_epochs", max_epochs)
        if self.max_epochs <= warmup_epochs:
            raise _checks.invalid("max_epochs", f"more than warmup_epochs={warmup_epochs}",
                                  max_epochs)
        self.warmup_start_lr = _checks.non_negative_float("warmup_start_lr", warmup_start_lr)
        self.eta_min = _checks.non_negative_float("eta_min", eta_min)
        self.steps_per_epoch = _checks.positive_int("steps_per_epoch", steps_per_epoch)

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        epoch = ops.minimum(epoch, float(self.max_epochs))
        warm = self.warmup_epochs
        slope = (self.learning_rate - self.warmup_start_lr) / max(warm - 1, 1)
        warmup = self.warmup_start_lr + epoch * slope
        progress = (epoch - warm) / (self.max_epochs - warm)
        cosine = self.eta_min + 0.5 * (self.learning_rate - self.eta_min) * (
            1.0 + ops.cos(math.pi * progress))
        return ops.where(epoch < warm, warmup, cosine)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_epochs": self.warmup_epochs,
                "max_epochs": self.max_epochs, "warmup_start_lr": self.warmup_start_lr,
                "eta_min": self.eta_min, "steps_per_epoch": self.steps_per_epoch}
