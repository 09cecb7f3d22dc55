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

import tensorflow as tf


def num_replicas():
    """Number of replicas in sync in the current context (1 outside a strategy).

    Example:

    >>> num_replicas()
    1
    """
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: the strategy's own count
        return tf.distribute.get_strategy().num_replicas_in_sync
    return context.num_replicas_in_sync


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
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x, tf.constant(0, tf.int32)
    gathered = context.all_gather(x, axis=0)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return gathered, replica * tf.shape(x, out_type=tf.int32)[0]
