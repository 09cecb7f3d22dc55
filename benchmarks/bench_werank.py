"""Cost of WERank (``kc.regularizers.attach_werank``), measured.

Rows (see benchmarks/README.md):

* ``WERank on every kernel: step / plain step``: a SimCLR (NT-Xent) training
  step of the small ResNet of ``bench_data`` (7 conv/dense kernels) with
  ``attach_werank(model, 0.1)`` over the same step without. Target 1.05.
* ``WERank penalties / VICReg covariance term``: forward + backward of the sum
  of those WERank penalties over VICReg's covariance term on the two views'
  embeddings of the same network (width 128) at the same batch. Target < 1.
  The detail gives both FLOP counts (WERank: 4·d_in·d_out² per kernel with
  d_in ≥ d_out, Gram and gradient product; covariance: 8·N·d² for two views)
  and the batch at which they are equal. The same comparison at batch 512 is
  reported (no target).
* ``WERank on a d×d kernel / VICReg covariance, d=2048``: one wide projector
  layer (2048×2048) against VICReg's covariance term at width 2048, batch 512.
  Reported only: WERank's Gram matrix costs ~2·d³ flops forward, the two
  covariances 2·2·N·d², so WERank is cheaper only while d < 2N.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from benchmarks import _timing
from benchmarks.bench_data import _small_resnet

SIZES = {
    "full": dict(batch=128, image=32, wide=2048, wide_batch=512, reps=9, big_batch=512,
                 min_rep_s=0.03),
    "tiny": dict(batch=8, image=32, wide=32, wide_batch=16, reps=2, big_batch=16, min_rep_s=0.0),
}


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"full", "tiny"}``."""
    import keras_collapse as kc
    from keras_collapse.losses.vicreg import _covariance_term

    cfg = SIZES[size]
    batch, reps = cfg["batch"], cfg["reps"]
    rng = np.random.default_rng(0)
    view_a = tf.constant(rng.random((batch, cfg["image"], cfg["image"], 3), np.float32))
    view_b = tf.constant(rng.random((batch, cfg["image"], cfg["image"], 3), np.float32))

    def training_step(model):
        loss_fn = kc.losses.NTXent(0.1)
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = loss_fn(model(view_a, training=True), model(view_b, training=True))
                if model.losses:
                    loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        return lambda: _timing.block(step())

    keras.utils.set_random_seed(0)
    plain = _small_resnet()
    keras.utils.set_random_seed(0)
    regularized = _small_resnet()
    attached = kc.regularizers.attach_werank(regularized, 0.1)
    kernels = [v for v in regularized.trainable_variables if len(v.shape) in (2, 4)]

    @tf.function
    def werank_only():
        with tf.GradientTape() as tape:
            total = tf.add_n(regularized.losses)
        return tape.gradient(total, kernels)

    def covariance_only(batch_size):
        images = rng.random((2, batch_size, cfg["image"], cfg["image"], 3), np.float32)
        embed_a, embed_b = (tf.Variable(plain(tf.constant(v))) for v in images)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                total = _covariance_term(embed_a) + _covariance_term(embed_b)
            return tape.gradient(total, [embed_a, embed_b])

        return lambda: _timing.block(step())

    big = cfg["big_batch"]
    d, n = cfg["wide"], cfg["wide_batch"]
    g = tf.random.Generator.from_seed(0)
    wide_kernel = tf.Variable(g.normal((d, d)) / d**0.5)
    wide_a, wide_b = tf.Variable(g.normal((n, d))), tf.Variable(g.normal((n, d)))

    @tf.function
    def werank_wide():
        with tf.GradientTape() as tape:
            total = kc.regularizers.werank_penalty(wide_kernel, 0.1)
        return tape.gradient(total, wide_kernel)

    @tf.function
    def covariance_wide():
        with tf.GradientTape() as tape:
            total = _covariance_term(wide_a) + _covariance_term(wide_b)
        return tape.gradient(total, [wide_a, wide_b])

    fns = {
        "plain": training_step(plain), "werank": training_step(regularized),
        "werank_only": lambda: _timing.block(werank_only()),
        "cov_only": covariance_only(batch), "cov_big": covariance_only(big),
        "werank_wide": lambda: _timing.block(werank_wide()),
        "cov_wide": lambda: _timing.block(covariance_wide()),
    }
    times = _timing.interleaved(fns, reps=reps, warmup=2, min_rep_s=cfg["min_rep_s"])
    med = {k: _timing.median(v) for k, v in times.items()}
    shapes = ", ".join("×".join(map(str, k.shape)) for k in kernels)
    width = int(plain.outputs[0].shape[-1])
    flat = [(k.shape[:-1].num_elements(), k.shape[-1]) for k in kernels]
    werank_flops = sum(4 * max(d_in, d_out) * min(d_in, d_out) ** 2 for d_in, d_out in flat)

    def covariance_flops(batch_size):  # two views, fwd ZᵀZ + bwd Z·C each
        return 8 * batch_size * width**2

    def flops(batch_size):
        cov = covariance_flops(batch_size)
        return (f"FLOPs fwd+bwd: WERank {werank_flops / 1e6:.1f} M (Σ 4·d_in·d_out², "
                f"d_in ≥ d_out) vs covariance {cov / 1e6:.1f} M (8·N·d²): "
                f"{werank_flops / cov:.2f}×, equal at batch "
                f"{werank_flops / covariance_flops(1):.0f}")
    return [
        {"group": "werank", "name": "WERank on every kernel: step / plain step",
         "ratio": _timing.paired_ratio(times, "werank", "plain"), "target": 1.05,
         "detail": f"small ResNet (bench_data), NT-Xent SimCLR step, 2×{batch} images "
                   f"32×32, SGD: {_timing.ms(med['werank'])} with WERank(0.1) on "
                   f"{len(attached)} kernels ({shapes}) vs {_timing.ms(med['plain'])} without "
                   f"(median of {reps} interleaved reps)"},
        {"group": "werank", "name": "WERank penalties / VICReg covariance term (width 128)",
         "ratio": _timing.paired_ratio(times, "werank_only", "cov_only"), "target": 1.0,
         "detail": f"fwd+bwd: all {len(attached)} WERank penalties of that ResNet "
                   f"{_timing.ms(med['werank_only'])} vs VICReg covariance term on its two "
                   f"views' {width}-d embeddings, batch {batch}, {_timing.ms(med['cov_only'])}; "
                   + flops(batch)},
        {"group": "werank",
         "name": f"WERank penalties / VICReg covariance term (width {width}, batch {big})",
         "ratio": _timing.paired_ratio(times, "werank_only", "cov_big"), "target": None,
         "detail": f"as above at batch {big}: {_timing.ms(med['werank_only'])} vs "
                   f"{_timing.ms(med['cov_big'])}; "
                   + flops(big)},
        {"group": "werank", "name": f"WERank on a {d}×{d} kernel / VICReg covariance (d={d})",
         "ratio": _timing.paired_ratio(times, "werank_wide", "cov_wide"), "target": None,
         "detail": f"fwd+bwd: WERank of one {d}×{d} kernel (Gram 2·d³ flops fwd) "
                   f"{_timing.ms(med['werank_wide'])} vs VICReg covariance term at d={d}, "
                   f"batch {n} (2·2·N·d² fwd) {_timing.ms(med['cov_wide'])}; "
                   f"flop ratio d/(2N) = {d / (2 * n):.2f}"},
    ]


if __name__ == "__main__":
    import sys

    for row in run(sys.argv[1] if len(sys.argv) > 1 else "tiny"):
        print(row)
