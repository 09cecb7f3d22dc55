"""One worker of a two-worker MultiWorkerMirroredStrategy `fit` of a plain Keras model.

Usage: python _workflows_multi_worker.py plain|built (TF_CONFIG set).
Prints `OK` or `FAIL <error>`: whether Keras' own `fit` still fails where
`kc._keras_compat` works around it. `plain` is a `keras.Sequential`;
`built` is the same model with only `build_from_spec` applied (no
`rank1_logs`). Invoked by tests/test_workflows_keras.py.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_collapse import _keras_compat  # noqa: E402


class SpecBuilt(keras.Sequential):
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        _keras_compat.build_from_spec(self, iterator)


def main(case):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x)).batch(16, drop_remainder=True)
    with strategy.scope():
        model = (SpecBuilt if case == "built" else keras.Sequential)(
            [keras.Input((8,)), keras.layers.Dense(8)])
        model.compile(optimizer="sgd", loss="mse")
    try:
        model.fit(data, epochs=1, verbose=0)
        print("OK")
    except Exception as error:  # noqa: BLE001 -- reported, not handled
        print("FAIL", type(error).__name__, str(error).splitlines()[0][:200])


if __name__ == "__main__":
    main(sys.argv[1])
