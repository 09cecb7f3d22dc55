"""Check gin bindings against the run they configure, before a study runs.

gin passes a bound value through unchecked, so `werank2023.steps = "ten"`
would otherwise fail deep inside the study, after its output directory was
made; and a binding that a more specific scope overrides
(`werank2023.steps = 50` under the tour, whose `tour/werank2023.steps = 600`
wins) would be ignored without a word. Both are checked here by walking the
configurables a run reaches: `experiment`, then every configurable its
bindings reference, in the scope gin calls it in (a reference's own scope, as
`@tour/werank2023`, or else the scope of the configurable that holds it).

:func:`check_bindings` compares each binding in effect with its parameter's
default (an int parameter takes an int, a float one any real number, a str a
str, a bool a bool, a tuple or list a sequence, a dict a dict; parameters
without a default, or defaulting to `None`, take anything) and refuses the
command line's bindings that take no effect. :func:`bindings_in_effect` lists
what the run will use, the configuration its results are recorded under.
"""

from __future__ import annotations

import inspect
import numbers
from typing import NamedTuple

import gin
from gin import config as gin_config

from keras_collapse._cli_checks import parse_bindings


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


class Binding(NamedTuple):
    """One binding as written: `scope/name.param` (a macro `NAME` is
    `NAME/gin.macro.value` to gin).

    Example:

    >>> str(Binding("tour", "werank2023", "steps")), str(Binding("WERANK", "gin.macro", "value"))
    ('tour/werank2023.steps', 'WERANK')
    """

    scope: str
    name: str
    param: str

    def __str__(self):
        if self.name == "gin.macro":
            return self.scope
        return f"{self.scope}/{self.name}.{self.param}" if self.scope else f"{self.name}.{self.param}"

    def key(self):
        """The same binding whatever name it was written with (`SGD`,
        `optimizers.SGD`): the configurable itself stands for its name."""
        return self.scope, gin.get_configurable(self.name), self.param


def _layers(scope, name):
    """`[(prefix, {param: value})]`: the bindings of `name` written with each
    prefix of `scope`, shortest first (gin lets a longer one win)."""
    layers = []
    for end in range(len(scope) + 1):
        prefix = "/".join(scope[:end])
        bindings = gin.get_bindings(f"{prefix}/{name}" if prefix else name,
                                    resolve_references=False, inherit_scopes=False)
        layers.append((prefix, bindings))
    return layers


def _visits(selector):
    """`(name, {param: (Binding in effect, value)}, [Binding overridden])` for
    every configurable a run of `selector` reaches, each (scope, name) once."""
    *scope, name = selector.split("/")
    pending, seen = [(tuple(scope), name)], set()
    while pending:
        scope, name = pending.pop(0)
        if (scope, name) in seen:
            continue
        seen.add((scope, name))
        winners, written = {}, []
        for prefix, bindings in _layers(scope, name):
            for param, value in bindings.items():
                binding = Binding(prefix, name, param)
                winners[param] = (binding, value)
                written.append(binding)
        overridden = [b for b in written if winners[b.param][0] != b]
        yield name, winners, overridden
        for _, value in winners.values():
            pending += [(tuple(ref.scopes) or scope, ref.selector) for ref in _references(value)]


def _effect(selector):
    """`(in_effect, overridden)`: `{key: (Binding, value)}` of the bindings
    the run uses, and `{key: (Binding, winner)}` of those overridden wherever
    they would apply."""
    in_effect, overridden = {}, {}
    for name, winners, shadowed in _visits(selector):
        for param, (binding, value) in winners.items():
            in_effect[binding.key()] = (binding, value)
        for binding in shadowed:
            overridden.setdefault(binding.key(), (binding, winners[binding.param]))
    return in_effect, {k: v for k, v in overridden.items() if k not in in_effect}


def bindings_in_effect(selector="experiment"):
    """`{binding: value}` (as gin writes them) of every binding a run of
    `selector` uses, sorted: what identifies the run's configuration.

    Example:

    >>> import gin
    >>> gin.clear_config()
    >>> @gin.configurable
    ... def toy_run(steps=10, rate=0.1):
    ...     return steps
    >>> _ = gin.parse_config(["toy_run.steps = 5", "short/toy_run.steps = 2",
    ...                       "toy_run.rate = 0.5"])
    >>> bindings_in_effect("toy_run")
    {'toy_run.rate': '0.5', 'toy_run.steps': '5'}
    >>> bindings_in_effect("short/toy_run")  # the scoped binding wins
    {'short/toy_run.steps': '2', 'toy_run.rate': '0.5'}
    >>> gin.clear_config()
    """
    in_effect, _ = _effect(selector)
    return dict(sorted((str(binding), repr(value)) for binding, value in in_effect.values()))


def check_bindings(selector="experiment", given=()):
    """Refuse bindings of the wrong type, and `given` bindings that take no effect.

    Args:
        selector: the (scoped) configurable to start from. Defaults to
            `"experiment"`.
        given: binding strings (the command line's `--gin_param`s) that the
            run must use: one overridden by a more specific scope, or read by
            nothing the run calls, raises `ValueError` naming what to bind
            instead. Defaults to `()`.

    Raises:
        TypeError: for the first binding whose type does not fit its parameter.
        ValueError: for the first `given` binding without effect.

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
    >>> _ = gin.parse_config(["toy.steps = 5", "short/toy.steps = 2"])
    >>> try:
    ...     check_bindings("short/toy", given=["toy.steps = 5"])
    ... except ValueError as error:
    ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
    toy.steps = 5 has no effect: short/toy.steps = 2 takes precedence where
    toy runs (scope 'short'). Bind short/toy.steps instead.
    >>> gin.clear_config()
    """
    for name, winners, _ in _visits(selector):
        _check_types(name, winners)
    in_effect, overridden = _effect(selector)
    for binding in _parsed(given):
        key = binding.key()
        if key in in_effect:
            continue
        value = gin.get_bindings(f"{binding.scope}/{binding.name}" if binding.scope
                                 else binding.name, resolve_references=False,
                                 inherit_scopes=False).get(binding.param)
        written = f"{binding} = {value!r}"
        if key in overridden:
            _, (winner, winning) = overridden[key]
            raise ValueError(
                f"{written} has no effect: {winner} = {winning!r} takes precedence where "
                f"{binding.name} runs (scope {winner.scope!r}). Bind {winner} instead.")
        raise ValueError(
            f"{written} has no effect: nothing this run calls reads it (it runs "
            f"{_study_of(selector)}). Check the name and scope against "
            "operative_config.gin of a run, or the study's .gin file.")


def _check_types(name, winners):
    function = gin.get_configurable(name)
    target = getattr(function, "__wrapped__", function)
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    for param, (binding, value) in winners.items():
        parameter = parameters.get(param)
        if parameter is None or _references(value):
            continue
        accepts, description = _kind(parameter.default)
        if accepts is not None and not accepts(value):
            raise TypeError(f"{binding} = {value!r}: expected {description}, "
                            f"like its default {parameter.default!r}")


def _study_of(selector):
    study = gin.get_bindings(selector, resolve_references=False).get("study")
    return repr(study) if study is not None else selector


def _parsed(given):
    """`[Binding]` of binding strings (a macro `NAME = v` is gin's `NAME/gin.macro.value`)."""
    bindings = []
    for text in given:
        for scope, selector, param in parse_bindings(text):
            bindings.append(Binding(scope, selector, param) if param else
                            Binding("/".join(filter(None, (scope, selector))), "gin.macro", "value"))
    return bindings
