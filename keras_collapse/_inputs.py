"""The data forms `SiameseModel.fit` / `evaluate` accept, checked before training.

Keras reads every array argument and dataset element as
`(x, y, sample_weight)`. A self-supervised model has inputs
`x = (view_a, view_b)` and no targets, so the accepted forms are:

* arrays: `fit((view_a, view_b), sample_weight=w, batch_size=b)`;
* datasets of `((view_a, view_b),)` (what `kc.data.two_views` yields) or
  `((view_a, view_b), None, weights)` (Keras' `(x, y, sample_weight)` with no
  `y`).

Anything else that would be silently misread gets an error saying what
happened and how to wrap the data. Keras drops `sample_weight` given with
array inputs when `y` is `None`; a zero-width stand-in `y` (shape `(n, 0)`,
never used as a target) carries them through. A batch too small for the
objective (a last batch of one example for VICReg) is refused before training
when its size is known (arrays) and skipped with a warning when it is not
(datasets batched without `drop_remainder`), so it never reaches the
objective.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import check_global_batch

#: Keras' default `batch_size` for arrays.
KERAS_DEFAULT_BATCH = 32

WRAP_HINT = (
    "A dataset of pairs (view_a, view_b) is read by Keras as (inputs, targets): "
    "wrap each element as ((view_a, view_b),), e.g. ds.map(lambda a, b: ((a, b),)), "
    "and pass arrays as fit(x=(view_a, view_b)) rather than fit(x=view_a, y=view_b)"
)


def is_pair(x):
    return isinstance(x, (tuple, list)) and len(x) == 2


def _describe(x):
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"a {type(x).__name__} of shape {tuple(shape)}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a {type(x).__name__}"


IMAGES_HINT = (
    "A dataset of images, or of (images, labels) (e.g. from "
    "keras.utils.image_dataset_from_directory), needs two augmented views of each "
    "image first: fit(kc.data.two_views(dataset, kc.data.simclr_augment(size), "
    "batch_size=...))"
)


def not_a_pair_error(x, where="inputs"):
    """The error for inputs that are not a pair of views."""
    images = getattr(getattr(x, "shape", None), "rank", None) == 4 or (
        isinstance(x, np.ndarray) and x.ndim == 4)
    return ValueError(
        f"Invalid value for argument `{where}`. SiameseModel expects a pair "
        f"(view_a, view_b) of batches of two views of the same examples. Received: "
        f"{_describe(x)}. {IMAGES_HINT + '. ' if images else ''}{WRAP_HINT}. For embeddings "
        "of single-view inputs use model.embed(x) or model.encoder.predict(x)."
    )


def targets_error(y):
    return ValueError(
        "Invalid value for argument `y`. A self-supervised SiameseModel has no "
        f"targets, but the data give y={_describe(y)}. {WRAP_HINT}. To weight "
        "examples pass sample_weight=... with arrays, or yield "
        "((view_a, view_b), None, weights) from a dataset."
    )


def no_targets(n):
    """The zero-width stand-in `y` that carries `sample_weight` through Keras."""
    return np.zeros((n, 0), np.float32)


def is_no_targets(y):
    shape = getattr(y, "shape", None)
    return shape is not None and len(shape) == 2 and shape[-1] == 0


def unpack_step_data(data):
    """`(views, sample_weight)` of one batch inside `train_step`/`test_step`."""
    if not (isinstance(data, (tuple, list)) and len(data) in (1, 2, 3) and is_pair(data[0])):
        # (view_a, view_b) read as (x, y) is the most common mistake.
        two = isinstance(data, (tuple, list)) and len(data) == 2
        raise not_a_pair_error(data[0] if two else data, "x")
    x, y, weights = (*data, None, None)[:3]
    if y is not None and not is_no_targets(y):
        raise targets_error(y)
    return x, weights


def refuse_weights(objective):
    return ValueError(
        f"Invalid value for argument `sample_weight`: {type(objective).__name__} is a "
        "whole-batch objective (one scalar for the batch), so per-example weights "
        "do not apply. Remove the weights, or use a per-example objective "
        "(NTXent, InfoNCE, SpectralContrastive, SimSiam, BYOL)."
    )


def min_batch(objective, strategy):
    """Smallest global batch: the objective's, and one example per replica."""
    return max(getattr(objective, "min_batch", 1), strategy.num_replicas_in_sync)


def _too_small_reason(size, objective, strategy):
    replicas = strategy.num_replicas_in_sync
    needed = getattr(objective, "min_batch", 1)
    if size < needed:
        return (f"{type(objective).__name__} needs at least {needed} examples per batch "
                "(it uses the other examples of the batch)")
    return f"each of the {replicas} replicas needs at least one example"


def prepare_dataset(dataset, objective, strategy, what="x"):
    """Check a dataset's element structure; skip too-small batches if needed.

    Returns:
        `(dataset, filtered)`: the dataset to train on, and whether it is a
        filtered copy (whose cardinality Keras cannot know).
    """
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or not spec:
        raise not_a_pair_error(spec, what)
    if not is_pair(spec[0]):  # a pair (view_a, view_b) reads as (x, y)
        raise not_a_pair_error(spec[0] if len(spec) == 2 else spec, what)
    if len(spec) > 1 and not isinstance(spec[1], tf.NoneTensorSpec):
        raise targets_error(spec[1])
    if len(spec) > 3:
        raise not_a_pair_error(spec, what)
    if int(dataset.cardinality()) == 0:
        raise _checks.invalid(what, "a non-empty dataset of batches",
                              "an empty tf.data.Dataset (cardinality 0)")
    weighted = len(spec) == 3 and not isinstance(spec[2], tf.NoneTensorSpec)
    if weighted and getattr(objective, "whole_batch", False):
        raise refuse_weights(objective)
    first = tf.nest.flatten(spec[0])[0]
    batch = first.shape[0] if first.shape.rank else None
    minimum = min_batch(objective, strategy)
    if batch is not None and strategy.num_replicas_in_sync > 1:
        check_global_batch(batch, strategy, getattr(objective, "min_batch", 1))
    if batch is not None:
        if batch < minimum:
            raise ValueError(
                f"Invalid value for argument `{what}`. The dataset's batches hold {batch} "
                f"example{'s' * (batch != 1)} but {_too_small_reason(batch, objective, strategy)}: batch "
                f"it with a batch size of at least {minimum}.")
        return dataset, False
    if minimum <= 1:
        return dataset, False
    return _skip_small_batches(dataset, objective, strategy, minimum), True


def _skip_small_batches(dataset, objective, strategy, minimum):
    """The dataset without batches of fewer than `minimum` examples, warning
    once (per fit/evaluate call) when one is dropped."""
    warned = []

    def note(size):
        if not warned:
            warned.append(True)
            size = int(size)
            warnings.warn(
                f"SiameseModel: skipped a batch of {size} example{'s' * (size != 1)}: "
                f"{_too_small_reason(size, objective, strategy)}. Batches of fewer than "
                f"{minimum} examples are skipped (usually the last batch of a dataset "
                "batched without drop_remainder=True; Dataset.batch(n, "
                "drop_remainder=True) avoids it).", UserWarning, stacklevel=2)
        return False

    def keep(*element):
        size = tf.shape(tf.nest.flatten(element[0])[0])[0]
        return tf.cond(size >= minimum, lambda: tf.constant(True),
                       lambda: tf.py_function(note, [size], tf.bool))

    return dataset.filter(keep)


def prepare_arrays(x, y, sample_weight, batch_size, objective, strategy,
                   validation_split=0.0, what="x"):
    """`(x, y, sample_weight)` for Keras from array inputs, checked."""
    if not is_pair(x):
        raise not_a_pair_error(x, what)
    if y is not None:
        raise targets_error(y)
    n = _length(x[0])
    if sample_weight is not None:
        if getattr(objective, "whole_batch", False):
            raise refuse_weights(objective)
        y = no_targets(n)
    if n is not None:
        size = batch_size or KERAS_DEFAULT_BATCH
        if validation_split:
            # Keras keeps the first ceil(n·(1 − split)) examples for training.
            n = int(math.ceil(n * (1.0 - validation_split)))
        check_last_batch(n, size, objective, strategy, what)
    return x, y, sample_weight


def _length(array):
    shape = getattr(array, "shape", None)
    if shape is None or not len(shape):
        return None
    return None if shape[0] is None else int(shape[0])


def check_last_batch(n, batch_size, objective, strategy, what="x"):
    """Raise before training when the batches of `n` examples leave one too small."""
    minimum = min_batch(objective, strategy)
    last = n % batch_size or min(n, batch_size)
    if last >= minimum:
        return
    examples = n - last
    raise ValueError(
        f"Invalid value for argument `{what}`. {n} examples in batches of {batch_size} "
        f"leave a last batch of {last} example{'s' * (last != 1)}, but "
        f"{_too_small_reason(last, objective, strategy)}. Pass a batch_size that leaves "
        f"at least {minimum} in the last batch, drop the last {last} "
        f"(x[:{examples}])" + (", " if examples else " ") +
        "or use a tf.data.Dataset batched with drop_remainder=True."
    )


def prepare(arguments, objective, strategy, fit=True):
    """Checked and adapted keyword arguments of Keras' `fit` (or `evaluate`).

    Args:
        arguments: the call's arguments by name (`x`, `y`, `sample_weight`,
            `batch_size`, `validation_data`, ...).
        objective: the compiled self-supervised loss.
        strategy: the model's `tf.distribute` strategy.
        fit: `True` for `fit` (validation data checked too), `False` for
            `evaluate`.

    Returns:
        `(arguments, filtered)`: the arguments to pass on, and the names of
        those (`"x"`, `"validation_data"`) that are datasets filtered of
        too-small batches or of unknown cardinality (whose end Keras cannot
        foresee).
    """
    arguments = dict(arguments)
    if arguments.get("class_weight") is not None:
        raise ValueError(
            "Invalid value for argument `class_weight`. A self-supervised model "
            "has no classes; weight examples with sample_weight instead.")
    x, filtered = arguments.get("x"), set()
    if isinstance(x, tf.data.Dataset):
        for name in ("y", "sample_weight"):
            if arguments.get(name) is not None:
                raise ValueError(
                    f"Invalid value for argument `{name}`: with a tf.data.Dataset, put "
                    "sample weights in its elements, ((view_a, view_b), None, weights).")
        arguments["x"], skips = prepare_dataset(x, objective, strategy)
        # Keras warns at the end of a dataset of unknown size even where that
        # end is the epoch's (kc.data.two_views of an image folder, say).
        unknown = int(x.cardinality()) == tf.data.UNKNOWN_CARDINALITY
        filtered |= {"x"} if skips or unknown else set()
        if fit:  # Keras ignores `shuffle` for datasets but warns when it is True
            arguments.setdefault("shuffle", False)
    elif is_pair(x) or arguments.get("y") is not None or hasattr(x, "shape"):
        arguments["x"], arguments["y"], arguments["sample_weight"] = prepare_arrays(
            x, arguments.get("y"), arguments.get("sample_weight"), arguments.get("batch_size"),
            objective, strategy, arguments.get("validation_split", 0.0))
    data = arguments.get("validation_data")
    if fit and data is not None:
        if isinstance(data, tf.data.Dataset):
            arguments["validation_data"], skips = prepare_dataset(
                data, objective, strategy, "validation_data")
            filtered |= {"validation_data"} if skips else set()
        elif isinstance(data, (tuple, list)) and len(data) in (1, 2, 3):
            x_val, y_val, w_val = (*data, None, None)[:3]
            batch_size = arguments.get("validation_batch_size") or arguments.get("batch_size")
            arguments["validation_data"] = prepare_arrays(
                x_val, y_val, w_val, batch_size, objective, strategy, what="validation_data")
    return arguments, frozenset(filtered)
