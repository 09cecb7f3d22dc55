"""LARS, the layer-wise adaptive optimizer of SimCLR, BYOL and Barlow Twins.

Learning-rate warmup and cosine decay come from Keras:
``keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=lr,
warmup_steps=w)`` passed as ``learning_rate``.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_collapse import _checks


@keras.saving.register_keras_serializable(package="keras_collapse")
class LARS(keras.optimizers.Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al. 2017) as in SimCLR's code.

    For a weight `w` with gradient `g`, learning rate `lr`, momentum `m`,
    weight decay `wd` and trust coefficient `η`:

    * `g' = g + wd · w`;
    * `trust = η ‖w‖ / ‖g'‖`, or 1 when either norm is 0;
    * `v ← m · v + lr · trust · g'`;  `w ← w − v`.

    Excluded variables (by default every variable of rank ≤ 1: biases and
    BatchNorm's γ and β) get neither weight decay nor adaptation: `trust = 1`
    and `g' = g` (plain SGD with momentum), as in SimCLR, BYOL and
    Barlow Twins.

    Args:
        learning_rate: A float or a `keras.optimizers.schedules` schedule, e.g.
            `CosineDecay(0.0, decay_steps, warmup_target=peak, warmup_steps=w)`
            for SimCLR's linear warmup and cosine decay. Defaults to `0.1`.
        momentum: Float in [0, 1]. Defaults to `0.9`.
        weight_decay: Non-negative float, added to the gradient (coupled, as
            SimCLR's LARS; not Keras' decoupled decay). Defaults to `0.0`.
        trust_coefficient: Positive float η. Defaults to `0.001`.
        exclude_rank1: Whether variables of rank ≤ 1 are excluded from decay
            and adaptation. Defaults to `True`.
        exclude_names: Substrings of variable paths (`variable.path`, e.g.
            `"bn"`) also excluded, or `None`. Defaults to `None`.
        **kwargs: Keras' optimizer arguments (`clipnorm`, `global_clipnorm`,
            `use_ema`, `loss_scale_factor`, `gradient_accumulation_steps`,
            `name`). `weight_decay` is LARS' own, above.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> schedule = keras.optimizers.schedules.CosineDecay(
    ...     0.0, decay_steps=90, warmup_target=0.3, warmup_steps=10)
    >>> optimizer = kc.optimizers.LARS(schedule, weight_decay=1e-6)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    >>> history = model.fit(x, x[:, :2], epochs=1, verbose=0)
    >>> int(optimizer.iterations)
    1

    Reference: You, Gitman, Ginsburg, "Large Batch Training of Convolutional
    Networks", arXiv 1708.03888; the update of SimCLR's `lars_optimizer.py`
    (Chen et al., arXiv 2002.05709).
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, weight_decay=0.0,
                 trust_coefficient=0.001, exclude_rank1=True, exclude_names=None, **kwargs):
        # Keras' own `weight_decay` is decoupled (w -= lr·wd·w after the step);
        # LARS adds it to the gradient before the trust ratio, so the base
        # class gets none.
        super().__init__(learning_rate=learning_rate, weight_decay=None, **kwargs)
        self.momentum = _checks.probability("momentum", momentum)
        self.lars_weight_decay = _checks.non_negative_float("weight_decay", weight_decay)
        self.trust_coefficient = _checks.positive_float("trust_coefficient", trust_coefficient)
        if not isinstance(exclude_rank1, bool):
            raise _checks.invalid("exclude_rank1", "a bool", exclude_rank1, TypeError)
        self.exclude_rank1 = exclude_rank1
        if isinstance(exclude_names, str) or not (
                exclude_names is None
                or all(isinstance(name, str) for name in exclude_names)):
            raise _checks.invalid("exclude_names", "None or a list of strings", exclude_names,
                                  TypeError)
        self.exclude_names = None if exclude_names is None else list(exclude_names)

    def excluded(self, variable):
        """Whether `variable` is excluded from weight decay and adaptation."""
        if self.exclude_rank1 and len(variable.shape) <= 1:
            return True
        path = getattr(variable, "path", variable.name)
        return any(name in path for name in self.exclude_names or ())

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        scaled = learning_rate
        if not self.excluded(variable):
            if self.lars_weight_decay:
                gradient = gradient + self.lars_weight_decay * variable
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            positive = ops.logical_and(w_norm > 0, g_norm > 0)
            trust = ops.where(
                positive, self.trust_coefficient * w_norm / ops.where(positive, g_norm, 1.0),
                1.0)
            scaled = learning_rate * trust
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(velocity, velocity * momentum + scaled * gradient)
        self.assign_sub(variable, velocity)

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "weight_decay": self.lars_weight_decay,
            "trust_coefficient": self.trust_coefficient,
            "exclude_rank1": self.exclude_rank1,
            "exclude_names": self.exclude_names,
        })
        return config
