"""keras_collapse runs on Keras' TensorFlow backend only: said at import.

Under `KERAS_BACKEND=jax` (or `torch`) the package would import and then fail
while building a model, with an `AttributeError` deep inside Keras (its
models, `tf.data` pipelines and `tf.distribute` code are TensorFlow's). Keras
picks its backend when it is first imported, from the `KERAS_BACKEND`
environment variable or else `~/.keras/keras.json`; both are checked here.
"""

from __future__ import annotations

import os


def _message(backend, source):
    return (f"keras_collapse needs Keras' TensorFlow backend, but {source} selects "
            f"{backend!r}. Set KERAS_BACKEND=tensorflow (or unset it, and set \"backend\": "
            "\"tensorflow\" in ~/.keras/keras.json) before keras is imported.")


def environment_problem():
    """The message for a non-TensorFlow `KERAS_BACKEND`, else `None`; imports nothing.

    Example:

    >>> import os
    >>> saved = os.environ.get("KERAS_BACKEND")
    >>> os.environ["KERAS_BACKEND"] = "jax"
    >>> environment_problem().split(". ")[0]
    "keras_collapse needs Keras' TensorFlow backend, but KERAS_BACKEND=jax selects 'jax'"
    >>> os.environ["KERAS_BACKEND"] = "tensorflow"
    >>> environment_problem() is None
    True
    >>> _ = os.environ.pop("KERAS_BACKEND") if saved is None else os.environ.update(KERAS_BACKEND=saved)
    """
    backend = os.environ.get("KERAS_BACKEND", "")
    if backend in ("", "tensorflow"):
        return None
    return _message(backend, f"KERAS_BACKEND={backend}")


def require_tensorflow():
    """Raise `ImportError` unless Keras runs on TensorFlow (imports keras).

    The environment variable is read first, so the message comes before
    Keras tries to import another backend's package.

    Example:

    >>> require_tensorflow()  # the test suite runs on TensorFlow
    """
    problem = environment_problem()
    if problem:
        raise ImportError(problem)
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ImportError(_message(backend, "Keras' configuration (keras.json)"))
