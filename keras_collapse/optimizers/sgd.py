"""SGD with coupled weight decay: PyTorch's `torch.optim.SGD` in Keras."""

from __future__ import annotations

import keras
from keras import ops

from keras_collapse import _checks
from keras_collapse.optimizers._selection import (SelectiveMomentum, names_argument,
                                                  path_matches)


@keras.saving.register_keras_serializable(package="keras_collapse")
class CoupledSGD(SelectiveMomentum):
    """SGD with momentum and *coupled* (L2) weight decay, as `torch.optim.SGD`.

    For a weight `w` with gradient `g`, learning rate `lr`, momentum `m` and
    weight decay `wd` (PyTorch's `SGD(weight_decay=wd)`, dampening 0, no
    Nesterov):

    * `d = g + wd·w` -- the decay enters the gradient, hence the momentum;
    * `v ← m·v + d` (`v = d` at the first step, as PyTorch's buffer);
    * `w ← w − lr·v`.

    Keras' `keras.optimizers.SGD(weight_decay=wd)` is *decoupled*
    (`w ← w − lr·wd·w` outside the momentum), which at momentum 0.9 decays
    about 10× less than the same `wd` in PyTorch: the SimSiam recipes of
    solo-learn and of Li et al. were run with PyTorch's. Variables whose path
    contains one of `fixed_lr_names` train at the constant
    `fixed_learning_rate` whatever the schedule gives the others (SimSiam's
    fixed predictor learning rate: solo-learn's `static_lr`, Li et al.'s
    `--fix-pred-lr`). That selection is made when the optimizer is built and
    saved with its state (it survives `save`/`load_model`).

    Args:
        learning_rate: A float or a `keras.optimizers.schedules` schedule.
            Defaults to `0.01`.
        momentum: Float in [0, 1]. Defaults to `0.0`.
        weight_decay: Non-negative float, added to the gradient of every
            variable (biases and BatchNorm parameters too, as PyTorch).
            Defaults to `0.0`.
        fixed_learning_rate: Positive float: the constant learning rate of
            the variables matched by `fixed_lr_names`, or `None`. Defaults
            to `None`.
        fixed_lr_names: Substrings of variable paths (e.g.
            `["prediction_head"]`) selecting the fixed-rate variables, or
            `None`. Defaults to `None`.
        **kwargs: Keras' optimizer arguments (`clipnorm`, `global_clipnorm`,
            `use_ema`, `loss_scale_factor`, `gradient_accumulation_steps`,
            `name`). `weight_decay` is this optimizer's own, above.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> optimizer = kc.optimizers.CoupledSGD(0.5, momentum=0.9, weight_decay=0.1)
    >>> w = keras.Variable(np.array([2.0], "float32"))
    >>> _ = optimizer.apply_gradients([(np.array([1.0], "float32"), w)])
    >>> round(float(w.numpy()[0]), 4)  # 2 − 0.5·(1 + 0.1·2)
    1.4

    Reference: PyTorch `torch.optim.SGD`; Chen & He, "Exploring Simple
    Siamese Representation Learning", arXiv 2011.10566 (fixed predictor
    learning rate).
    """

    selections = ("fixed_lr",)

    def __init__(self, learning_rate=0.01, momentum=0.0, weight_decay=0.0,
                 fixed_learning_rate=None, fixed_lr_names=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=None, **kwargs)
        self.momentum = _checks.probability("momentum", momentum)
        self.coupled_weight_decay = _checks.non_negative_float("weight_decay", weight_decay)
        self.fixed_lr_names = names_argument("fixed_lr_names", fixed_lr_names)
        if fixed_learning_rate is not None:
            fixed_learning_rate = _checks.positive_float("fixed_learning_rate",
                                                         fixed_learning_rate)
        if (fixed_learning_rate is None) != (self.fixed_lr_names is None):
            raise _checks.invalid(
                "fixed_learning_rate", "a float together with `fixed_lr_names` (the "
                "variables it applies to), or both None", fixed_learning_rate)
        self.fixed_learning_rate = fixed_learning_rate

    def select(self, selection, variable):
        del selection  # the one selection: fixed_lr
        return path_matches(variable, self.fixed_lr_names)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        if self.fixed_learning_rate is not None:
            lr = ops.where(self.selected("fixed_lr", variable) > 0,
                           ops.cast(self.fixed_learning_rate, variable.dtype), lr)
        gradient = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay:
            gradient = gradient + self.coupled_weight_decay * variable
        velocity = self.velocities[self._get_variable_index(variable)]
        self.assign(velocity, velocity * ops.cast(self.momentum, variable.dtype) + gradient)
        self.assign_sub(variable, lr * velocity)

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "weight_decay": self.coupled_weight_decay,
            "fixed_learning_rate": self.fixed_learning_rate,
            "fixed_lr_names": self.fixed_lr_names,
        })
        return config
