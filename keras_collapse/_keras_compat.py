"""Workarounds for Keras 3 behaviour, in one place (TensorFlow backend).

Each function names the Keras issue it works around, and
`tests/test_keras_compat.py` shows, with Keras' own behaviour, that it is still
needed: when such a test fails after a Keras upgrade, the workaround can go.

* :func:`build_from_spec` replaces `Model._maybe_symbolic_build` (private).
* :func:`rank1_logs` reshapes step logs under `MultiWorkerMirroredStrategy`.
* :func:`end_of_data_expected` silences a false "ran out of data" warning.
* :func:`after_data` keeps the optimizer's step count from running ahead
  of the data.
"""

from __future__ import annotations

import contextlib
import warnings

import tensorflow as tf


def build_from_spec(model, iterator):
    """Build `model`'s compiled state from zeros shaped like the data.

    Under a distribution strategy Keras 3's `Model._maybe_symbolic_build`
    builds the model from the first batch, which it takes by iterating the
    training data (`next(iterator)`): a dataset with side effects or
    per-iteration randomness (`kc.data.two_views`) is read once more than on one
    device, and under `MultiWorkerMirroredStrategy` its eager
    `strategy.reduce` of that batch fails (keras-team/keras#20585). Zeros of the
    dataset's element spec give the same shapes without reading anything.
    `iterator.data_adapter.get_tf_dataset()` is how Keras' own epoch iterator
    holds the data.
    """
    spec = iterator.data_adapter.get_tf_dataset().element_spec
    data_batch = tf.nest.map_structure(
        lambda s: tf.zeros([2 if d is None else d for d in s.shape], s.dtype), spec)
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)


def rank1_logs(model, logs):
    """Step logs as rank-1 values under a multi-worker strategy.

    Keras 3 reduces each per-replica log value with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars under
    `MultiWorkerMirroredStrategy` in multi-worker mode
    (keras-team/keras#20585). Rank-1 values reduce back to the same scalars
    (metric results are already global).
    """
    strategy = getattr(model, "_distribute_strategy", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    resolver = strategy.cluster_resolver
    tasks = sum(len(hosts) for hosts in resolver.cluster_spec().as_dict().values())
    if tasks <= 1:
        return logs
    return {key: tf.reshape(value, (1,)) for key, value in logs.items()}


@contextlib.contextmanager
def end_of_data_expected():
    """Silence Keras' "Your input ran out of data" at the end of an epoch.

    Keras 3 warns when a dataset of unknown cardinality ends, even without
    `steps_per_epoch`, where the end of the data is the normal end of the
    epoch (its `EpochIterator.catch_stop_iteration`). `SiameseModel` filters
    out batches too small for the objective, which makes the cardinality
    unknown, and the two-view pipelines of an unbatched dataset (an image
    folder) have none, so without this every such `fit` would print the
    warning once (and once per epoch for such validation data). Used only
    when the caller gave no `steps_per_epoch`/`steps` (`validation_steps`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def after_data(data):
    """A context in which every op created waits for the batch `data`.

    With a dataset of unknown cardinality (Keras cannot know when an epoch
    ends) Keras 3 calls the train function once more at the end of every
    epoch; that call fails on the exhausted iterator, but
    `optimizer.iterations.assign_add(1)` does not depend on the data, so it
    still runs: after 2 epochs of 4 batches `iterations` is 10, not 8, and
    learning-rate and momentum schedules run ahead. Making the step's ops
    depend on the batch keeps the count exact.
    """
    return tf.control_dependencies([t for t in tf.nest.flatten(data) if t is not None])
