"""Image SSL at paper scale: a ResNet-18 (CIFAR stem) SimCLR step with LARS vs
SGD, mixed precision vs float32 (GPU only), and what ``OnlineKNN`` costs
beside a training epoch.

Sizes: ``tiny`` (tests), ``full`` (this 2-core CPU: 32×32 images, batch 64,
a bank of 512 and 128 test images), ``gpu`` (one CIFAR-10 epoch: batch 256,
195 steps, a 50,000-image bank against 10,000 test images; run it where a GPU
is: ``python -m benchmarks.run --size gpu --output BENCHMARKS_GPU.md``).
Views are fixed synthetic tensors (the augmentation pipeline is timed in
bench_data), so the rows time the model, the optimizer and the evaluation.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import _timing
from benchmarks.bench_fit import _EpochTimer

SIZES = {
    "tiny": dict(image=16, batch=8, steps=2, bank=32, test=16, reps=2),
    "full": dict(image=32, batch=64, steps=8, bank=512, test=128, reps=3),
    "gpu": dict(image=32, batch=256, steps=195, bank=50_000, test=10_000, reps=3),
}


def _gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def _model(cfg, optimizer, policy="float32"):
    import keras_collapse as kc

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        encoder = kc.encoders.resnet(18, cifar_stem=True,
                                     input_shape=(cfg["image"], cfg["image"], 3))
        model = kc.models.SiameseModel(
            encoder, head=kc.layers.ProjectionHead(128, hidden_dims=(512,)))
        model.compile(optimizer=optimizer, loss=kc.losses.NTXent(0.2), steps_per_execution=1)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


def _views(cfg):
    rng = np.random.default_rng(0)
    shape = (cfg["batch"], cfg["image"], cfg["image"], 3)
    a, b = (tf.constant(rng.uniform(size=shape).astype("float32")) for _ in range(2))
    return tf.data.Dataset.from_tensors(((a, b),)).repeat(cfg["steps"])


def _epoch(model, data):
    timer = _EpochTimer()

    def run():
        model.fit(data, epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds

    return run


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"tiny", "full", "gpu"}``."""
    import keras_collapse as kc

    cfg = SIZES[size]
    data = _views(cfg)
    images = cfg["batch"] * cfg["steps"]
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 1000, warmup_target=0.3,
                                                      warmup_steps=10)
    contenders = {
        "LARS": _model(cfg, kc.optimizers.LARS(schedule, weight_decay=1e-4,
                                               trust_coefficient=0.02)),
        "SGD": _model(cfg, keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=1e-4)),
    }
    if _gpu():
        contenders["LARS, mixed_float16"] = _model(
            cfg, kc.optimizers.LARS(schedule, weight_decay=1e-4, trust_coefficient=0.02),
            policy="mixed_float16")
    measured = _timing.self_timed({k: _epoch(m, data) for k, m in contenders.items()},
                                  reps=cfg["reps"])
    epoch = _timing.median(measured["LARS"])
    rows = [{
        "group": "image", "name": "ResNet-18 SimCLR epoch, LARS / SGD (momentum)",
        "ratio": _timing.paired_ratio(measured, "LARS", "SGD"), "target": None,
        "detail": f"{cfg['steps']} steps of batch {cfg['batch']} at {cfg['image']}×"
                  f"{cfg['image']} (CIFAR stem), NT-Xent: LARS {_timing.ms(epoch)} "
                  f"({images / epoch:.0f} images/s) vs SGD "
                  f"{_timing.ms(_timing.median(measured['SGD']))} (median of "
                  f"{cfg['reps']} interleaved epochs)"}]
    if "LARS, mixed_float16" in measured:
        mixed = _timing.median(measured["LARS, mixed_float16"])
        rows.append({
            "group": "image", "name": "ResNet-18 SimCLR epoch, mixed_float16 / float32",
            "ratio": _timing.paired_ratio(measured, "LARS, mixed_float16", "LARS"),
            "target": None,
            "detail": f"LARS, same steps: {_timing.ms(mixed)} ({images / mixed:.0f} images/s)"
                      f" vs float32 {_timing.ms(epoch)}"})

    rng = np.random.default_rng(1)
    shape = (cfg["image"], cfg["image"], 3)
    bank = (rng.uniform(size=(cfg["bank"], *shape)).astype("float32"),
            rng.integers(0, 10, cfg["bank"]))
    test = (rng.uniform(size=(cfg["test"], *shape)).astype("float32"),
            rng.integers(0, 10, cfg["test"]))
    knn = kc.callbacks.OnlineKNN(bank, test, k=min(200, cfg["bank"]),
                                 batch_size=min(cfg["batch"], 512))
    knn.set_model(contenders["LARS"])
    encode = knn._encoder()

    def evaluation():
        start = time.perf_counter()
        knn.evaluate()
        return time.perf_counter() - start

    def encoding():
        start = time.perf_counter()
        for x in (bank[0], test[0]):
            kc.evaluation.embed(encode, x, batch_size=knn.batch_size)
        return time.perf_counter() - start

    timed = _timing.self_timed({"knn": evaluation, "encode": encoding}, reps=cfg["reps"])
    seconds = _timing.median(timed["knn"])
    rows += [{
        "group": "image", "name": "OnlineKNN evaluation / training epoch",
        "ratio": seconds / epoch, "target": None,
        "detail": f"bank {cfg['bank']}, test {cfg['test']}, k = {min(200, cfg['bank'])}: "
                  f"{_timing.ms(seconds)} per evaluation vs a {images}-image LARS epoch "
                  f"{_timing.ms(epoch)}; at CIFAR-10 proportions (bank = the 50,000 "
                  "training images, 10,000 test) every_n_epochs=10 keeps it a tenth of this"},
        {"group": "image", "name": "OnlineKNN evaluation / encoding alone",
         "ratio": _timing.paired_ratio(timed, "knn", "encode"), "target": None,
         "detail": f"the vote (a test × bank similarity product in chunks) over the "
                   f"inference pass: {_timing.ms(seconds)} vs "
                   f"{_timing.ms(_timing.median(timed['encode']))}"}]
    return rows


if __name__ == "__main__":
    import sys

    for row in run(sys.argv[1] if len(sys.argv) > 1 else "tiny"):
        print(row)
