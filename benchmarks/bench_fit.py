"""``SiameseModel.fit`` epoch vs a hand-written ``tf.function`` training loop.

Same architecture (MLP encoder + linear head), objective (NT-Xent), optimizer
(Adam), data (one cached ``tf.data`` pipeline of view pairs) and number of
steps. The hand loop is what a user writes: ``for (a, b) in ds: step(a, b)``
with a ``tf.function`` step. A fit epoch is timed from ``on_epoch_begin`` to
``on_epoch_end`` (what every epoch of a long ``fit`` costs; the one-off setup
of each ``fit`` call is given in the detail). Rows: default
``steps_per_execution=1`` and tuned ``steps_per_execution``; target 1.05.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import _timing

SIZES = {
    "full": dict(samples=8192, batch=256, in_dim=256, widths=(1024, 1024), out=128,
                 reps=7, tuned=32),
    "tiny": dict(samples=128, batch=32, in_dim=16, widths=(32, 32), out=8, reps=2, tuned=4),
}


def _model(cfg):
    import keras_collapse as kc

    encoder = keras.Sequential(
        [keras.Input((cfg["in_dim"],))]
        + [keras.layers.Dense(w, activation="relu") for w in cfg["widths"][:-1]]
        + [keras.layers.Dense(cfg["widths"][-1])])
    head = keras.Sequential([keras.Input((cfg["widths"][-1],)), keras.layers.Dense(cfg["out"])])
    return kc.models.SiameseModel(encoder, head=head)


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"full", "tiny"}``."""
    import keras_collapse as kc

    cfg = SIZES[size]
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(cfg["samples"], cfg["in_dim"])).astype(np.float32)
    x_b = x + 0.1 * rng.normal(size=x.shape).astype(np.float32)
    ds = (tf.data.Dataset.from_tensor_slices((x, x_b)).batch(cfg["batch"], drop_remainder=True)
          .map(lambda a, b: ((a, b),)).cache().prefetch(tf.data.AUTOTUNE))
    steps = cfg["samples"] // cfg["batch"]

    fits, setup, fit_models = {}, {}, []
    for label, spe in (("default", 1), ("tuned", cfg["tuned"])):
        model = _model(cfg)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=kc.losses.NTXent(0.1),
                      steps_per_execution=spe)
        fit_models.append(model)
        timer = _EpochTimer()

        def fit_epoch(model=model, timer=timer, label=label):
            start = time.perf_counter()
            model.fit(ds, epochs=1, verbose=0, callbacks=[timer])
            setup.setdefault(label, []).append(time.perf_counter() - start - timer.seconds)
            return timer.seconds

        fits[label] = fit_epoch

    model = _model(cfg)
    model((tf.zeros((1, cfg["in_dim"])),) * 2)
    loss_fn = kc.losses.NTXent(0.1)
    optimizer = keras.optimizers.Adam(1e-3)
    variables = model.trainable_variables

    # Keras' default jit_compile="auto" compiles fit's step with XLA here; the
    # hand loop gets the same so that only framework overhead differs.
    jit = bool(fit_models[0].jit_compile)

    @tf.function(jit_compile=jit)
    def step(a, b):
        with tf.GradientTape() as tape:
            z_a, z_b = model((a, b), training=True)
            loss = loss_fn(z_a, z_b)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def hand_epoch():
        start = time.perf_counter()
        for ((a, b),) in ds:
            loss = step(a, b)
        loss.numpy()
        return time.perf_counter() - start

    # Time each epoch from inside (the fit rows exclude fit's per-call setup).
    measured = _timing.self_timed(  # the warm-up epoch (tracing) dropped
        {"default": fits["default"], "tuned": fits["tuned"], "hand": hand_epoch},
        reps=cfg["reps"])
    hand = _timing.median(measured["hand"])
    rows = []
    for label, spe in (("default", 1), ("tuned", cfg["tuned"])):
        ratio = _timing.paired_ratio(measured, label, "hand")
        rows.append({
            "group": "fit", "name": f"SiameseModel.fit epoch / hand loop "
                                    f"(steps_per_execution={spe}, {label})",
            "ratio": ratio, "target": 1.05,
            "detail": f"{steps} steps of batch {cfg['batch']}, MLP {cfg['in_dim']}→"
                      f"{'→'.join(map(str, cfg['widths']))}→{cfg['out']}, NT-Xent, Adam, jit_compile={jit} in both: fit "
                      f"epoch {_timing.ms(_timing.median(measured[label]))} vs hand "
                      f"tf.function loop {_timing.ms(hand)} (median of {cfg['reps']} "
                      f"interleaved epochs); one-off setup per fit() call "
                      f"{_timing.ms(_timing.median(setup[label][1:]))}"})
    return rows


if __name__ == "__main__":
    import sys

    for row in run(sys.argv[1] if len(sys.argv) > 1 else "tiny"):
        print(row)
