"""Run under two logical CPU devices (a fresh process): prints JSON results.

Invoked by tests/test_distribute.py; logical devices must be configured before
TensorFlow initialises, hence the separate process.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import keras_collapse as kc  # noqa: E402
from subprocesses import step  # noqa: E402

OUT = tempfile.mkdtemp()

# One strategy per process: TensorFlow's collective instance keys clash
# between several MirroredStrategy objects (tensorflow/tensorflow#62790).
STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def objectives():
    return {
        "info_nce_dot": kc.losses.InfoNCE(0.5),
        "info_nce_gaussian": kc.losses.InfoNCE(1.0, "gaussian"),
        "nt_xent": kc.losses.NTXent(0.5),
        "spectral": kc.losses.SpectralContrastive(),
        "barlow_twins": kc.losses.BarlowTwins(),
        "vicreg": kc.losses.VICReg(),
        "simsiam": kc.losses.SimSiam(),
        "byol": kc.losses.BYOL(),
        "moco_v3": kc.losses.MoCoV3(0.2),
    }


def loss_and_gradients():
    """Loss and dL/dW on one device vs summed over two replicas."""
    rng = np.random.default_rng(0)
    x_a = rng.normal(size=(16, 6)).astype("float32")
    x_b = (x_a + 0.3 * rng.normal(size=x_a.shape)).astype("float32")
    w0 = rng.normal(size=(6, 4)).astype("float32")
    strategy = STRATEGY
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x_a, x_b)).batch(16)
    )
    out = {}
    for name, loss in objectives().items():
        w = tf.Variable(w0)
        with tf.GradientTape() as tape:
            value = loss(x_a @ w, x_b @ w)
        grad = tape.gradient(value, w)
        with strategy.scope():
            w_dist = tf.Variable(w0)

        @tf.function
        def step(a, b, loss=loss, w_dist=w_dist):
            def replica(a, b):
                with tf.GradientTape() as tape:
                    v = loss(a @ w_dist, b @ w_dist)
                return v, tape.gradient(v, w_dist)

            v, g = strategy.run(replica, (a, b))
            return strategy.reduce("SUM", v, None), strategy.reduce("SUM", g, None)

        a, b = next(iter(dataset))
        v_dist, g_dist = step(a, b)
        out[name] = {
            "single": float(value),
            "mirrored": float(v_dist),
            "grad_rel_err": float(
                np.abs(g_dist.numpy() - grad.numpy()).max() / np.abs(grad.numpy()).max()
            ),
        }
    return out


def fit_weights():
    """Weight difference after 2 epochs of fit, one device vs mirrored.

    Returned relative to how far training moved the encoder weights (max abs).
    """
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8)).astype("float32")
    x_b = (x + 0.1 * rng.normal(size=x.shape)).astype("float32")
    data = (
        tf.data.Dataset.from_tensor_slices((x, x_b))
        .batch(32, drop_remainder=True)
        .map(lambda a, b: ((a, b),))
    )

    def build(name, predictor):
        loss = objectives()[name]
        keras.utils.set_random_seed(1)
        encoder = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)]
        )
        model = kc.models.SiameseModel(
            encoder,
            # VICReg's std hinge amplifies the float32 round-off of synchronised
            # BatchNorm moments (E[x²] − E[x]²) to ~1e-4; its global
            # statistics are checked without BatchNorm, which the other two
            # objectives check.
            head=kc.layers.ProjectionHead(4, hidden_dims=(8,), batch_norm=name != "vicreg"),
            predictor=kc.layers.PredictionHead(4, hidden_dim=4) if predictor else None,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        return model

    out = {}
    for name in ("nt_xent", "vicreg", "byol", "moco_v3"):
        predicts = name in ("byol", "moco_v3")
        single = build(name, predicts)
        initial = single.encoder.get_weights()
        single.fit(data, epochs=2, verbose=0)
        with STRATEGY.scope():
            mirrored = build(name, predicts)
        mirrored.fit(data, epochs=2, verbose=0)
        moved = max(
            float(np.abs(a - b).max()) for a, b in zip(single.encoder.get_weights(), initial)
        )
        out[name] = max(
            float(np.abs(a - b).max())
            for a, b in zip(single.get_weights(), mirrored.get_weights())
        ) / moved
    return out


def configuration_errors():
    """Messages of configurations that cannot work, raised before training
    (a fixed batch that does not split evenly, or too small for the objective;
    batches of unknown size are handled in tests/_workflows_mirrored.py)."""
    x = np.zeros((66, 8), "float32")
    out = {}
    for name, batch, loss in (
        ("indivisible", 33, kc.losses.VICReg()),
        ("too_small", 1, kc.losses.NTXent()),
    ):
        data = tf.data.Dataset.from_tensor_slices((x, x))
        data = data.batch(batch, drop_remainder=True)
        data = data.map(lambda a, b: ((a, b),))
        with STRATEGY.scope():
            encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
            model = kc.models.SiameseModel(encoder)
            model.compile(optimizer="sgd", loss=loss)
        try:
            model.fit(data, epochs=1, verbose=0)
            out[name] = None
        except ValueError as error:
            out[name] = str(error)
    return out


def logger_spectra():
    """SpectrumLogger values after one epoch (learning rate 0), one device vs mirrored."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 8)).astype("float32")
    data = (
        tf.data.Dataset.from_tensor_slices((x, x))
        .batch(32, drop_remainder=True)
        .map(lambda a, b: ((a, b),))
    )

    def run(scope):
        with scope:
            keras.utils.set_random_seed(4)
            encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6)])
            model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
            model.compile(optimizer=keras.optimizers.SGD(0.0), loss=kc.losses.NTXent())
        logger = kc.callbacks.SpectrumLogger(x, log_dir=os.path.join(OUT, str(id(scope))))
        history = model.fit(data, epochs=1, verbose=0, callbacks=[logger])
        return {k: float(v[0]) for k, v in history.history.items() if k.startswith("collapse/")}

    return {
        "single": run(tf.distribute.get_strategy().scope()),
        "mirrored": run(STRATEGY.scope()),
    }


def mixed_precision_losses():
    """Training losses of two fit epochs under mixed-precision policies,
    one device vs mirrored (NT-Xent; BatchNorm head)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 8)).astype("float32")
    data = (
        tf.data.Dataset.from_tensor_slices((x, x + 0.1))
        .batch(32, drop_remainder=True)
        .map(lambda a, b: ((a, b),))
    )
    out = {}
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            for name, scope in (("single", tf.distribute.get_strategy().scope()),
                                ("mirrored", STRATEGY.scope())):
                with scope:
                    keras.utils.set_random_seed(6)
                    encoder = keras.Sequential(
                        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                         keras.layers.Dense(8)])
                    model = kc.models.SiameseModel(
                        encoder, head=kc.layers.ProjectionHead(4, hidden_dims=(8,)))
                    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=kc.losses.NTXent(0.1))
                history = model.fit(data, epochs=2, verbose=0)
                out[f"{policy}/{name}"] = history.history["loss"]
        finally:
            keras.mixed_precision.set_global_policy("float32")
    return out


def _op_types(graph_def):
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types |= {node.op for node in function.node_def}
    return types


def ops_without_xla_kernel():
    """Op types of one traced replica train step (objective, synchronised-BN
    head, predictor and EMA target) that XLA cannot compile for a GPU.

    XLA's CPU backend implements no collectives ("Collectives are not yet
    implemented for CPU devices when compiling with XLA"), so `jit_compile=True`
    under a strategy cannot run here; this checks what it needs on a GPU: every
    op has an `XLA_GPU_JIT` kernel (Placeholder is the step's argument).
    """
    from tensorflow.python.framework import kernels

    x = np.zeros((32, 8), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, x)).batch(32, drop_remainder=True)
    data = data.map(lambda a, b: ((a, b),))
    batch = next(iter(STRATEGY.experimental_distribute_dataset(data)))
    out = {}
    for name, loss in objectives().items():
        with STRATEGY.scope():
            encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8)])
            predictor = name in ("simsiam", "byol", "moco_v3")
            model = kc.models.SiameseModel(
                encoder, head=kc.layers.ProjectionHead(4, hidden_dims=(8,)),
                predictor=kc.layers.PredictionHead(4, hidden_dim=4) if predictor else None)
            model.compile(optimizer="sgd", loss=loss)
        model.fit(data, verbose=0)  # builds the model, the optimizer and the target
        step = tf.function(lambda batch, model=model: STRATEGY.run(model.train_step, (batch,)))
        graph = step.get_concrete_function(batch).graph.as_graph_def()
        out[name] = sorted(
            op for op in _op_types(graph)
            if "XLA_GPU_JIT" not in {
                k.device_type for k in kernels.get_registered_kernels_for_op(op).kernel}
        )
    return out


def lars_weights():
    """Weights after two epochs with LARS (weight decay, warmup-cosine), one
    device vs mirrored, relative to how far training moved them."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 8)).astype("float32")
    data = (
        tf.data.Dataset.from_tensor_slices((x, x + 0.1 * rng.normal(size=x.shape)))
        .batch(32, drop_remainder=True)
        .map(lambda a, b: ((a, b),))
    )

    def build():
        keras.utils.set_random_seed(3)
        encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                    keras.layers.BatchNormalization(synchronized=True),
                                    keras.layers.ReLU()])
        model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=3, warmup_target=0.5, warmup_steps=1)
        model.compile(optimizer=kc.optimizers.LARS(schedule, weight_decay=1e-3,
                                                   trust_coefficient=0.02),
                      loss=kc.losses.NTXent(0.5))
        return model

    single = build()
    initial = single.get_weights()
    single.fit(data, epochs=2, verbose=0)
    with STRATEGY.scope():
        mirrored = build()
    mirrored.fit(data, epochs=2, verbose=0)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), initial))
    return max(float(np.abs(a - b).max())
               for a, b in zip(single.get_weights(), mirrored.get_weights())) / moved


STEPS = {
    "losses": loss_and_gradients,
    "fit": fit_weights,
    "errors": configuration_errors,
    "logger": logger_spectra,
    "mixed": mixed_precision_losses,
    "xla": ops_without_xla_kernel,
    "lars": lars_weights,
}


if __name__ == "__main__":
    results = {}
    for name, function in STEPS.items():
        step(f"{name} ({function.__name__})")
        results[name] = function()
    json.dump(results, sys.stdout)
