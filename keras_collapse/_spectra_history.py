"""`SpectraHistory`: weight and embedding spectra kept in memory during `fit`."""

from __future__ import annotations

import keras
import numpy as np

from keras_collapse import _checks, metrics
from keras_collapse.metrics._probe import optimizer_step, traced_call, weight_roots


class SpectraHistory(keras.callbacks.Callback):
    """Records weight and embedding spectra every ``every_n_steps`` optimizer steps.

    The in-memory counterpart of :class:`SpectrumLogger` for analyses that
    need the numbers (the toy studies of Jing et al. 2022, arXiv 2110.09348,
    Figs. 3-5, and WERank, arXiv 2402.09586): at the start of training, at
    each multiple of ``every_n_steps`` (with ``compile(steps_per_execution=k)``,
    at the first call-back at or after it) and at the end, ``history`` gets

    * ``"step"``: the optimizer step;
    * ``"sv"``: for each Dense/Conv kernel of the model (of the encoder and
      head for a :class:`~keras_collapse.models.SiameseModel`), its singular
      values, descending, as a list of `(min(d_in, d_out),)` arrays;
    * ``"eig"``: the eigenvalues (descending) of the covariance of the probe
      embeddings, `(embedding_dim,)` (``model.embed`` of a SiameseModel, else
      ``model(x)``);
    * ``"alignment"``: mean ``|diag(V_{l+1}ᵀ U_l)|`` of each consecutive
      kernel pair (:func:`keras_collapse.metrics.alignment_score`).

    Args:
        probe_data: Single-view inputs `(num_probe, ...)`, embedded whole.
        every_n_steps: Recording cadence in optimizer steps. Defaults to `100`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    >>> model = kc.models.SiameseModel(encoder)
    >>> model.compile("sgd", kc.losses.VICReg(), steps_per_execution=5)
    >>> x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    >>> spectra = kc.callbacks.SpectraHistory(x, every_n_steps=5)
    >>> _ = model.fit((x, x + 0.1), batch_size=4, epochs=1, verbose=0, callbacks=[spectra])
    >>> spectra.history["step"], spectra.history["eig"][-1].shape
    ([0, 5, 10], (4,))
    """

    def __init__(self, probe_data, every_n_steps=100):
        super().__init__()
        self.probe_data = np.asarray(probe_data, np.float32)
        if self.probe_data.ndim < 2 or self.probe_data.shape[0] < 2:
            raise _checks.invalid("probe_data", "an array (num_probe >= 2, ...)",
                                  f"array of shape {self.probe_data.shape}")
        self.every_n_steps = _checks.positive_int("every_n_steps", every_n_steps)
        self.history = {}

    def _record(self, step):
        if self.history["step"] and self.history["step"][-1] == step:
            return
        singular_values, alignment = metrics.weight_diagnostics(self._roots)
        z = np.asarray(keras.ops.convert_to_numpy(self._embed(self.probe_data)), np.float64)
        for key, value in (("step", step), ("sv", list(singular_values.values())),
                           ("eig", metrics.covariance_spectrum(z)),
                           ("alignment", [metrics.alignment_score(a)
                                          for a in alignment.values()])):
            self.history[key].append(value)

    def on_train_begin(self, logs=None):
        self.history = {"step": [], "sv": [], "eig": [], "alignment": []}
        self._roots = weight_roots(self.model)
        self._embed = traced_call(*self._roots)  # one graph, not eager layer calls
        self._last = optimizer_step(self.model)
        self._record(self._last)

    def on_train_batch_end(self, batch, logs=None):
        step = optimizer_step(self.model)
        if step // self.every_n_steps > self._last // self.every_n_steps:
            self._record(step)
        self._last = step

    def on_train_end(self, logs=None):
        self._record(optimizer_step(self.model))
