"""The EMA target network of BYOL-style objectives, as copies of variables.

The target is not a second copy of the encoder and head *layers*: it is one
non-trainable copy of each of their variables, and the target's forward pass
runs the online layers themselves inside a `keras.StatelessScope` that reads
the copies instead. So any encoder -- functional, Sequential or a subclassed
`keras.Model` -- has a target, nothing needs cloning from a config, and the
online layers' state (BatchNorm statistics) is never touched by the target
pass.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def variables_of(layers):
    """Every variable (weights and other state) of `layers`, in order."""
    return [v for layer in layers for v in layer.variables]


@keras.saving.register_keras_serializable(package="keras_collapse")
class EMATarget(keras.layers.Layer):
    """Exponential-moving-average copies of other layers' variables.

    Empty until :meth:`initialize`; the copies are then saved and restored
    with the model that owns it (`save`, `save_weights`, `BackupAndRestore`).

    Example:

    >>> import keras, numpy as np
    >>> online = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> target = EMATarget()
    >>> target.initialize([online])
    >>> x = np.ones((1, 2), "float32")
    >>> bool(np.allclose(target.call_layers([online], x), online(x)))
    True
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # a container: its variables come from initialize()
        self._copies = []

    @property
    def initialized(self):
        """Whether the copies exist."""
        return bool(self._copies)

    def initialize(self, layers):
        """Create the copies of every variable of `layers` (once) and set them
        to the online values."""
        online = variables_of(layers)
        if not self._copies:
            for index, variable in enumerate(online):
                self._copies.append(self.add_weight(
                    shape=variable.shape, dtype=variable.dtype, trainable=False,
                    initializer="zeros", name=f"target_{index}"))
        self._check(online)
        for copy, variable in zip(self._copies, online, strict=True):
            copy.assign(variable)

    def _check(self, online):
        if len(online) != len(self._copies):
            raise ValueError(
                f"The EMA target holds {len(self._copies)} variables but the online "
                f"layers now have {len(online)}: the encoder or head changed after "
                "the target was made. Build a new model for the new architecture."
            )

    def call_layers(self, layers, x, training=False):
        """`layers[-1](…layers[0](x))` computed with the target's values."""
        online = variables_of(layers)
        self._check(online)
        with keras.StatelessScope(state_mapping=list(zip(online, self._copies, strict=True))):
            for layer in layers:
                x = layer(x, training=training)
        return x

    def update(self, layers, momentum):
        """`θ' ← m θ' + (1 − m) θ` for float variables; other state is copied."""
        for copy, variable in zip(self._copies, variables_of(layers), strict=True):
            if copy.dtype.startswith(("float", "bfloat")):
                momentum_ = tf.cast(momentum, copy.dtype)
                copy.assign(momentum_ * copy + (1.0 - momentum_) * tf.cast(variable, copy.dtype))
            else:
                copy.assign(variable)
