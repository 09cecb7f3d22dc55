"""keras_collapse: self-supervised objectives and collapse diagnostics for Keras 3.

Submodules:

* :mod:`keras_collapse.losses` -- SSL objectives as ``keras.losses.Loss``.
* :mod:`keras_collapse.regularizers` -- the WERank weight regularizer.
* :mod:`keras_collapse.layers` -- DirectCLR, projection and prediction heads.
* :mod:`keras_collapse.encoders` -- ResNets (torchvision-equivalent, CIFAR stem), small convnets.
* :mod:`keras_collapse.optimizers` -- LARS (three update rules), CoupledSGD (PyTorch's SGD), schedules.
* :mod:`keras_collapse.models` -- ``SiameseModel`` trained with ``fit``.
* :mod:`keras_collapse.metrics` -- spectra, effective rank, RankMe, AUC, alignment.
* :mod:`keras_collapse.callbacks` -- ``SpectrumLogger`` for TensorBoard, ``OnlineKNN`` evaluation.
* :mod:`keras_collapse.guards` -- ``NonFiniteGuard``: stop on NaN/Inf loss with a diagnosis.
* :mod:`keras_collapse.data` -- tf.data two-view pipelines, orderings, sources.
* :mod:`keras_collapse.evaluation` -- linear probe, kNN accuracy, offline linear evaluation.
* :mod:`keras_collapse.theory` -- analytic predictions from the papers.
* :mod:`keras_collapse.distribute` -- strategies, global batches across replicas.
"""

import importlib as _importlib
import os as _os
import sys as _sys

# The `keras-collapse` command, or `python -m keras_collapse.<module>` (argv[0]
# is "-m" while Python imports the package to find the module).
_COMMAND = bool(_sys.argv) and (
    _os.path.basename(_sys.argv[0]) == "keras-collapse" or _sys.argv[0] == "-m")
if _COMMAND:
    from keras_collapse import _cpu

    # The command line shows progress lines; keep TensorFlow's C++ warnings
    # out of them, and take TensorFlow's fast CPU path (oneDNN) also where its
    # default leaves it off (both set before TensorFlow is imported).
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _cpu.prefer_onednn()
else:
    # On another Keras backend the package would import, then fail while
    # building a model: say so now (the command checks before `run`).
    from keras_collapse._backend import require_tensorflow as _require_tensorflow

    _require_tensorflow()
    # Modules defining Keras-serializable objects load eagerly, so that
    # `import keras_collapse` is enough for `keras.saving.load_model` to find
    # them. The `keras-collapse` command skips this (its `--help` and `list`
    # need no TensorFlow; `run` imports what the study uses).
    from keras_collapse import layers, losses, models, optimizers, regularizers  # noqa: F401

__version__ = "0.1.0"

_SUBMODULES = (
    "losses",
    "regularizers",
    "layers",
    "encoders",
    "optimizers",
    "models",
    "metrics",
    "callbacks",
    "data",
    "evaluation",
    "theory",
    "plots",
    "distribute",
    "guards",
)


def __getattr__(name):
    # Submodules load on first use so `import keras_collapse` stays cheap and a
    # module under construction never breaks the others.
    if name in _SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
