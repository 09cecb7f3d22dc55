"""Base class pairing each objective's public function with a Keras ``Loss``."""

from __future__ import annotations

import keras


class PairLoss(keras.losses.Loss):
    """A ``keras.losses.Loss`` computing ``fn(z_a, z_b, **settings)``.

    Subclasses set ``fn`` (the objective's public function) and ``settings``
    (the names of the constructor arguments forwarded to it, stored as
    attributes of the same name and returned by ``get_config``). The two views
    go in as ``loss(z_a, z_b)`` -- Keras' ``(y_true, y_pred)`` slots -- and the
    loss always computes in float32 whatever the input dtype.
    """

    fn = None
    settings = ()

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype="float32"):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self._settings())

    def _settings(self):
        return {key: getattr(self, key) for key in self.settings}

    def get_config(self):
        return {**super().get_config(), **self._settings()}
