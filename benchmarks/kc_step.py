"""keras_collapse side of bench_torch: a CIFAR ResNet-18 SimCLR or supervised
step through ``fit``, as a worker of ``benchmarks/_worker.py``'s protocol:

    python -m benchmarks.kc_step --task ssl --batch 128 [--jit]

The same computation as ``benchmarks/torch_step.py``:
``kc.encoders.resnet(18, cifar_stem=True)``; SSL: ``kc.models.SiameseModel``
with ``kc.layers.ProjectionHead(128, hidden_dims=(512,))`` and
``kc.losses.NTXent(0.2)``; supervised: the encoder, ``Dense(10)`` and sparse
cross-entropy; SGD with momentum 0.9; fixed synthetic views. Whether
TensorFlow's oneDNN kernels are on is decided by ``TF_ENABLE_ONEDNN_OPTS`` in
the environment the driver starts this process with (TensorFlow reads it when
it is imported); ``--jit`` compiles the step with XLA.
"""

from __future__ import annotations

import time

from benchmarks import _worker


def make_fit(task, batch, image, jit):
    """``run_steps(n) -> (wall_s, cpu_s, loss)`` of ``fit`` over n steps."""
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_collapse as kc

    keras.utils.set_random_seed(0)
    encoder = kc.encoders.resnet(18, cifar_stem=True, input_shape=(image, image, 3))
    rng = np.random.default_rng(0)
    views = [tf.constant(rng.uniform(size=(batch, image, image, 3)).astype("float32"))
             for _ in range(2)]
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    if task == "ssl":
        model = kc.models.SiameseModel(encoder,
                                       head=kc.layers.ProjectionHead(128, hidden_dims=(512,)))
        model.compile(optimizer=optimizer, loss=kc.losses.NTXent(0.2), jit_compile=jit)
        element = ((views[0], views[1]),)
    else:
        inputs = keras.Input((image, image, 3))
        model = keras.Model(inputs, keras.layers.Dense(10)(encoder(inputs)))
        model.compile(optimizer=optimizer, jit_compile=jit,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        element = (views[0], tf.constant(rng.integers(0, 10, batch)))
    single = tf.data.Dataset.from_tensors(element)

    class Timer(keras.callbacks.Callback):  # the epoch, not fit's per-call setup
        def on_epoch_begin(self, epoch, logs=None):
            self.start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.wall = time.perf_counter() - self.start[0]
            self.cpu = time.process_time() - self.start[1]
            self.loss = logs["loss"]

    timer = Timer()

    def run_steps(steps):
        model.fit(single.repeat(steps), epochs=1, verbose=0, callbacks=[timer])
        return timer.wall, timer.cpu, timer.loss

    return run_steps


def _facts(args):
    import tensorflow as tf

    from keras_collapse import _cpu

    return {"framework": f"tensorflow {tf.__version__}", "onednn": _cpu.onednn_enabled(),
            "jit_compile": args.jit}


def main(argv=None):
    _worker.main(__doc__, "--jit", lambda a: make_fit(a.task, a.batch, a.image, a.jit), _facts,
                 argv)


if __name__ == "__main__":
    main()
