"""Plain-Keras data on two logical CPUs under MirroredStrategy: prints JSON.

Invoked by tests/test_workflows_batches.py (logical devices must be set up
before TensorFlow initialises, hence the separate process). Each case trains
the same model on one device and on two replicas from a `Dataset.batch(n)`
pipeline (batch dimension unknown) and reports how far apart the weights end,
relative to how far training moved them.
"""

import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import keras_collapse as kc  # noqa: E402
from subprocesses import step  # noqa: E402

# One strategy per process (tensorflow/tensorflow#62790).
STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def _objective(name):
    return {"nt_xent": kc.losses.NTXent(0.5), "vicreg": kc.losses.VICReg(),
            "byol": kc.losses.BYOL(momentum=0.9)}[name]


def _model(name):
    keras.utils.set_random_seed(1)
    encoder = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)])
    model = kc.models.SiameseModel(
        encoder,
        # VICReg's std hinge amplifies the round-off of synchronised BatchNorm
        # moments; its global statistics are checked without BatchNorm.
        head=kc.layers.ProjectionHead(4, hidden_dims=(8,), batch_norm=name != "vicreg"),
        predictor=kc.layers.PredictionHead(4, hidden_dim=4) if name == "byol" else None)
    model.compile(optimizer=keras.optimizers.SGD(0.01 if name == "vicreg" else 0.05),
                  loss=_objective(name))
    return model


def _data(n, batch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 8)).astype("float32")
    x_b = (x + 0.1 * rng.normal(size=x.shape)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(((x, x_b),)).batch(batch)


def weight_gap(name, n, batch):
    """max |w_mirrored − w_single| / max |w_single − w_initial| after 2 epochs."""
    single = _model(name)
    initial = single.get_weights()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        single.fit(_data(n, batch), epochs=2, verbose=0)
        with STRATEGY.scope():
            mirrored = _model(name)
        mirrored.fit(_data(n, batch), epochs=2, verbose=0)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), initial))
    gap = max(float(np.abs(a - b).max())
              for a, b in zip(single.get_weights(), mirrored.get_weights()))
    return {"gap": gap / moved,
            "steps": [int(single.optimizer.iterations.numpy()), int(mirrored.optimizer.iterations.numpy())],
            "warnings": [str(w.message) for w in caught if "skipped" in str(w.message)]}


def static_indivisible():
    """A fixed batch of 33 cannot split over 2 replicas: refused before training."""
    data = _data(66, 33).unbatch().batch(33, drop_remainder=True)
    with STRATEGY.scope():
        model = _model("vicreg")
    before = model.get_weights()
    try:
        model.fit(data, epochs=1, verbose=0)
    except ValueError as error:
        unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        return {"error": str(error), "unchanged": unchanged}
    return {"error": None, "unchanged": False}


CASES = {
    # 256 pairs in batches of 64 with an unknown batch dimension.
    **{f"even/{name}": (weight_gap, name, 256, 64) for name in ("nt_xent", "vicreg", "byol")},
    # 99 pairs: the last batch of 35 splits 18 + 17 over the replicas.
    **{f"uneven/{name}": (weight_gap, name, 99, 64) for name in ("nt_xent", "vicreg", "byol")},
    # 65 pairs in 16s: the last batch of 1 is skipped (NT-Xent needs 2).
    "last_of_one/nt_xent": (weight_gap, "nt_xent", 65, 16),
    "static_indivisible": (static_indivisible,),
}


if __name__ == "__main__":
    results = {}
    for case, (function, *arguments) in CASES.items():
        step(case)
        results[case] = function(*arguments)
    json.dump(results, sys.stdout)
