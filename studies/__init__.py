"""gin-configured studies reproducing the four papers in ../shared/papers.

Each study is a module with one ``@gin.configurable`` entry function taking a
:class:`keras_collapse.studies._harness.Study` as its first argument. The ``.gin`` files under
``gin/`` bind ``experiment.study`` to one of them and set its parameters.
"""

from __future__ import annotations

import importlib
import os

import gin
import keras
import tensorflow as tf

import keras_collapse as kc
from keras_collapse._quiet import quiet_retracing
from keras_collapse.studies._bindings import bindings_in_effect, check_bindings  # noqa: F401
from keras_collapse.studies._harness import ConfigurationChanged, Study, check_configuration

# name -> module; `keras-collapse list` prints the first docstring line of each.
STUDY_NAMES = (
    "jing2022_strong_augmentation",
    "jing2022_implicit_regularization",
    "jing2022_directclr",
    "werank2023",
    "li2022_continual",
    "ziyin2023_landscape",
    "tour",
)


def available():
    """Names of the studies whose module is present, in the canonical order."""
    here = os.path.dirname(__file__)
    return [n for n in STUDY_NAMES if os.path.exists(os.path.join(here, n + ".py"))]


def load(name):
    """Import a study module (registering its gin configurable)."""
    if name not in available():
        raise ValueError(
            f"Unknown study {name!r}. Available studies: {', '.join(available())} "
            "(see `keras-collapse list`)."
        )
    return importlib.import_module(f"keras_collapse.studies.{name}")


def _search_installed_gin_files():
    """`include 'paper_scale/_cifar10_resnet18.gin'` resolves against the
    installed gin/ directory from any working directory. Searched first: gin
    logs an error for every search path that misses an include (the command
    line passes absolute paths, which gin looks up without search paths)."""
    directory = os.path.join(os.path.dirname(__file__), "gin")
    prefixes = getattr(gin.config, "_LOCATION_PREFIXES", None)
    if prefixes is None:  # a gin without the list: the public call (appends)
        gin.add_config_file_search_path(directory)
    elif directory not in prefixes:
        prefixes.insert(0, directory)


def load_all():
    """Import every study module so gin knows all configurables."""
    import keras_collapse.studies.configurables  # noqa: F401  (registers kc objects with gin)
    import keras_collapse.studies.pretrain  # noqa: F401  (the paper-scale configs' protocol)

    _search_installed_gin_files()

    return {name: load(name) for name in available()}


def describe():
    """`{name: one-line description}` of every available study (from the files)."""
    from keras_collapse.cli import describe as read

    return {name: line for name, line in read().items() if name in available()}


# Keras 3's traced step functions (TensorFlow backend), by qualified name.
_KERAS_STEP_FUNCTIONS = (
    "TensorFlowTrainer._make_function.<locals>.multi_step_on_iterator",
    "TensorFlowTrainer._make_function.<locals>.one_step_on_data",
    "TensorFlowTrainer.make_predict_function.<locals>.one_step_on_data_distributed",
)


def _worker_dir(output_dir):
    """The chief writes to `output_dir`; other workers to their own copy.

    Non-chief workers of a multi-worker run keep their own units (so a
    restarted run resumes in step on every worker) under
    `output_dir/workers/<type>-<index>`; the chief's files are the results.
    """
    if kc.distribute.is_chief():
        return output_dir
    return os.path.join(output_dir, "workers", kc.distribute.task_name())


def configuration(name, seed, strategy, deterministic, replicas):
    """What identifies a run's results (see `_harness.check_configuration`):
    the study, seed and strategy it was called with, every gin binding in
    effect (so a changed `steps`, objective or optimizer setting counts, and
    a binding the run does not use does not), and the versions of
    keras_collapse, TensorFlow and Keras.

    Example:

    >>> gin.clear_config()
    >>> record = configuration("werank2023", 0, "default", True, 1)
    >>> record["experiment"]["study"], record["bindings"], sorted(record["versions"])
    ('werank2023', {}, ['keras', 'keras_collapse', 'tensorflow'])
    """
    return {
        "experiment": {"study": name, "seed": seed, "strategy": strategy,
                       "deterministic": deterministic, "replicas": replicas},
        "bindings": bindings_in_effect(),
        "versions": {"keras_collapse": kc.__version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__},
    }


@gin.configurable
def experiment(output_dir, study=gin.REQUIRED, seed=0, strategy="default", deterministic=True,
               command=""):
    """Run one study into `output_dir` and write its results.

    Args:
        output_dir: Where every artifact goes (created if needed).
        study: The study's entry function (bound in the .gin file as
            `experiment.study = @<study name>`).
        seed: Seed for Python, NumPy and TensorFlow.
        deterministic: Enable TensorFlow's op determinism (every study here;
            the paper-scale GPU configs turn it off for speed, and some GPU
            ops have no deterministic kernel). Defaults to `True`.
        strategy: `"default"`, `"mirrored"`, `"multi_worker"` (cluster from
            `TF_CONFIG`) or `"tpu"`: the `tf.distribute` strategy the studies
            build their Keras models under. Batch sizes in the study bindings
            are global batches. Defaults to `"default"`.
        command: The command line, recorded in results.md.

    Returns:
        The results dict written to results.json.

    Raises:
        ConfigurationChanged: when `output_dir` holds finished units computed
            under another configuration (`configuration.json` records it).
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    # A study trains a new model per unit, each tracing Keras' step functions
    # once; with few steps per unit TensorFlow reads that as retracing.
    for name in _KERAS_STEP_FUNCTIONS:
        quiet_retracing(name)
    distribution = kc.distribute.get_strategy(strategy)
    name = getattr(study, "__name__", str(study))
    output_dir = _worker_dir(output_dir)
    check_configuration(output_dir, configuration(name, seed, strategy, deterministic,
                                                  distribution.num_replicas_in_sync))
    context = Study(output_dir, name, seed=seed, strategy=distribution)
    if distribution.num_replicas_in_sync > 1:
        context.log(f"strategy {strategy}: {distribution.num_replicas_in_sync} replicas")
    context.log(f"writing to {context.output_dir}")
    study(context)
    config = gin.operative_config_str()
    with tf.summary.create_file_writer(context.tensorboard_dir("config")).as_default():
        tf.summary.text("operative_config", "```\n" + config + "\n```", step=0)
    results = context.finish(operative_config=config, command=command)
    context.log("results: " + os.path.join(context.output_dir, "results.md"))
    return results
