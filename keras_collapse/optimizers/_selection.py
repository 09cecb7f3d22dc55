"""Momentum SGD whose per-variable selections are optimizer state.

A selection (LARS' excluded variables, CoupledSGD's fixed-learning-rate
variables) is decided once, when the optimizer is built, from each variable's
rank and path, and stored in a non-trainable optimizer variable of shape
`(num_variables, num_selections)`. Keras saves and restores optimizer
variables by position with the model (`save`/`load_model`, `save_weights`,
`BackupAndRestore`), so a restored optimizer keeps the selection it was
trained with even when the variables' paths differ after reloading (a nested
model's `backbone/dense/kernel` comes back as `dense/kernel`). The update
reads the selection as a tensor, so nothing has to be recomputed on load.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_collapse import _checks


def names_argument(name, value):
    """`None` or a list of path substrings, checked."""
    if isinstance(value, str) or not (
            value is None or all(isinstance(item, str) for item in value)):
        raise _checks.invalid(name, "None or a list of strings", value, TypeError)
    return None if value is None else list(value)


def path_matches(variable, names):
    """Whether any of `names` is a substring of the variable's path."""
    path = getattr(variable, "path", variable.name)
    return any(name in path for name in names or ())


class SelectiveMomentum(keras.optimizers.Optimizer):
    """Base: a velocity per variable and per-variable selections as state.

    Subclasses set `selections` (names of the boolean selections) and
    implement `select(selection, variable)`; `update_step` reads
    `self.selected(selection, variable)`, a float32 scalar tensor (1 or 0).
    """

    selections = ()

    def select(self, selection, variable):
        """Whether the rule puts `variable` in `selection` (Python bool)."""
        raise NotImplementedError

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        flags = np.array([[float(self.select(name, v)) for name in self.selections]
                          for v in variables], "float32").reshape(len(variables),
                                                                  len(self.selections))
        # The values go in through the initializer: Keras may build the
        # optimizer inside a scope where an assign() would not persist.
        self._selection = self.add_variable(
            flags.shape, initializer=lambda shape, dtype: ops.convert_to_tensor(flags, dtype),
            dtype="float32", name="selection")

    def selected(self, selection, variable):
        """The recorded selection of `variable`, a float32 scalar tensor."""
        index = self._get_variable_index(variable)
        return self._selection[index, self.selections.index(selection)]

    def recorded(self, selection, variable):
        """The recorded selection of `variable` as a Python bool (after build)."""
        return bool(np.asarray(ops.convert_to_numpy(self.selected(selection, variable))))
