"""Benchmarks of kc.metrics and kc.callbacks.SpectrumLogger.

Rows (see benchmarks/README.md):

* ``spectrum``: streamed covariance spectrum of `(num_samples, dim)` float32
  embeddings (batches of 256 → float64 sums → one ``eigvalsh``) over the bare
  cost it needs: ONE float32 matmul ``ZᵀZ`` of the whole matrix plus
  ``np.linalg.eigvalsh`` of the float32 `(dim, dim)` result.  Target 1.5.
* ``spectrum_logger_overhead``: ``(epoch + logger cost per epoch) / epoch`` in
  steady state at the default cadence: the per-epoch log (probe pass, two
  spectra, scalars, histograms) plus a tenth of the weight SVDs and images
  (done every 10th log), each timed directly on a trained model.  Target 1.02.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

SIZES = {
    # name: (num_samples, dim, train_samples, probe_samples, widths)
    "full": (25_600, 2048, 131_072, 1024, (1024, 512, 512, 128)),
    "tiny": (2_048, 128, 1_024, 128, (32, 16, 16, 8)),
}


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _spectrum_row(num_samples, dim, repeat):
    from keras_collapse import metrics

    z = np.random.default_rng(0).normal(size=(num_samples, dim)).astype(np.float32)
    z *= np.geomspace(1.0, 1e-3, dim, dtype=np.float32)

    def baseline():
        np.linalg.eigvalsh(z.T @ z)

    def streamed():
        acc = metrics.CovarianceAccumulator()
        for start in range(0, num_samples, 256):
            acc.update(z[start:start + 256])
        acc.spectrum()

    t_base, t_ours = _best(baseline, repeat), _best(streamed, repeat)
    return {"group": "metrics", "name": "spectrum", "ratio": t_ours / t_base, "target": 1.5,
            "detail": f"{num_samples}x{dim} float32 in batches of 256: streamed spectrum "
                      f"{t_ours:.3f}s vs float32 ZᵀZ + eigvalsh {t_base:.3f}s (best of {repeat})"}


def _logger_row(train_samples, probe_samples, widths, repeat):
    import keras

    from keras_collapse.callbacks import SpectrumLogger

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(train_samples, 256)).astype(np.float32)
    y = x[:, :widths[3]] @ rng.normal(size=(widths[3], widths[3])).astype(np.float32)

    class Siamese(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder = keras.Sequential([
                keras.Input((256,)), keras.layers.Dense(widths[0], activation="relu"),
                keras.layers.Dense(widths[1])])
            self.head = keras.Sequential([
                keras.Input((widths[1],)), keras.layers.Dense(widths[2], activation="relu"),
                keras.layers.Dense(widths[3])])

        def call(self, inputs, training=False):
            return self.head(self.encoder(inputs, training=training), training=training)

    model = Siamese()
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)  # warm up tracing
    epoch = _best(lambda: model.fit(x, y, epochs=1, batch_size=256, verbose=0), repeat)
    logger = SpectrumLogger(x[:probe_samples], tempfile.mkdtemp())
    logger.set_model(model)
    logger.on_train_begin()
    logger._log(0, "epoch 0")  # first log: also traces the probe pass
    logger.images_every_n_logs = 10**9  # time the per-epoch part alone
    light = _best(lambda: logger._log(1, "epoch 1"), repeat)
    heavy = _best(lambda: logger._log_heavy(1), repeat)
    logger.on_train_end()
    per_epoch = light + heavy / 10
    return {"group": "callbacks", "name": "spectrum_logger_overhead",
            "ratio": 1.0 + per_epoch / epoch, "target": 1.02,
            "detail": f"steady state at the default cadence (metrics every epoch, weight "
                      f"SVDs + images every 10th): epoch of {train_samples} samples (batch "
                      f"256, MLP 256→{'→'.join(map(str, widths))}) {epoch:.3f}s; per log {light:.4f}s "
                      f"(probe {probe_samples}, 2 outputs), weights+images {heavy:.3f}s "
                      f"(best of {repeat})"}


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"full", "tiny"}``."""
    num_samples, dim, train_samples, probe_samples, widths = SIZES[size]
    repeat = 3 if size == "full" else 1
    return [_spectrum_row(num_samples, dim, repeat),
            _logger_row(train_samples, probe_samples, widths, repeat)]
