"""Narrow filters for TensorFlow messages that are not problems of ours.

TensorFlow warns "N out of the last M calls to <function f> triggered
tf.function retracing" when many `tf.function` objects made from the same
Python code are traced (it counts by code object). The package makes one
traced function per model on purpose (a probe pass, a toy study's training
chunk), so each new model traces once and the heuristic misfires.
:func:`quiet_retracing` drops that one warning for the named functions only;
retracing of any other function is still reported.
"""

from __future__ import annotations

import logging

_MARK = "triggered tf.function retracing"


class _OwnRetracingFilter(logging.Filter):
    def __init__(self):
        super().__init__()
        self.names = set()

    def filter(self, record):
        message = record.getMessage()
        if _MARK not in message:
            return True
        return not any(f"<function {name} at " in message for name in self.names)


_FILTER = _OwnRetracingFilter()


def quiet_retracing(function):
    """Silence TensorFlow's frequent-retracing warning for `function`'s tf.functions.

    Args:
        function: the Python function wrapped by `tf.function` (its
            `__qualname__` names it in the warning), or that qualified name.

    Returns:
        `function`, so this can decorate it.

    Example:

    >>> def step(x):
    ...     return x
    >>> quiet_retracing(step) is step
    True
    """
    logger = logging.getLogger("tensorflow")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    _FILTER.names.add(function if isinstance(function, str) else function.__qualname__)
    return function
