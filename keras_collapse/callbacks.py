"""Keras callbacks: ``SpectrumLogger`` writes collapse diagnostics to TensorBoard;
``SpectraHistory`` records spectra in memory; ``OnlineKNN`` evaluates the
frozen encoder by weighted kNN during training; ``NonFiniteGuard`` stops on NaN."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import summary_v2 as histogram_summary

from keras_collapse import _checks, metrics, plots
from keras_collapse.metrics._probe import (
    SIAMESE_OUTPUTS,
    batches,
    input_rank,
    is_siamese,
    optimizer_step,
    resolve,
    traced_call,
    weight_roots,
)

_LOGGER = logging.getLogger(__name__)

#: Scalar names logged per output (``<prefix>/<output>/<name>``).
SCALARS = ("effective_rank", "rankme", "auc", "collapsed_dims", "normalized_std",
           "complete_collapse", "nonfinite")
#: Of :data:`SCALARS`, the flags (0 or 1): in the epoch logs as numbers, in
#: TensorBoard as a text event ``<prefix>/<output>/alerts`` only when one is 1.
FLAGS = ("complete_collapse", "nonfinite")
#: Most spectra drawn in the history image (evenly spaced, always the last).
MAX_HISTORY_CURVES = 10
#: Default size of the probe set taken from `probe_data`.
MAX_PROBE_EXAMPLES = 4096


class SpectrumLogger(keras.callbacks.Callback):
    """Logs embedding spectra, collapse scalars and weight alignment to TensorBoard.

    Every ``every_n_epochs`` epochs (or ``every_n_steps`` optimizer steps) the
    fixed probe set is embedded (a plain ``model(x, training=False)`` call,
    in batches) through each named output, and written with ``tf.summary``:

    * scalars ``<prefix>/<output>/{effective_rank, rankme, auc, collapsed_dims,
      normalized_std}`` (see :func:`keras_collapse.metrics.scalar_metrics`),
      ``<prefix>/weights/alignment_score`` (mean over consecutive Dense/Conv
      pairs of mean ``|diag(V_{l+1}ᵀ U_l)|``, computed with the images below)
      and ``<prefix>/loss``, the training loss beside them (the mean of
      Keras' ``logs["loss"]`` over the steps since the previous point: the
      epoch's loss with the epoch cadence); each scalar's description names
      its x axis (epochs, or optimizer steps with ``every_n_steps``);
    * text ``<prefix>/<output>/alerts``, only when a flag fires: non-finite
      embeddings or complete collapse (below);
    * histogram ``<prefix>/<output>/log_eigenvalues`` (natural log);
    * images, every ``images_every_n_logs``-th log (the first included) and at
      the end of training, together with the weight SVDs they need (the
      costly part, ``O(d³)`` per kernel):
      ``<prefix>/<output>/spectrum`` (log spectrum with one curve per logged
      epoch, Jing et al. 2022 Fig. 2), ``<prefix>/weights/singular_values`` and
      ``<prefix>/weights/alignment`` (Fig. 4-5).

    The same scalars are added to the epoch ``logs`` under the same keys
    (e.g. ``"collapse/embedding/effective_rank"``), so ``History``,
    ``CSVLogger``, ``EarlyStopping(monitor=...)`` and ``ModelCheckpoint`` see
    them (``alignment_score`` there is the latest computed value).  Callbacks
    see ``logs`` in list order: put ``SpectrumLogger`` BEFORE
    those callbacks.  With ``every_n_steps`` the epoch logs carry the latest
    values, and the TensorBoard step is the optimizer's step count
    (``model.optimizer.iterations``): under ``compile(steps_per_execution=k)``
    Keras calls back every ``k`` steps, and the logger logs at the first
    call-back at or after each multiple of ``every_n_steps`` (steps 4 and 8 for
    ``every_n_steps=2``, ``k=4``), labelled with the true step.

    Non-finite embeddings give a logged warning, ``nonfinite=1`` in the epoch
    logs, an alert in TensorBoard and NaN metrics (never an exception
    mid-training); complete collapse (all probe embeddings equal) gives a
    warning, ``complete_collapse=1`` and an alert.

    Outputs (``layers``): for a model with ``encoder``/``head`` attributes,
    ``"representation"`` (encoder output) and ``"embedding"`` (head output);
    any other name is a layer whose output is taken (of the model, or of its
    encoder).  Default: both siamese outputs, or ``"output"`` (the model's own
    output) for a plain model.  Unknown names raise at ``on_train_begin``.

    The writer is created lazily and closed at ``on_train_end``.  Under a
    ``tf.distribute`` strategy only the chief writes.  ``tensorboard --logdir``
    shows everything with no plugin.

    The probe set is read once, at the start of training: the first
    ``max_examples`` examples of ``probe_data`` (so a ``.repeat()`` dataset
    is fine). A dataset may hold single examples (batched here) or batches,
    with elements ``x``, ``(x, y)``, dicts with ``"image"``, or the training
    data's two-view elements ``((view_a, view_b),)``, of which view a is used.

    Args:
        probe_data: fixed probe inputs: an array of shape `(num_probe, ...)`,
            or a tf.data.Dataset as above.
        log_dir: directory for the event files.
        layers: output names, see above. Defaults to `None`.
        every_n_epochs: epoch cadence. Defaults to `1`.
        every_n_steps: step cadence; replaces the epoch cadence when set.
            Defaults to `None`.
        prefix: tag prefix. Defaults to `"collapse"`.
        images_every_n_logs: weight SVDs, alignment and images at every
            this-many log events (the first included) and at the end.
            Defaults to `10`.
        include_weights: log weight spectra and alignment. Defaults to `True`.
        batch_size: batch size of the probe forward pass. Defaults to `256`.
        rtol: relative threshold of collapsed dims. Defaults to `1e-5`.
        max_examples: size of the probe set taken from ``probe_data``.
            Defaults to `4096`.

    Example:

    >>> import keras, numpy as np, tempfile
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile("sgd", "mse")
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> logger = SpectrumLogger(x, tempfile.mkdtemp())
    >>> history = model.fit(x, x[:, :3], epochs=1, verbose=0, callbacks=[logger])
    >>> "collapse/output/effective_rank" in history.history
    True

    Reference: Jing et al. 2022, arXiv 2110.09348; Li et al. 2022,
    arXiv 2209.15007; Garrido et al. 2023, arXiv 2210.02885.
    """

    def __init__(self, probe_data, log_dir, layers=None, every_n_epochs=1,
                 every_n_steps=None, prefix="collapse", images_every_n_logs=10,
                 include_weights=True, batch_size=256, rtol=metrics.COLLAPSE_RTOL,
                 max_examples=MAX_PROBE_EXAMPLES):
        super().__init__()
        self.log_dir = str(log_dir)
        self.layers = None if layers is None else [str(name) for name in layers]
        self.every_n_epochs = _checks.positive_int("every_n_epochs", every_n_epochs)
        self.every_n_steps = (None if every_n_steps is None
                              else _checks.positive_int("every_n_steps", every_n_steps))
        self.prefix = str(prefix)
        self.images_every_n_logs = _checks.positive_int(
            "images_every_n_logs", images_every_n_logs)
        self.include_weights = bool(include_weights)
        self.batch_size = _checks.positive_int("batch_size", batch_size)
        self.rtol = _checks.positive_float("rtol", rtol)
        self.max_examples = _checks.positive_int("max_examples", max_examples)
        self._probe_source = probe_data
        self.probe_data = None
        if not isinstance(probe_data, tf.data.Dataset):
            self.probe_data = _materialize(probe_data, self.max_examples, self.batch_size)
        self._writer = None
        self._outputs = {}
        self._history = {}
        self._latest = {}
        self._logs_done = 0
        self._last_heavy_step = None
        self._last_step = None
        self._step = 0
        self._loss_mark = (0, 0.0)  # (steps into the epoch, Keras' running mean there)

    # -- Keras hooks ---------------------------------------------------------

    def on_train_begin(self, logs=None):
        if self.probe_data is None:
            self.probe_data = _materialize(self._probe_source, self.max_examples,
                                           self.batch_size, input_rank(self.model))
        names = self.layers or (list(SIAMESE_OUTPUTS) if is_siamese(self.model)
                                else ["output"])
        self._outputs = {}
        for name in names:
            if is_siamese(self.model) and name in SIAMESE_OUTPUTS:
                embed_fn, _ = resolve(self.model, output=name)
            elif name == "output" and self.layers is None:
                embed_fn, _ = resolve(self.model)
            else:
                embed_fn, _ = resolve(self.model, layer=name)
            shape = tuple(embed_fn(self.probe_data[:2]).shape)
            if len(shape) != 2:
                raise _checks.invalid(
                    "layers", f"outputs of rank 2, (num_samples, dim); `{name}` "
                    f"gives shape {shape}", self.layers)
            self._outputs[name] = embed_fn
        # The head on the representation, traced: eager calls of the head
        # were about a third of the probe pass.
        self._head_fn = (traced_call(self.model.head)
                         if is_siamese(self.model) and self.model.head is not None else None)
        self._weight_roots = weight_roots(self.model)
        self._step = optimizer_step(self.model) or 0
        self._logs_done = 0
        self._latest = {}
        self._last_step = self._last_heavy_step = None
        self._history = {name: {} for name in self._outputs}

    def on_epoch_begin(self, epoch, logs=None):
        self._loss_mark = (0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        if not self.every_n_steps:
            return
        step = optimizer_step(self.model)
        if step is None:  # no optimizer: count the call-backs
            step = self._step + 1
        if step // self.every_n_steps > self._step // self.every_n_steps:
            self._log(step, f"step {step}", self._interval_loss(batch + 1, logs))
        self._step = step

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_steps is None and (epoch + 1) % self.every_n_epochs == 0:
            self._log(epoch, f"epoch {epoch}", (logs or {}).get("loss"))
        if logs is not None:
            logs.update(self._latest)

    def on_train_end(self, logs=None):
        if self._last_step is not None and self._last_heavy_step != self._last_step:
            self._log_heavy(self._last_step)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- logging -------------------------------------------------------------

    def _interval_loss(self, done, logs):
        """Mean loss over the epoch's steps since the last point, from Keras'
        running mean `logs["loss"]` after `done` steps of the epoch."""
        if not logs or logs.get("loss") is None:
            return None
        mean = float(np.mean(keras.ops.convert_to_numpy(logs["loss"])))
        before, before_mean = self._loss_mark
        self._loss_mark = (done, mean)
        return (done * mean - before * before_mean) / max(done - before, 1)

    def _axis(self):
        """The x axis, for the scalars' descriptions."""
        return ("x axis: optimizer steps (iterations)" if self.every_n_steps
                else "x axis: epochs (0 = after the first)")

    def _log(self, step, label, loss=None):
        if not _is_chief(self.model):
            return
        with self._get_writer().as_default(step=step):
            if loss is not None:
                tf.summary.scalar(f"{self.prefix}/loss", loss, description=(
                    "Training loss, mean over the steps since the previous point. "
                    + self._axis()))
            for name, z in self._probe_outputs().items():
                self._latest.update(self._log_output(name, z, label))
        self._last_step = step
        if self._logs_done % self.images_every_n_logs == 0:
            self._log_heavy(step)
        self._logs_done += 1
        self._writer.flush()

    def _probe_outputs(self):
        """Probe embeddings per output; the head reuses the representation."""
        outs = {name: [] for name in self._outputs}
        share = is_siamese(self.model) and self.model.head is not None
        for x in batches(self.probe_data, self.batch_size, "probe_data"):
            representation = None
            for name, embed_fn in self._outputs.items():
                if name == "embedding" and share and representation is not None:
                    out = self._head_fn(representation)
                else:
                    out = embed_fn(x)
                if name == "representation":
                    representation = out
                outs[name].append(keras.ops.convert_to_numpy(out).astype(np.float32, copy=False))
        return {name: np.concatenate(parts) for name, parts in outs.items()}

    def _log_output(self, name, z, label):
        tag = f"{self.prefix}/{name}"
        bad = z.size - np.count_nonzero(np.isfinite(z))
        if bad:
            _LOGGER.warning("SpectrumLogger: %s of the probe set has %d non-finite "
                            "values (NaN/Inf) at %s; metrics logged as NaN.",
                            name, bad, label)
            tf.summary.text(f"{tag}/alerts", f"nonfinite: {bad} non-finite values (NaN/Inf) "
                            f"in the probe embeddings at {label}")
            return {f"{tag}/{key}": (1.0 if key == "nonfinite" else math.nan)
                    for key in SCALARS}
        acc = metrics.CovarianceAccumulator().update(z)
        scalars = dict(metrics.scalar_metrics(acc, self.rtol), nonfinite=0.0)
        if scalars["complete_collapse"]:
            _LOGGER.warning("SpectrumLogger: complete collapse of %s at %s: all probe "
                            "embeddings are equal (all eigenvalues ~0).", name, label)
            tf.summary.text(f"{tag}/alerts", f"complete_collapse: all probe embeddings "
                            f"are equal (all eigenvalues ~0) at {label}")
        for key in SCALARS:
            if key not in FLAGS:
                tf.summary.scalar(f"{tag}/{key}", scalars[key], description=self._axis())
        eigenvalues = acc.spectrum()
        _histogram(f"{tag}/log_eigenvalues", metrics.log_spectrum(eigenvalues))
        self._history[name][label] = eigenvalues
        return {f"{tag}/{key}": float(scalars[key]) for key in SCALARS}

    def _log_heavy(self, step):
        """Weight SVDs, alignment score and all images, at ``step``."""
        with self._get_writer().as_default(step=step):
            for name, history in self._history.items():
                if history:
                    _image(f"{self.prefix}/{name}/spectrum",
                           plots.spectrum_figure(_thin(history), title=f"{name} spectrum"))
            if self.include_weights:
                singular_values, alignment = metrics.weight_diagnostics(self._weight_roots)
                _image(f"{self.prefix}/weights/singular_values",
                       plots.weight_spectra_figure(singular_values))
                if alignment:
                    score = float(np.mean([metrics.alignment_score(a)
                                           for a in alignment.values()]))
                    tf.summary.scalar(f"{self.prefix}/weights/alignment_score", score,
                                      description=self._axis())
                    self._latest[f"{self.prefix}/weights/alignment_score"] = score
                    _image(f"{self.prefix}/weights/alignment", plots.alignment_figure(alignment))
        self._last_heavy_step = step

    def _get_writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer


def _materialize(probe_data, max_examples, batch_size, rank=None):
    """The probe set as one array (read once, at most `max_examples`)."""
    parts = [keras.ops.convert_to_numpy(x)
             for x in batches(probe_data, batch_size, "probe_data", max_examples, rank)]
    parts = [p for p in parts if p.shape[0]]
    if not parts:
        raise _checks.invalid("probe_data", "a non-empty probe set (at least one sample)",
                              probe_data)
    return np.concatenate(parts)


def _thin(history):
    """At most MAX_HISTORY_CURVES entries, evenly spaced, first and last kept."""
    keys = list(history)
    if len(keys) > MAX_HISTORY_CURVES:
        picks = np.unique(np.linspace(0, len(keys) - 1, MAX_HISTORY_CURVES).round().astype(int))
        keys = [keys[i] for i in picks]
    return {k: history[k] for k in keys}


def _histogram(tag, values):
    """TensorBoard's histogram summary built in NumPy (its `histogram_pb`) and
    written as is: the same event as `tf.summary.histogram` (30 buckets), at
    a tenth of the cost of its eager ops. Its tag is under the current name
    scope, as `tf.summary`'s own are."""
    scope = tf.get_current_name_scope()
    tag = f"{scope}/{tag}" if scope else tag
    proto = histogram_summary.histogram_pb(tag, np.asarray(values, np.float64))
    tf.summary.experimental.write_raw_pb(proto.SerializeToString())


def _image(tag, fig):
    """Logs the figure's RGB pixels (tf.summary.image encodes the PNG once)."""
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[np.newaxis, :, :, :3]
    tf.summary.image(tag, pixels)


def _is_chief(model):
    strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
    return bool(getattr(strategy.extended, "should_checkpoint", True))
from keras_collapse.guards import NonFiniteGuard  # noqa: E402,F401
from keras_collapse._spectra_history import SpectraHistory  # noqa: E402,F401
from keras_collapse._online_knn import OnlineKNN  # noqa: E402,F401
