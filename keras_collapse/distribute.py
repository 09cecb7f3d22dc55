"""Cross-replica helpers used by the objectives under ``tf.distribute``.

Under a distribution strategy each replica sees only its slice of the global
batch. Contrastive objectives need every replica's embeddings as negatives and
batch-statistic objectives (Barlow Twins, VICReg) need statistics of the whole
global batch. :func:`global_batch` gathers a tensor across replicas (gradients
flow back to each replica's own slice) and returns where the local slice starts,
so positives can be indexed by global position. Outside a strategy, or with a
single replica, it is the identity with offset 0.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def num_replicas():
    """Replicas the objectives gather over in the current context.

    `num_replicas_in_sync` inside `strategy.run` (a replica context); 1
    outside a strategy and in a cross-replica context, where nothing is
    gathered (:func:`global_batch` is then the identity).

    Example:

    >>> num_replicas()
    1
    """
    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def global_batch(x):
    """Concatenate ``x`` over replicas along axis 0.

    Args:
        x: Tensor of shape `(local_batch, ...)`.

    Returns:
        A pair `(gathered, offset)`: `gathered` has shape
        `(num_replicas * local_batch, ...)` in replica order and `offset` is the
        index of this replica's first row in it (a scalar int32 tensor).

    Example:

    >>> import tensorflow as tf
    >>> gathered, offset = global_batch(tf.ones((4, 2)))
    >>> gathered.shape, int(offset)
    (TensorShape([4, 2]), 0)
    """
    if num_replicas() == 1:
        return x, tf.constant(0, tf.int32)
    context = tf.distribute.get_replica_context()
    # An all-reduce of zero-padded blocks rather than `context.all_gather`:
    # XLA has no kernel for CollectiveGatherV2, so `jit_compile=True` under a
    # strategy would fail, while CollectiveReduceV2 compiles. Exact (each entry
    # is one value plus zeros); its gradient is the all-reduced gradient of the
    # local block, as for all_gather. Embeddings are small next to the model's
    # gradients, so the all-reduce's extra traffic does not matter. The local
    # sizes are all-reduced first, so replicas may hold different numbers of
    # rows (the last batch of a dataset batched without drop_remainder: 35
    # examples split 18 + 17, or 1 + 0).
    replicas = context.num_replicas_in_sync
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    local = tf.shape(x, out_type=tf.int32)[0]
    if x.shape.rank is not None and x.shape[0] is not None:
        # A static local batch is the same on every replica.
        offset, total = replica * local, replicas * local
    else:
        sizes = context.all_reduce(
            "sum", tf.one_hot(replica, replicas, dtype=tf.float32) * tf.cast(local, tf.float32))
        sizes = tf.cast(tf.round(sizes), tf.int32)
        offset, total = tf.reduce_sum(sizes[:replica]), tf.reduce_sum(sizes)
    padding = tf.concat(
        [[[offset, total - offset - local]], tf.zeros([tf.rank(x) - 1, 2], tf.int32)], axis=0)
    gathered = context.all_reduce("sum", tf.pad(x, padding))
    if x.shape.rank is not None:
        rows = None if x.shape[0] is None else replicas * x.shape[0]
        gathered = tf.ensure_shape(gathered, [rows] + x.shape[1:].as_list())
    return gathered, offset


STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def get_strategy(name="default"):
    """A `tf.distribute` strategy by name, as the studies take it from gin.

    Args:
        name: `"default"` (no distribution), `"mirrored"` (all local GPUs, or
            the CPU), `"multi_worker"` (`MultiWorkerMirroredStrategy`, cluster
            from the `TF_CONFIG` environment variable) or `"tpu"`
            (`TPUStrategy` on the TPU found by `TPUClusterResolver`).
            Defaults to `"default"`.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> get_strategy("default").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Invalid value for argument `strategy`. Expected one of "
            f"{list(STRATEGIES)}. Received: strategy={name!r}"
        )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        raise ValueError(
            "strategy='tpu' was requested but no TPU was found "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Run on a TPU VM (or set TPU_NAME), or use strategy='mirrored' for "
            "GPUs / 'default' for one device."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def check_global_batch(global_batch_size, strategy=None, min_batch=1):
    """Check a fixed global batch against the replicas before training starts.

    Args:
        global_batch_size: The batch the objective sees (summed over replicas).
        strategy: A `tf.distribute.Strategy`; defaults to the current one.
        min_batch: Smallest global batch the objective is defined on
            (contrastive and whole-batch objectives need 2: the
            `min_batch` attribute of a `kc.losses` objective). Defaults to `1`.

    Returns:
        The per-replica batch size.

    Raises:
        ValueError: if the batch is smaller than `min_batch`, or does not
            divide evenly over the replicas (a fixed batch must; a last
            partial batch of a dataset batched without `drop_remainder` may be
            split unevenly, and the objectives handle that exactly).

    Example:

    >>> check_global_batch(256)
    256
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if isinstance(global_batch_size, bool) or not isinstance(global_batch_size, int) or global_batch_size < 1:
        raise ValueError(
            "Invalid value for argument `global_batch_size`. Expected a positive "
            f"integer. Received: global_batch_size={global_batch_size!r}"
        )
    if global_batch_size < min_batch:
        raise ValueError(
            f"The batch size is {global_batch_size} but this objective needs at "
            f"least {min_batch} examples per batch: use a batch of at least {min_batch}."
        )
    if global_batch_size % replicas:
        raise ValueError(
            f"The global batch size {global_batch_size} is not divisible by the "
            f"{replicas} replicas: use a multiple of {replicas}, e.g. "
            f"{replicas * max(1, global_batch_size // replicas)}."
        )
    return global_batch_size // replicas


def scaled_learning_rate(base_learning_rate, global_batch_size, base_batch_size=256):
    """The linear scaling rule `lr = base_lr · global_batch / base_batch`.

    (Goyal et al. 2017, arXiv 1706.02677; the SimSiam recipe
    `0.05 · batch / 256`.)

    Example:

    >>> scaled_learning_rate(0.05, 512)
    0.1
    """
    return base_learning_rate * global_batch_size / base_batch_size


def _cluster():
    """`(cluster, task)` dicts from the `TF_CONFIG` environment variable."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return config.get("cluster", {}), config.get("task", {})


def task_name():
    """`"<type>-<index>"` of this process's `TF_CONFIG` task, or `None` without one.

    Example:

    >>> task_name() is None
    True
    """
    _, task = _cluster()
    return f"{task['type']}-{task.get('index', 0)}" if task else None


def is_chief():
    """Whether this process should write logs and results (`TF_CONFIG` aware).

    The chief is the `chief` task, or worker 0 when the cluster has no chief;
    without `TF_CONFIG` every process is the chief.

    Example:

    >>> is_chief()
    True
    """
    cluster, task = _cluster()
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
