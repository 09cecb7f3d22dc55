"""One worker of a MultiWorkerMirroredStrategy run (or the single-process run).

Usage: python _multi_worker_check.py OUT.npz   (TF_CONFIG set for workers).
Trains a small SiameseModel with NT-Xent for a few steps and saves the weights
(only the chief writes). Invoked by tests/test_distribute_multi_worker.py.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402

import keras_collapse as kc  # noqa: E402
from subprocesses import step  # noqa: E402

GLOBAL_BATCH = 32


def main(out):
    multi = bool(os.environ.get("TF_CONFIG"))
    step("strategy (the workers connect)" if multi else "strategy")
    strategy = kc.distribute.get_strategy("multi_worker" if multi else "default")
    kc.distribute.check_global_batch(GLOBAL_BATCH, strategy, min_batch=2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype("float32")
    x_b = (x + 0.1 * rng.normal(size=x.shape)).astype("float32")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = (
        tf.data.Dataset.from_tensor_slices((x, x_b))
        .batch(GLOBAL_BATCH, drop_remainder=True)
        .map(lambda a, b: ((a, b),))
        .with_options(options)
    )
    with strategy.scope():
        keras.utils.set_random_seed(3)
        encoder = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)]
        )
        model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=kc.losses.NTXent(0.5))
    step("fit")
    model.fit(data, epochs=2, verbose=0)
    if kc.distribute.is_chief():
        np.savez(out, *model.get_weights())


if __name__ == "__main__":
    main(sys.argv[1])
