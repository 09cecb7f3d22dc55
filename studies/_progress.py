"""Progress lines within a study unit's training (:meth:`Study.progress`)."""

from __future__ import annotations

import time

import keras

#: Least seconds between two progress lines of one training run.
EVERY_SECONDS = 10.0


class Progress(keras.callbacks.Callback):
    """Logs how far training is, with an estimate of the time left.

    A line such as ``infonce/seed=0: 400/2000 steps, ~40s left`` (with
    ``epoch 3/20`` for several epochs) goes to `log` at a batch end once
    `every_seconds` have passed since training began or since the previous
    line, so a run shorter than that prints nothing. The time left is the
    elapsed time per step so far times the steps left (the first steps'
    tracing included); a run resumed at `initial_epoch` counts the steps
    before it as done and times only its own. With `steps_per_execution=k`
    Keras calls back every k
    steps. Without a known number of steps per epoch the line says only how
    far it is.

    Args:
        log: Callable receiving the line (e.g. `Study.log`).
        label: What is training (the unit's key), first on the line.
        every_seconds: Least seconds between lines. Defaults to `EVERY_SECONDS`.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x = np.zeros((8, 2), "float32")
    >>> progress = Progress(print, "demo", every_seconds=0)
    >>> _ = model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[progress])
    ... # doctest: +ELLIPSIS
    demo: epoch 1/2, 1/4 steps, ~...s left
    demo: epoch 1/2, 2/4 steps, ~...s left
    demo: epoch 2/2, 3/4 steps, ~...s left
    demo: epoch 2/2, 4/4 steps, ~0s left
    >>> _ = model.fit(x, x[:, :1], batch_size=4, epochs=2, initial_epoch=1, verbose=0,
    ...               callbacks=[progress])  # doctest: +ELLIPSIS
    demo: epoch 2/2, 3/4 steps, ~...s left
    demo: epoch 2/2, 4/4 steps, ~0s left
    """

    def __init__(self, log, label, every_seconds=EVERY_SECONDS):
        super().__init__()
        self._print = log
        self.label = str(label)
        self.every_seconds = float(every_seconds)
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._start = self._last = time.monotonic()
        self._first_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._first_epoch is None:  # resumed runs (initial_epoch) start later
            self._first_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self._last < self.every_seconds:
            return
        self._last = now
        epochs, steps = self.params.get("epochs") or 1, self.params.get("steps")
        where = f"epoch {self._epoch + 1}/{epochs}, " if epochs > 1 else ""
        if not steps:
            self._print(f"{self.label}: {where}step {batch + 1}")
            return
        done, total = self._epoch * steps + batch + 1, epochs * steps
        timed = done - (self._first_epoch or 0) * steps  # the steps of this run
        left = (now - self._start) / timed * (total - done)
        self._print(f"{self.label}: {where}{done}/{total} steps, ~{left:.0f}s left")
