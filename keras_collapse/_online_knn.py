"""``OnlineKNN``: weighted kNN accuracy of the frozen encoder during training."""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from keras_collapse import _checks, evaluation


def _labelled(data, name, max_examples):
    """Checked labelled data (:func:`evaluation.labelled`), at most `max_examples`."""
    data = evaluation.labelled(data, name)
    if max_examples is None:
        return data
    if isinstance(data, tf.data.Dataset):
        if data.element_spec[1].shape.rank not in (None, 0):
            data = data.unbatch()
        return data.take(max_examples)
    return data[0][:max_examples], data[1][:max_examples]


class OnlineKNN(keras.callbacks.Callback):
    """Weighted kNN top-1 accuracy of the frozen representations, every few epochs.

    At the end of the first epoch of each `fit` (a resumed run too) and of
    every `every_n_epochs`-th epoch the encoder (the
    `SiameseModel`'s `encoder`, or `encoder=`) embeds `train_data` and
    `test_data` in inference mode; each test point votes over its `k` most
    cosine-similar training points with weights `exp(cos / temperature)`
    (:func:`keras_collapse.evaluation.knn_accuracy`; the protocol of lightly's
    and solo-learn's benchmarks: k = 200, temperature 0.1). The accuracy goes
    into the epoch logs as `knn_accuracy` (so `EarlyStopping`, `CSVLogger`,
    `ModelCheckpoint(monitor=...)` and Keras' `TensorBoard` callback placed
    after this one see it; the first epoch always has it, so CSVLogger's
    header does, and CSVLogger writes "NA" on epochs without it) and,
    with `log_dir`, to TensorBoard as `knn_accuracy` at the epoch.

    Cost per evaluation: one inference pass over both sets plus a
    `(test, train)` similarity product, in chunks; bound it with
    `max_train_examples` / `max_test_examples` and `every_n_epochs`
    (measured in BENCHMARKS.md, group "image"). `last_seconds` holds the
    latest evaluation's wall time.

    Args:
        train_data: Labelled memory bank: `(x, y)` arrays or a `tf.data.Dataset`
            of `(x, y)` (batched or not).
        test_data: Labelled test set, the same forms.
        k: Neighbours. Defaults to `200`.
        temperature: Vote temperature. Defaults to `0.1`.
        every_n_epochs: Evaluate after epochs `1, n, 2n, …`. Defaults to `1`.
        linear_probe: Also fit a logistic-regression probe on the same features
            (:func:`keras_collapse.evaluation.linear_probe`), logged as
            `linear_probe_accuracy`. Defaults to `False`.
        encoder: The model to evaluate, or `None` for the trained model's
            `encoder` attribute (the model itself if it has none).
            Defaults to `None`.
        log_dir: TensorBoard directory, or `None`. Defaults to `None`.
        batch_size: Encoding batch size. Defaults to `256`.
        max_train_examples: Cap on the memory bank, or `None`. Defaults to `None`.
        max_test_examples: Cap on the test set, or `None`. Defaults to `None`.
        name: Log key. Defaults to `"knn_accuracy"`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 8)).astype("float32"); y = (x[:, 0] > 0).astype(int)
    >>> model = kc.models.SiameseModel(
    ...     keras.Sequential([keras.Input((8,)), keras.layers.Dense(8)]))
    >>> model.compile(optimizer="sgd", loss=kc.losses.NTXent(0.5))
    >>> knn = kc.callbacks.OnlineKNN((x[:48], y[:48]), (x[48:], y[48:]), k=5)
    >>> history = model.fit((x, x + 0.1), batch_size=16, epochs=2, verbose=0,
    ...                     callbacks=[knn])
    >>> len(history.history["knn_accuracy"])
    2

    Reference: Wu et al., "Unsupervised Feature Learning via Non-Parametric
    Instance Discrimination", CVPR 2018, arXiv 1805.01978.
    """

    def __init__(self, train_data, test_data, k=200, temperature=0.1, every_n_epochs=1,
                 linear_probe=False, encoder=None, log_dir=None, batch_size=256,
                 max_train_examples=None, max_test_examples=None, name="knn_accuracy"):
        super().__init__()
        self.k = _checks.positive_int("k", k)
        self.temperature = _checks.positive_float("temperature", temperature)
        self.every_n_epochs = _checks.positive_int("every_n_epochs", every_n_epochs)
        self.linear_probe = bool(linear_probe)
        self.encoder = encoder
        self.log_dir = None if log_dir is None else str(log_dir)
        self.batch_size = _checks.positive_int("batch_size", batch_size)
        caps = [None if cap is None else _checks.positive_int(arg, cap)
                for arg, cap in (("max_train_examples", max_train_examples),
                                 ("max_test_examples", max_test_examples))]
        self.train_data = _labelled(train_data, "train_data", caps[0])
        self.test_data = _labelled(test_data, "test_data", caps[1])
        self.name = str(name)
        self.last_seconds = None
        self._writer = None
        self._first_epoch = True
        self._traced_for = self._traced = None

    def _encoder(self):
        encoder = self.encoder or getattr(self.model, "encoder", None) or self.model
        # One traced inference function per encoder, kept across evaluations
        # (retraced only for a new batch shape).
        if self._traced_for is not encoder:
            self._traced_for = encoder
            self._traced = tf.function(lambda x, training=False: encoder(x, training=False),
                                       reduce_retracing=True)
        return self._traced

    def evaluate(self):
        """`{name: accuracy}` (and the probe's) for the current weights."""
        start = time.perf_counter()
        encode = self._encoder()
        train = evaluation._embed_labelled(encode, self.train_data, self.batch_size, "train_data")
        test = evaluation._embed_labelled(encode, self.test_data, self.batch_size, "test_data")
        out = {self.name: evaluation.knn_accuracy(None, train, test, k=self.k,
                                                  temperature=self.temperature,
                                                  batch_size=self.batch_size)}
        if self.linear_probe:
            out["linear_probe_accuracy"] = evaluation.linear_probe(None, train, test).accuracy
        self.last_seconds = time.perf_counter() - start
        return out

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        first, self._first_epoch = self._first_epoch, False
        if not first and (epoch + 1) % self.every_n_epochs:
            return
        results = self.evaluate()
        if logs is not None:
            logs.update(results)
        if self.log_dir is not None:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default(step=epoch):
                for key, value in results.items():
                    tf.summary.scalar(key, value)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
