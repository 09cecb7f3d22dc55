"""Check gin bindings against the parameters they bind, before a study runs.

gin passes a bound value through unchecked, so `werank2023.steps = "ten"`
would otherwise fail deep inside the study, after its output directory was
made. :func:`check_bindings` walks `experiment` and every configurable it
references (scoped ones too, as the tour's `@tour/werank2023`) and compares
each bound value with its parameter's default: an int parameter takes an int,
a float one any real number, a str a str, a bool a bool, a tuple or list a
sequence, a dict a dict. Parameters without a default (or defaulting to
`None`) take anything.
"""

from __future__ import annotations

import inspect
import numbers

import gin
from gin import config as gin_config


def _kind(default):
    """`(accepts(value) -> bool, description)` for a parameter's default."""
    if isinstance(default, bool):
        return (lambda v: isinstance(v, bool)), "a bool"
    if isinstance(default, numbers.Integral):
        return (lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)), "an int"
    if isinstance(default, numbers.Real):
        return (lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)), "a number"
    if isinstance(default, str):
        return (lambda v: isinstance(v, str)), "a string"
    if isinstance(default, (tuple, list)):
        return (lambda v: isinstance(v, (tuple, list))), "a tuple or list"
    if isinstance(default, dict):
        return (lambda v: isinstance(v, dict)), "a dict"
    return None, None


def _references(value):
    if isinstance(value, gin_config.ConfigurableReference):
        return [value]
    if isinstance(value, (tuple, list)):
        return [ref for item in value for ref in _references(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _references(item)]
    return []


def check_bindings(selector="experiment"):
    """Raise TypeError for the first binding whose type does not fit its parameter.

    Args:
        selector: the (scoped) configurable to start from. Defaults to
            `"experiment"`.

    Example:

    >>> import gin
    >>> gin.clear_config()  # unlocked, whatever ran before
    >>> @gin.configurable
    ... def toy(steps=10):
    ...     return steps
    >>> _ = gin.parse_config("toy.steps = 'ten'")
    >>> try:
    ...     check_bindings("toy")
    ... except TypeError as error:
    ...     print(error)
    toy.steps = 'ten': expected an int, like its default 10
    >>> gin.clear_config()
    """
    _check(selector, set())


def _check(selector, seen):
    if selector in seen:
        return
    seen.add(selector)
    function = gin.get_configurable(selector.split("/")[-1])
    target = getattr(function, "__wrapped__", function)
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    raw = gin.get_bindings(selector, resolve_references=False)
    for name, value in raw.items():
        references = _references(value)
        for reference in references:
            if not reference.selector.endswith("macro"):
                _check(reference.scoped_selector, seen)
        parameter = parameters.get(name)
        if parameter is None or references:
            continue
        accepts, description = _kind(parameter.default)
        if accepts is not None and not accepts(value):
            raise TypeError(f"{selector}.{name} = {value!r}: expected {description}, "
                            f"like its default {parameter.default!r}")
