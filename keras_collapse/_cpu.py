"""TensorFlow's CPU path where the package controls start-up (no TF import here).

TensorFlow's pip build turns its oneDNN kernels on by default only on CPUs
with AVX-512 (the log line "oneDNN custom operations are on"); on AVX2-only
CPUs it leaves them off, and a ResNet training step then takes about 1.6×
the time (BENCHMARKS.md, torch group). TensorFlow reads
`TF_ENABLE_ONEDNN_OPTS` once, when it is imported, so the `keras-collapse`
command sets it before that; a library user sets it in the shell (or in
`os.environ` before the first `import tensorflow`/`import keras`).
"""

from __future__ import annotations

import os

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn(environ=None):
    """Turn TensorFlow's oneDNN CPU kernels on unless `TF_ENABLE_ONEDNN_OPTS`
    is set already (a user's `0` is kept); effective only before TensorFlow is
    imported.

    Args:
        environ: The mapping to update. Defaults to `os.environ`.

    Returns:
        `environ`, updated.

    Example:

    >>> prefer_onednn({})
    {'TF_ENABLE_ONEDNN_OPTS': '1'}
    >>> prefer_onednn({"TF_ENABLE_ONEDNN_OPTS": "0"})
    {'TF_ENABLE_ONEDNN_OPTS': '0'}
    """
    environ = os.environ if environ is None else environ
    environ.setdefault(ONEDNN, "1")
    return environ


def onednn_enabled():
    """Whether this process's TensorFlow runs its oneDNN kernels.

    Imports TensorFlow (so it answers for the value `TF_ENABLE_ONEDNN_OPTS`
    had at that import); `None` where TensorFlow does not say.

    Example:

    >>> onednn_enabled() in (True, False, None)
    True
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # pragma: no cover - a TensorFlow without the module
        return None
    return bool(_pywrap_util_port.IsMklEnabled())
