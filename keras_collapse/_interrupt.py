"""A Ctrl-C that a long run cannot lose (the `keras-collapse` command).

Python raises `KeyboardInterrupt` wherever the main thread happens to be when
SIGINT arrives. Inside an object's `__del__` or a bare `except:` (TensorFlow
has both, e.g. `ConcreteFunction`'s graph deleter) it is swallowed and the
run goes on as if nothing was pressed; a CI run under load saw a study train
on after Ctrl-C. :func:`install` makes SIGINT also set a flag, and
:func:`check`, called at safe points (every training batch of a study, every
study unit), raises `KeyboardInterrupt` again while the flag is set. Without
:func:`install` (the library used from Python) :func:`check` does nothing.

Example:

>>> from keras_collapse import _interrupt
>>> _interrupt.check()  # nothing pressed: returns
"""

from __future__ import annotations

import signal
import threading

_pressed = threading.Event()


def _on_sigint(signum, frame):
    _pressed.set()
    raise KeyboardInterrupt


def install():
    """SIGINT raises `KeyboardInterrupt` and is remembered for :func:`check`.
    Returns the handler it replaced."""
    return signal.signal(signal.SIGINT, _on_sigint)


def check():
    """Raise `KeyboardInterrupt` if SIGINT arrived since :func:`install`."""
    if _pressed.is_set():
        raise KeyboardInterrupt


def clear():
    """Forget an earlier SIGINT (tests)."""
    _pressed.clear()
