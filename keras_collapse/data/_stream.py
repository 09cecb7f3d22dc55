"""Two-view batches of a stream read in an ordering of Li et al., one epoch's chunk at a time.

Shared by :func:`~keras_collapse.data.tfds_views` (chunks are TFDS split
slices) and :func:`~keras_collapse.data.ordered_views` given a
``tf.data.Dataset`` (chunks are ``skip``/``take`` of the dataset). The fixed
ordering is the stream's stored order; each epoch's chunk is shuffled in a
buffer and repeated to fill the epoch.
"""

from __future__ import annotations

import tensorflow as tf

from keras_collapse.data.views import view_batches, views_map_fn


def stream_views(read, num_examples, ordering, augment_a, augment_b, *, batch_size, num_epochs,
                 steps_per_epoch, shuffle_buffer, seed, initial_epoch):
    """Batches ``((view_a, view_b),)`` for epochs ``initial_epoch … num_epochs - 1``.

    Args:
        read: callable ``slice -> tf.data.Dataset`` of the single examples at
            those positions of the stored order.
        num_examples: size ``N`` of the stream.
        ordering: an :class:`~keras_collapse.data.Ordering` (its ``subset``
            gives each epoch's slice).
        augment_a: view function of view a.
        augment_b: view function of view b, or ``None`` for ``augment_a``.
        batch_size: examples per batch.
        num_epochs: epochs of the run.
        steps_per_epoch: batches per epoch.
        shuffle_buffer: shuffle buffer in examples.
        seed: integer seed of the shuffles and views: views of global step
            ``s`` use seed ``(seed, s)``.
        initial_epoch: first epoch produced (to resume).

    Returns:
        A prefetched ``tf.data.Dataset`` of
        ``(num_epochs - initial_epoch) * steps_per_epoch`` batches.

    Example:

    >>> from keras_collapse.data import MultiPass
    >>> data = tf.data.Dataset.range(6).map(lambda i: tf.fill([2], tf.cast(i, tf.float32)))
    >>> ds = stream_views(lambda s: data.skip(s.start).take(s.stop - s.start), 6, MultiPass(),
    ...                   lambda x, s: x, None, batch_size=3, num_epochs=2, steps_per_epoch=2,
    ...                   shuffle_buffer=6, seed=0, initial_epoch=1)
    >>> int(ds.cardinality()), tuple(next(iter(ds))[0][0].shape)
    (2, (3, 2))
    """
    per_epoch = steps_per_epoch * batch_size

    def epoch_examples(epoch):
        data = read(ordering.subset(epoch, num_examples, num_epochs))
        data = data.shuffle(shuffle_buffer, seed=seed * 100_003 + epoch,
                            reshuffle_each_iteration=True)
        return data.repeat().take(per_epoch)

    # Epochs follow each other (concatenate): a finished epoch's reader and
    # shuffle buffer are released before the next one fills.
    examples = epoch_examples(initial_epoch)
    for epoch in range(initial_epoch + 1, num_epochs):
        examples = examples.concatenate(epoch_examples(epoch))
    first, last = initial_epoch * steps_per_epoch, num_epochs * steps_per_epoch

    def steps(per_example):
        scale = batch_size if per_example else 1
        return tf.data.Dataset.range(first * scale, last * scale)

    fn = views_map_fn(augment_a, augment_b, seed)
    dataset = view_batches(examples, fn, batch_size, True, steps)
    return dataset.apply(tf.data.experimental.assert_cardinality(last - first)).prefetch(
        tf.data.AUTOTUNE)
