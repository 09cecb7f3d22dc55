"""LARS, the layer-wise adaptive optimizer of SimCLR, BYOL, Barlow Twins and
solo-learn, with the update rule of each of those code bases.

Learning-rate warmup and cosine decay come from Keras
(``keras.optimizers.schedules.CosineDecay(0.0, decay_steps,
warmup_target=lr, warmup_steps=w)``) or from
:class:`keras_collapse.optimizers.schedules.LinearWarmupCosine`, passed as
``learning_rate``.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_collapse import _checks
from keras_collapse.optimizers._selection import (SelectiveMomentum, names_argument,
                                                  path_matches)

#: The update rules, named after the code they reproduce.
RULES = ("simclr", "pytorch", "solo-learn")


@keras.saving.register_keras_serializable(package="keras_collapse")
class LARS(SelectiveMomentum):
    """Layer-wise Adaptive Rate Scaling (You et al. 2017) as SSL code bases run it.

    For a weight `w` with gradient `g`, learning rate `lr` (the schedule's
    current value), momentum `m`, weight decay `wd`, trust coefficient `η`:

    * `rule="simclr"` (google-research/simclr `lars_optimizer.py`):
      `g' = g + wd·w`, `trust = η‖w‖/‖g'‖` (1 when either norm is 0),
      `v ← m·v + lr·trust·g'`, `w ← w − v`.
    * `rule="pytorch"` (facebookresearch's LARS: moco-v3 `moco/optimizer.py`,
      directclr `utils.py`, Li et al.'s `autolearn/moco/optimizer.py`): the
      same trust ratio, but the learning rate multiplies the momentum buffer
      as in `torch.optim.SGD`: `v ← m·v + trust·g'`, `w ← w − lr·v`. Equal to
      `"simclr"` at a constant learning rate.
    * `rule="solo-learn"` (solo-learn `solo/utils/lars.py`, from Lightning
      Bolts): `trust = η‖w‖ / (‖g‖ + wd·‖w‖ + ε)` with the *raw* gradient's
      norm; with `clip_lr`, `trust ← min(trust / lr, 1)`;
      `v ← m·v + trust·(g + wd·w)`, `w ← w − lr·v`. So the step is
      `min(trust, lr)·(g + wd·w)` with clipping, `lr·trust·(g + wd·w)`
      without. Where `‖w‖` or `‖g‖` is 0 the update is the plain `g` (no
      decay, no scaling).

    `clip_lr` applies `trust ← min(trust / lr, 1)` under any rule (NVIDIA
    apex's LARC clipping, which solo-learn copies); with `lr = 0` the factor
    is 1. Excluded variables (by default every variable of rank ≤ 1: biases
    and BatchNorm's γ and β; also `exclude_names`) get neither weight decay
    nor adaptation: plain SGD with momentum in the rule's form. Which
    variables are excluded is decided when the optimizer is built and saved
    with its state, so it survives `save`/`load_model` even though a nested
    model's variable paths change on reload.

    Args:
        learning_rate: A float or a `keras.optimizers.schedules` schedule.
            Defaults to `0.1`.
        momentum: Float in [0, 1]. Defaults to `0.9`.
        weight_decay: Non-negative float, added to the gradient (coupled, as
            every LARS above; not Keras' decoupled decay). Defaults to `0.0`.
        trust_coefficient: Positive float η. Defaults to `0.001`.
        exclude_rank1: Whether variables of rank ≤ 1 are excluded from decay
            and adaptation. Defaults to `True`.
        exclude_names: Substrings of variable paths (`variable.path`, e.g.
            `"bn"`) also excluded, or `None`. Matched when the optimizer is
            built. Defaults to `None`.
        rule: `"simclr"`, `"pytorch"` or `"solo-learn"`, as above. Defaults
            to `"simclr"`.
        clip_lr: Clip the trust ratio at the learning rate (solo-learn's
            `clip_lr` / `--grad_clip_lars`). Defaults to `False`.
        epsilon: ε of the `"solo-learn"` denominator. Defaults to `1e-8`.
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
    >>> solo = kc.optimizers.LARS(0.4, weight_decay=1e-5, trust_coefficient=0.02,
    ...                           rule="solo-learn", clip_lr=True)  # solo-learn's CIFAR runs

    Reference: You, Gitman, Ginsburg, "Large Batch Training of Convolutional
    Networks", arXiv 1708.03888; SimCLR (Chen et al., arXiv 2002.05709).
    """

    selections = ("excluded",)

    def __init__(self, learning_rate=0.1, momentum=0.9, weight_decay=0.0,
                 trust_coefficient=0.001, exclude_rank1=True, exclude_names=None,
                 rule="simclr", clip_lr=False, epsilon=1e-8, **kwargs):
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
        self.exclude_names = names_argument("exclude_names", exclude_names)
        self.rule = _checks.one_of("rule", rule, RULES)
        if not isinstance(clip_lr, bool):
            raise _checks.invalid("clip_lr", "a bool", clip_lr, TypeError)
        self.clip_lr = clip_lr
        self.epsilon = _checks.positive_float("epsilon", epsilon)

    def select(self, selection, variable):
        del selection  # the one selection: excluded
        return (self.exclude_rank1 and len(variable.shape) <= 1) or path_matches(
            variable, self.exclude_names)

    def excluded(self, variable):
        """Whether `variable` is excluded from weight decay and adaptation:
        the recorded choice once the optimizer is built (it holds that
        variable), the rule's otherwise."""
        if self.built and self._var_key(variable) in self._trainable_variables_indices:
            return self.recorded("excluded", variable)
        return self.select("excluded", variable)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        adapted = ops.cast(1.0 - self.selected("excluded", variable), variable.dtype)
        decay = self.lars_weight_decay * adapted
        w_norm = ops.sqrt(ops.sum(ops.square(variable)))
        if self.rule == "solo-learn":
            g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            denominator = g_norm + decay * w_norm + self.epsilon
        else:
            gradient = gradient + decay * variable
            g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            denominator = g_norm
        positive = ops.logical_and(ops.logical_and(w_norm > 0, g_norm > 0), adapted > 0)
        trust = self.trust_coefficient * w_norm / ops.where(positive, denominator, 1.0)
        if self.clip_lr:
            lr_positive = lr > 0
            trust = ops.where(lr_positive,
                              ops.minimum(trust / ops.where(lr_positive, lr, 1.0), 1.0), 1.0)
        trust = ops.where(positive, trust, 1.0)
        if self.rule == "solo-learn":
            # The zero-norm case keeps the raw gradient: no decay either.
            gradient = gradient + ops.where(positive, decay, 0.0) * variable
        momentum = ops.cast(self.momentum, variable.dtype)
        if self.rule == "simclr":
            self.assign(velocity, velocity * momentum + lr * trust * gradient)
            self.assign_sub(variable, velocity)
        else:
            self.assign(velocity, velocity * momentum + trust * gradient)
            self.assign_sub(variable, lr * velocity)

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "weight_decay": self.lars_weight_decay,
            "trust_coefficient": self.trust_coefficient,
            "exclude_rank1": self.exclude_rank1,
            "exclude_names": self.exclude_names,
            "rule": self.rule,
            "clip_lr": self.clip_lr,
            "epsilon": self.epsilon,
        })
        return config
