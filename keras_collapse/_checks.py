"""Argument checks shared by the whole package.

Every message follows Keras' own form, naming the argument and the value
received, e.g. ``Invalid value for argument `temperature`. Expected a positive
float. Received: temperature=0``.  No ``assert`` is used for input checks.
"""

from __future__ import annotations

import numbers


def invalid(name, expected, value, error=ValueError):
    """Build (not raise) the package's standard argument error."""
    return error(
        f"Invalid value for argument `{name}`. Expected {expected}. "
        f"Received: {name}={value!r}"
    )


def positive_float(name, value):
    """Return ``float(value)`` or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, "a positive float", value, TypeError)
    if not value > 0 or value != value or value == float("inf"):
        raise invalid(name, "a positive float", value)
    return float(value)


def non_negative_float(name, value):
    """Return ``float(value)`` or raise if it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, "a non-negative float", value, TypeError)
    if not value >= 0 or value == float("inf"):
        raise invalid(name, "a non-negative float", value)
    return float(value)


def positive_int(name, value):
    """Return ``int(value)`` or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(name, "a positive integer", value, TypeError)
    if value < 1:
        raise invalid(name, "a positive integer", value)
    return int(value)


def one_of(name, value, choices):
    """Return ``value`` or raise if it is not one of ``choices``."""
    if value not in choices:
        raise invalid(name, f"one of {sorted(choices)}", value)
    return value


def probability(name, value):
    """Return ``float(value)`` or raise if it is not in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, "a float in [0, 1]", value, TypeError)
    if not 0.0 <= value <= 1.0:
        raise invalid(name, "a float in [0, 1]", value)
    return float(value)
