"""User workflows: Keras' own machinery around a SiameseModel.

`BackupAndRestore`, `ModelCheckpoint`, `EarlyStopping`, `load_weights`,
`save`/`load_model` with regularizers, functional / Sequential / subclassed
encoders with BYOL's EMA target, re-compiling, `steps_per_execution`, mixed
precision -- and the Keras behaviours `kc._keras_compat` works around, shown
to be still there.
"""

import os
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
from workers import run_two_workers

L = kc.losses


def pairs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x + 0.1 * rng.normal(size=x.shape)).astype("float32")


class Subclassed(keras.Model):
    """A user's encoder: layers made in __init__, no declared input shape."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(8)

    def call(self, x):
        return self.out(self.hidden(x))


def sequential():
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(8)])


def functional():
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(8)(hidden))


ENCODERS = {"sequential": sequential, "functional": functional, "subclassed": Subclassed}


def siamese(encoder="sequential", loss=None, predictor=False, optimizer=None):
    keras.utils.set_random_seed(0)
    model = kc.models.SiameseModel(
        ENCODERS[encoder](), head=kc.layers.ProjectionHead(4, hidden_dims=(8,)),
        predictor=kc.layers.PredictionHead(4, hidden_dim=4) if predictor else None)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(0.01),
                  loss=loss if loss is not None else L.NTXent(0.5))
    return model


def assert_same_weights(a, b, atol=0.0):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")


@pytest.mark.parametrize("encoder, objective", [("sequential", "nt_xent"),
                                                ("subclassed", "nt_xent"),
                                                ("functional", "byol")])
def test_backup_and_restore_resumes_to_the_uninterrupted_weights(tmp_path, encoder, objective):
    """A fresh compiled model takes BackupAndRestore (it builds itself from the
    encoder's input, or from the data); killed at epoch 3 of 4 and resumed in
    a new model, it ends exactly where an uninterrupted run ends (optimizer
    state and the EMA target included)."""
    a, b = pairs()
    byol = objective == "byol"
    make = lambda: siamese(encoder, L.BYOL(0.9) if byol else None, predictor=byol)  # noqa: E731
    fit = dict(batch_size=16, epochs=4, shuffle=False, verbose=0)
    whole = make()
    whole.fit((a, b), **fit)
    with pytest.raises(RuntimeError, match="interrupted"):
        make().fit((a, b), callbacks=[keras.callbacks.BackupAndRestore(tmp_path), Interrupt()],
                   **fit)
    resumed = make()
    resumed.fit((a, b), callbacks=[keras.callbacks.BackupAndRestore(tmp_path)], **fit)
    assert int(resumed.optimizer.iterations.numpy()) == 16
    assert_same_weights(resumed, whole)


def test_load_weights_into_a_fresh_compiled_model(tmp_path):
    a, b = pairs()
    trained = siamese()
    trained.fit((a, b), batch_size=16, verbose=0)
    trained.save_weights(tmp_path / "model.weights.h5")
    fresh = siamese()
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_allclose(fresh.embed(a), trained.embed(a), rtol=1e-6, atol=1e-7)


def test_model_checkpoint_and_early_stopping(tmp_path):
    a, b = pairs()
    model = siamese()
    history = model.fit((a, b), batch_size=16, epochs=20, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(tmp_path / "best.keras", monitor="loss",
                                        save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)])
    assert len(history.history["loss"]) == 2  # stopped: no improvement of 10
    restored = keras.saving.load_model(tmp_path / "best.keras")
    assert isinstance(restored, kc.models.SiameseModel)
    assert restored.embed(a).shape == (64, 4)


def _penalties(model):
    return sorted(round(float(loss), 5) for loss in model.losses)


@pytest.mark.parametrize("encoder", ["sequential", "subclassed"])
def test_attached_werank_survives_save_and_load(tmp_path, encoder):
    """attach_werank puts WERank on the encoder's and the head's kernels; after
    save/load_model every penalty is still there, with its value, so resumed
    training optimises the same objective."""
    a, b = pairs()
    model = siamese(encoder)
    model.fit((a, b), batch_size=16, verbose=0)
    attached = kc.regularizers.attach_werank(model, 0.1)
    assert len(attached) == 4  # two encoder kernels, two head kernels
    penalties = _penalties(model)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras", custom_objects={
        "Subclassed": Subclassed})
    assert _penalties(restored) == penalties
    assert restored.evaluate((a, b), batch_size=64, verbose=0) == pytest.approx(
        model.evaluate((a, b), batch_size=64, verbose=0), rel=1e-5)


def test_head_regularizers_survive_inside_a_functional_model(tmp_path):
    inputs = keras.Input((8,))
    head = kc.layers.ProjectionHead(4, hidden_dims=(8,),
                                    kernel_regularizer=[kc.regularizers.WERank(0.1), None])
    model = keras.Model(inputs, head(keras.layers.Dense(8)(inputs)))
    kc.regularizers.attach_werank(model, {model.layers[1].name: 0.2})
    before = _penalties(model)
    assert len(before) == 2
    model.save(tmp_path / "functional.keras")
    assert _penalties(keras.saving.load_model(tmp_path / "functional.keras")) == before


@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_byol_trains_any_encoder(tmp_path, encoder):
    """The EMA target of functional, Sequential and subclassed encoders: it
    starts as a copy, trails the online network, and is saved."""
    a, b = pairs()
    model = siamese(encoder, L.BYOL(momentum=0.9), predictor=True)
    model.fit((a, b), batch_size=16, epochs=2, verbose=0)
    online, target = model.embed(a).numpy(), model.embed_target(a).numpy()
    assert np.isfinite(target).all() and np.abs(online - target).max() > 1e-4
    model.save(tmp_path / "byol.keras")
    restored = keras.saving.load_model(tmp_path / "byol.keras",
                                       custom_objects={"Subclassed": Subclassed})
    np.testing.assert_allclose(restored.embed_target(a), target, rtol=1e-5, atol=1e-6)


def test_recompiling_with_any_objective_trains():
    a, b = pairs()
    model = siamese(predictor=True, loss=L.BYOL(0.9))
    for loss in (L.BYOL(0.9), L.SimSiam(), L.NTXent(), L.VICReg(), L.BYOL(0.99)):
        model.compile(optimizer="sgd", loss=loss)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Gradients do not exist")  # predictor unused
            history = model.fit((a, b), batch_size=16, verbose=0)
        assert np.isfinite(history.history["loss"][0]), type(loss).__name__


def test_steps_per_execution_gives_the_same_weights():
    a, b = pairs()
    one, four = siamese(), siamese()
    four.compile(optimizer=keras.optimizers.Adam(0.01), loss=L.NTXent(0.5),
                 steps_per_execution=4)
    for model in (one, four):
        model.fit((a, b), batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert int(four.optimizer.iterations.numpy()) == 16
    assert_same_weights(one, four, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_fit(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = siamese("subclassed", L.BYOL(0.9), predictor=True)
        history = model.fit(pairs(), batch_size=16, epochs=2, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"]).all()
    assert model.embed(pairs()[0]).dtype == policy.split("_")[1]


# --- the Keras behaviours kc._keras_compat works around ------------------------

def _unknown_cardinality(x):
    return tf.data.Dataset.from_tensor_slices((x, x)).batch(16).filter(lambda a, b: True)


def test_keras_still_overcounts_steps_on_data_of_unknown_cardinality():
    """`_keras_compat.after_data` is needed: plain Keras counts one optimizer
    step too many per epoch when it cannot know where an epoch ends."""
    x = pairs()[0]
    plain = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8)])
    plain.compile(optimizer="sgd", loss="mse")
    plain.fit(_unknown_cardinality(x), epochs=2, verbose=0)
    assert int(plain.optimizer.iterations.numpy()) == 10  # 2 epochs of 4 batches
    model = siamese()
    model.fit(_unknown_cardinality(x).map(lambda a, b: ((a, b),)), epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 8


def test_keras_still_warns_at_the_end_of_data_of_unknown_cardinality():
    """`_keras_compat.end_of_data_expected` is needed: Keras warns "ran out of
    data" at the normal end of such an epoch."""
    x = pairs()[0]
    plain = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="ran out of data"):
        plain.fit(_unknown_cardinality(x), epochs=1, verbose=0)


def test_keras_still_drops_sample_weight_without_targets():
    """`_inputs.no_targets` is needed: Keras drops array `sample_weight` when
    `y` is None (all-zero weights leave a plain model's loss unchanged)."""
    x = pairs()[0]

    class NoTargets(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            self.seen = sample_weight
            return keras.ops.mean(y_pred ** 2)

    inputs = keras.Input((8,))
    model = NoTargets(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", run_eagerly=True)
    model.evaluate(x, sample_weight=np.zeros(64), batch_size=64, verbose=0)
    assert model.seen is None


@pytest.mark.parametrize("case, error", [
    ("plain", "Attempt to convert a value (PerReplica"),
    ("built", "Invalid reduction dimension 0 for input with 0 dimensions"),
])
def test_keras_fit_still_fails_under_two_workers(case, error):
    """`_keras_compat.build_from_spec` and `rank1_logs` are needed: under a
    two-worker MultiWorkerMirroredStrategy a plain Keras `fit` fails in its
    symbolic build (reading and reducing a batch eagerly), and with only that
    replaced it still fails reducing the scalar step logs
    (keras-team/keras#20585). SiameseModel trains there
    (tests/test_distribute_multi_worker.py)."""
    script = os.path.join(os.path.dirname(__file__), "_workflows_multi_worker.py")
    outputs = run_two_workers(lambda index: [sys.executable, script, case])
    for output in outputs:
        results = [line for line in output.splitlines() if line.startswith(("OK", "FAIL"))]
        assert results and results[0].startswith("FAIL") and error in results[0], output[-2000:]
