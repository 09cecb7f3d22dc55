"""Data orderings of Li et al. 2022 (arXiv 2209.15007): continual vs iid.

A fixed ordering of the ``N`` examples (random from ``seed``, or sorted by
class when ``order="class"`` and labels are given) is cut into chunks; each
ordering picks the subset of examples an epoch uses:

* ``multi_pass``: every example, reshuffled iid each epoch;
* ``cumulative``: epoch ``e`` of ``E`` uses the first ``(e + 1) / E`` of the
  ordering;
* ``single_pass``: epoch ``e`` uses only chunk ``e`` of ``E`` equal chunks;
* ``hybrid(switch_epoch, num_chunks)``: single pass over chunks ``0 ..
  switch_epoch − 1`` of ``num_chunks`` (default ``switch_epoch``: all the
  data) in the first ``switch_epoch`` epochs, then iid over everything;
* ``last(fraction)``: the final ``fraction`` of the ordering, every epoch.

Every epoch has ``steps_per_epoch * batch_size`` examples: the subset is
reshuffled and repeated to fill it. :func:`epoch_indices` is a pure function
of ``(epoch, seed, ...)`` so a run resumed at ``initial_epoch`` sees exactly the
batches an uninterrupted run would.
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data._stream import stream_views
from keras_collapse.data.examples import count, examples_of
from keras_collapse.data.views import views_map_fn

_ORDERS = {"random", "class"}


class Ordering:
    """Base class: which examples (positions in the fixed ordering) epoch ``e`` uses.

    Subclasses implement :meth:`subset`. ``order`` chooses the fixed ordering:
    ``"random"`` (a seeded permutation) or ``"class"`` (sorted by label,
    seeded random order within a class; needs ``labels``).

    Args:
        order: ``"random"`` or ``"class"``. Defaults to ``"random"``.
    """

    name = None

    def __init__(self, order="random"):
        self.order = _checks.one_of("order", order, _ORDERS)

    def subset(self, epoch, num_examples, num_epochs):
        """Return the ``slice`` of the fixed ordering used in ``epoch``."""
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments, e.g. for logging or gin bindings."""
        return {"order": self.order}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def base_ordering(self, num_examples, seed, labels=None):
        """The fixed ordering: a permutation of ``range(num_examples)``."""
        rng = np.random.default_rng([int(seed), 0])
        permutation = rng.permutation(num_examples)
        if self.order == "random":
            return permutation
        if labels is None:
            raise _checks.invalid(
                "labels", 'class labels when order="class" (pass labels=... or '
                '(x, y) data, or use order="random")', labels)
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != num_examples:
            raise _checks.invalid(
                "labels", f"one label per example ({num_examples})", f"{labels.shape[0]} labels")
        return permutation[np.argsort(labels[permutation], kind="stable")]


def _chunk_bounds(num_examples, num_chunks, what):
    if num_chunks > num_examples:
        raise ValueError(
            f"Invalid value for argument `{what}`. Expected at most num_examples="
            f"{num_examples} chunks so that every chunk holds an example; use fewer "
            f"epochs (or a smaller `{what}`) or more examples. Received: {what}={num_chunks}")
    return np.linspace(0, num_examples, num_chunks + 1).round().astype(int)


class MultiPass(Ordering):
    """iid: every example, reshuffled each epoch (Li et al.'s multiple pass)."""

    name = "multi_pass"

    def subset(self, epoch, num_examples, num_epochs):
        return slice(0, num_examples)


class Cumulative(Ordering):
    """Epoch ``e`` of ``E`` uses the first ``(e + 1) / E`` of the ordering."""

    name = "cumulative"

    def subset(self, epoch, num_examples, num_epochs):
        bounds = _chunk_bounds(num_examples, num_epochs, "num_epochs")
        return slice(0, bounds[epoch + 1])


class SinglePass(Ordering):
    """Epoch ``e`` of ``E`` uses only chunk ``e`` of ``E`` equal chunks."""

    name = "single_pass"

    def subset(self, epoch, num_examples, num_epochs):
        bounds = _chunk_bounds(num_examples, num_epochs, "num_epochs")
        return slice(bounds[epoch], bounds[epoch + 1])


class Hybrid(Ordering):
    """Single pass over the first ``switch_epoch`` of ``num_chunks`` chunks, then iid.

    Epoch ``e < switch_epoch`` uses chunk ``e`` of ``num_chunks`` equal
    chunks; later epochs use everything, iid. Li et al.'s hybrid resumes
    their 100-epoch single-pass run at epoch 40 (README, ``--resume
    checkpoint_0039``; ``main_simsiam.py`` ``get_incremental_dataloader``):
    ``Hybrid(40, num_chunks=100)``, 40% of the data seen before the switch.
    With ``num_chunks=None`` the chunks are ``switch_epoch``, so the single
    pass covers all the data before the switch.

    Args:
        switch_epoch: first iid epoch. Required.
        num_chunks: chunks of the single pass, at least ``switch_epoch``, or
            ``None`` for ``switch_epoch``. Defaults to ``None``.
        order: ``"random"`` or ``"class"``. Defaults to ``"random"``.
    """

    name = "hybrid"

    def __init__(self, switch_epoch, num_chunks=None, order="random"):
        super().__init__(order)
        self.switch_epoch = _checks.positive_int("switch_epoch", switch_epoch)
        if num_chunks is not None:
            num_chunks = _checks.positive_int("num_chunks", num_chunks)
            if num_chunks < self.switch_epoch:
                raise _checks.invalid("num_chunks", f"at least switch_epoch={switch_epoch}",
                                      num_chunks)
        self.num_chunks = num_chunks

    def get_config(self):
        return {"switch_epoch": self.switch_epoch, "num_chunks": self.num_chunks,
                **super().get_config()}

    def subset(self, epoch, num_examples, num_epochs):
        chunks = self.switch_epoch if self.num_chunks is None else self.num_chunks
        bounds = _chunk_bounds(num_examples, chunks,
                               "switch_epoch" if self.num_chunks is None else "num_chunks")
        if epoch >= self.switch_epoch:
            return slice(0, num_examples)
        return slice(bounds[epoch], bounds[epoch + 1])


class Last(Ordering):
    """The final ``fraction`` of the fixed ordering, every epoch.

    Args:
        fraction: share of the data used, in ``(0, 1]``. Required.
        order: ``"random"`` or ``"class"``. Defaults to ``"random"``.
    """

    name = "last"

    def __init__(self, fraction, order="random"):
        super().__init__(order)
        self.fraction = _checks.probability("fraction", fraction)
        if self.fraction == 0.0:
            raise _checks.invalid("fraction", "a float in (0, 1]", fraction)

    def get_config(self):
        return {"fraction": self.fraction, **super().get_config()}

    def subset(self, epoch, num_examples, num_epochs):
        count = max(1, int(round(self.fraction * num_examples)))
        return slice(num_examples - count, num_examples)


ORDERINGS = {cls.name: cls for cls in (MultiPass, Cumulative, SinglePass, Hybrid, Last)}


def get_ordering(ordering, **config):
    """Return an :class:`Ordering` from an instance or a registered name.

    Args:
        ordering: an ``Ordering`` or one of ``"multi_pass"``, ``"cumulative"``,
            ``"single_pass"``, ``"hybrid"``, ``"last"``.
        **config: constructor arguments for a name (e.g. ``switch_epoch``).

    >>> get_ordering("hybrid", switch_epoch=40)
    Hybrid(switch_epoch=40, num_chunks=None, order='random')
    """
    if isinstance(ordering, Ordering):
        if config:
            raise _checks.invalid("config", "no extra arguments with an Ordering instance", config)
        return ordering
    return ORDERINGS[_checks.one_of("ordering", ordering, set(ORDERINGS))](**config)


def epoch_indices(ordering, epoch, num_examples, num_epochs, steps_per_epoch, batch_size,
                  seed=0, labels=None):
    """The example indices, in order, that epoch ``epoch`` trains on.

    The epoch's subset (see the module docstring) is shuffled with a
    generator seeded by ``(seed, epoch)`` and repeated, reshuffling each
    repeat, until ``steps_per_epoch * batch_size`` indices. Pure: resuming at
    ``epoch`` recomputes exactly the same indices.

    Args:
        ordering: an :class:`Ordering` or a registered name.
        epoch: zero-based epoch, ``0 <= epoch < num_epochs``.
        num_examples: dataset size ``N``.
        num_epochs: total epochs ``E`` of the run.
        steps_per_epoch: batches per epoch.
        batch_size: examples per batch.
        seed: integer seed of the ordering and shuffles. Defaults to ``0``.
        labels: ``(num_examples,)`` class labels, needed for
            ``order="class"``. Defaults to ``None``.

    Returns:
        ``(steps_per_epoch * batch_size,)`` int64 array of indices.

    >>> idx = epoch_indices("single_pass", 1, 10, 5, steps_per_epoch=2,
    ...                     batch_size=3, seed=0)
    >>> idx.shape, len(set(idx.tolist()))
    ((6,), 2)
    """
    ordering = get_ordering(ordering)
    num_examples = _checks.positive_int("num_examples", num_examples)
    num_epochs = _checks.positive_int("num_epochs", num_epochs)
    steps_per_epoch = _checks.positive_int("steps_per_epoch", steps_per_epoch)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if not 0 <= int(epoch) < num_epochs:
        raise _checks.invalid("epoch", f"an integer in [0, num_epochs={num_epochs})", epoch)
    base = ordering.base_ordering(num_examples, seed, labels)
    subset = base[ordering.subset(int(epoch), num_examples, num_epochs)]
    total = steps_per_epoch * batch_size
    rng = np.random.default_rng([int(seed), 1, int(epoch)])
    repeats = -(-total // subset.shape[0])
    filled = np.concatenate([rng.permutation(subset) for _ in range(repeats)])
    return filled[:total].astype(np.int64)


def check_initial_epoch(initial_epoch, num_epochs):
    """Raise unless ``initial_epoch`` is an integer in ``[0, num_epochs)``."""
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral):
        raise _checks.invalid("initial_epoch", "an integer", initial_epoch, TypeError)
    if not 0 <= initial_epoch < num_epochs:
        raise _checks.invalid(
            "initial_epoch", f"an integer in [0, num_epochs={num_epochs})", initial_epoch)


def ordered_views(data, ordering, augment_a, augment_b=None, *, batch_size, num_epochs,
                  steps_per_epoch=None, seed=0, labels=None, initial_epoch=0,
                  shuffle_buffer=10_000):
    """A two-view pipeline following an ordering, for ``model.fit``.

    Yields ``(num_epochs - initial_epoch) * steps_per_epoch`` batches
    ``((view_a, view_b),)``; pass the same ``steps_per_epoch``, ``epochs`` and
    ``initial_epoch`` to ``model.fit``. The views of global step
    ``epoch * steps_per_epoch + i`` use seed ``(seed, step)`` (see
    :func:`~keras_collapse.data.views.views_map_fn`), so resuming reproduces
    the uninterrupted run.

    A ``tf.data.Dataset`` (of single examples or of batches, e.g. from
    ``keras.utils.image_dataset_from_directory``) is streamed, as
    :func:`~keras_collapse.data.tfds_views` streams TFDS: its fixed ordering is
    the order it yields its examples (for arrays it is a seeded permutation),
    and epoch ``e`` reads its chunk with ``skip``/``take`` (reading, and
    decoding, the examples before the chunk), shuffles it in a buffer of
    ``shuffle_buffer`` examples and repeats it. The order must then be the
    same on every read: give ``image_dataset_from_directory`` ``shuffle=False``
    (its ``shuffle=True`` reshuffles every epoch). A dataset of unknown size
    is read once to count it. ``order="class"`` needs the labels of every
    example, so such a dataset is loaded into memory instead.

    Args:
        data: array ``(num_examples, ...)``, tuple ``(x, y)`` (``y`` is used as
            ``labels`` when none are given), or a finite ``tf.data.Dataset``
            (streamed; see above).
        ordering: an :class:`Ordering` or a registered name.
        augment_a: callable ``(batch, seed) -> batch``, or a Keras
            preprocessing layer.
        augment_b: callable for view b, ``None`` for ``augment_a``.
            Defaults to ``None``.
        batch_size: examples per batch. Required.
        num_epochs: total epochs of the run. Required.
        steps_per_epoch: batches per epoch. Defaults to
            ``num_examples // batch_size`` (at least 1).
        seed: integer seed. Defaults to ``0``.
        labels: class labels for ``order="class"``. Defaults to ``None``.
        initial_epoch: first epoch to produce (to resume). Defaults to ``0``.
        shuffle_buffer: shuffle buffer in examples, for a streamed dataset.
            Defaults to ``10_000``.

    Returns:
        A prefetched ``tf.data.Dataset``.

    >>> x = np.arange(40, dtype=np.float32).reshape(20, 2)
    >>> ds = ordered_views(x, "cumulative", lambda b, s: b, batch_size=4,
    ...                    num_epochs=5, seed=0)
    >>> int(ds.cardinality())
    25
    """
    ordering = get_ordering(ordering)
    if labels is None and isinstance(data, (tuple, list)) and len(data) == 2:
        labels = np.asarray(data[1])
    examples = examples_of(data)
    streamed = isinstance(examples, tf.data.Dataset) and ordering.order == "random"
    if isinstance(examples, tf.data.Dataset) and not streamed:
        examples = list(examples.as_numpy_iterator())  # order="class": sorted by label
        if not examples:
            raise _checks.invalid("data", "a non-empty dataset of examples",
                                  "a tf.data.Dataset that yielded no examples")
        examples = np.stack(examples)
    num_examples = count(examples) if streamed else examples.shape[0]
    batch_size = _checks.positive_int("batch_size", batch_size)
    if steps_per_epoch is None:
        steps_per_epoch = max(1, num_examples // batch_size)
    steps_per_epoch = _checks.positive_int("steps_per_epoch", steps_per_epoch)
    num_epochs = _checks.positive_int("num_epochs", num_epochs)
    check_initial_epoch(initial_epoch, num_epochs)
    if streamed:
        return stream_views(
            lambda subset: examples.skip(subset.start).take(subset.stop - subset.start),
            num_examples, ordering, augment_a, augment_b, batch_size=batch_size,
            num_epochs=num_epochs, steps_per_epoch=steps_per_epoch,
            shuffle_buffer=_checks.positive_int("shuffle_buffer", shuffle_buffer), seed=seed,
            initial_epoch=initial_epoch)
    # Fail now, not inside the generator, on bad settings.
    epoch_indices(ordering, initial_epoch, num_examples, num_epochs, steps_per_epoch,
                  batch_size, seed, labels)

    def epochs():
        for epoch in range(initial_epoch, num_epochs):
            indices = epoch_indices(ordering, epoch, num_examples, num_epochs,
                                    steps_per_epoch, batch_size, seed, labels)
            yield epoch, indices.reshape(steps_per_epoch, batch_size)

    index_batches = tf.data.Dataset.from_generator(
        epochs, output_signature=(
            tf.TensorSpec((), tf.int64),
            tf.TensorSpec((steps_per_epoch, batch_size), tf.int64)))
    index_batches = index_batches.flat_map(
        lambda epoch, idx: tf.data.Dataset.from_tensor_slices(
            (epoch * steps_per_epoch + tf.range(steps_per_epoch, dtype=tf.int64), idx)))
    total = (num_epochs - initial_epoch) * steps_per_epoch
    index_batches = index_batches.apply(tf.data.experimental.assert_cardinality(total))
    table = tf.constant(examples)
    fn = views_map_fn(augment_a, augment_b, seed)
    # A sequential map: under op determinism (every study) tf.data turns a
    # parallel map downstream of from_generator into a sequential one anyway,
    # and TensorFlow 2.21's rewrite then logs a spurious "NodeDef mentions
    # attribute use_unbounded_threadpool" error. Each map call is a whole
    # batch whose ops use every core, and prefetch overlaps it with training:
    # 30 SimCLR-augmented batches of 256 took 1.39 s sequential vs 1.43 s
    # parallel here (2 cores).
    dataset = index_batches.map(lambda step, idx: fn(step, tf.gather(table, idx)))
    return dataset.prefetch(tf.data.AUTOTUNE)
