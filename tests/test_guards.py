"""Tests of keras_collapse.guards: NonFiniteGuard stops a diverging fit with a
NonFiniteLossError naming the step, the objective and the likely cause, and
leaves healthy runs alone."""

import logging

import keras
import numpy as np
import pytest

import keras_collapse as kc
import keras_collapse.guards as guards


def _data(n=64, dim=4, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype("float32")
    return x, x + 0.1


def _model(loss, lr, dtype=None, seed=0):
    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, dtype=dtype)])
    model = kc.models.SiameseModel(encoder)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=loss)
    return model


@pytest.mark.parametrize("lr", [1e3, 10.0])
def test_diverging_vicreg_raises_with_step_objective_and_cause(lr):
    model = _model(kc.losses.VICReg(), lr)
    guard = guards.NonFiniteGuard()
    with pytest.raises(
        guards.NonFiniteLossError,
        match=r"(?s)Non-finite training loss \(nan\) at step \d+ \(epoch \d+, batch \d+\)"
              r".*Objective: VICReg\(invariance_weight=25\.0, variance_weight=25\.0, "
              r"covariance_weight=1\.0, epsilon=0\.0001, scale=1\.0\); optimizer SGD, learning rate "
              r".*Likely cause: learning rate too large: the loss grew by ×\de\+\d+",
    ) as info:
        model.fit(_data(), epochs=20, batch_size=16, verbose=0, callbacks=[guard])
    error = info.value
    assert error.step > 1 and error.epoch >= 1 and error.batch >= 1
    assert f"at step {error.step} " in str(error)
    assert guard.error is error
    assert model.stop_training
    assert error.causes[0].startswith("learning rate too large")
    assert error.objective.startswith("VICReg(")


def test_divergence_inside_the_first_execution_names_steps_per_execution():
    """Under steps_per_execution=k the guard first looks after k steps: a loss
    already NaN there shows no blow-up, and the message says why and what to do."""
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model = kc.models.SiameseModel(encoder)
    model.compile(optimizer=keras.optimizers.SGD(1e6), loss=kc.losses.VICReg(),
                  steps_per_execution=10)
    with pytest.raises(guards.NonFiniteLossError,
                       match=r"(?s)at step 10 .*Likely cause: the loss was already non-finite "
                             r"at the first call-back, after 10 steps.*steps_per_execution=1"):
        model.fit(_data(256), epochs=1, batch_size=16, verbose=0,
                  callbacks=[guards.NonFiniteGuard()])


def test_healthy_run_is_not_stopped():
    model = _model(kc.losses.NTXent(0.5), 0.05)
    guard = guards.NonFiniteGuard(probe_data=_data()[0][:8], every_n_steps=2)
    history = model.fit(_data(), epochs=3, batch_size=16, verbose=0, callbacks=[guard])
    assert len(history.history["loss"]) == 3
    assert np.all(np.isfinite(history.history["loss"]))
    assert guard.error is None
    assert len(guard._norms) == 6  # 12 steps, probed every 2


def test_step_counts_across_fit_calls():
    """The reported step is the global optimizer step, not the step of this fit."""
    model = _model(kc.losses.VICReg(), 1e-3)
    model.fit(_data(), epochs=1, batch_size=16, verbose=0)  # 4 healthy steps
    x = _data()[0].copy()
    x[16:] = np.nan  # the second batch of the next fit is bad
    with pytest.raises(guards.NonFiniteLossError, match=r"at step 6 \(epoch 1, batch 2\)"):
        model.fit((x, x), epochs=1, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[guards.NonFiniteGuard()])


def test_nan_inputs_without_blow_up_point_at_the_inputs():
    x = _data()[0].copy()
    x[20] = np.nan
    model = _model(kc.losses.BarlowTwins(), 1e-3)
    with pytest.raises(guards.NonFiniteLossError,
                       match=r"(?s)at step 2 \(epoch 1, batch 2\).*Objective: BarlowTwins\("
                             r"redundancy_weight=0\.005, scale=1\.0\).*Likely cause: no blow-up.*inputs"):
        model.fit((x, x), epochs=1, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[guards.NonFiniteGuard()])


def test_small_temperature_in_float16_is_named():
    x = _data()[0].copy()
    x[0] = np.inf
    model = _model(kc.losses.NTXent(temperature=0.01), 1e-3, dtype="mixed_float16")
    with pytest.raises(guards.NonFiniteLossError,
                       match=r"temperature 0\.01 is too small for float16 embeddings"):
        model.fit((x, x), epochs=1, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[guards.NonFiniteGuard()])


def test_probe_nan_and_zero_norm_are_reported():
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((4,)),
                                keras.layers.Dense(4, use_bias=False, kernel_initializer="zeros")])
    model = kc.models.SiameseModel(encoder)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=kc.losses.SimSiam())
    # zero kernel: every embedding has norm 0; the loss stays finite (0)
    guard = guards.NonFiniteGuard(probe_data=_data()[0][:8], every_n_steps=1)
    model.fit(_data(), epochs=1, batch_size=16, verbose=0, callbacks=[guard])
    assert guard._norms and guard._norms[-1][1] == 0.0
    assert any(c.startswith("embeddings collapsed to zero norm") for c in guard._causes())

    # the 4 steps above count: the first probe of this fit is global step 5
    probe = _data()[0][:8].copy()
    probe[0] = np.nan
    with pytest.raises(guards.NonFiniteLossError,
                       match=r"Non-finite probe embeddings at step 5 \(epoch 1, batch 1\).*while the loss was "
                             r"still finite") as info:
        model.fit(_data(), epochs=1, batch_size=16, verbose=0,
                  callbacks=[guards.NonFiniteGuard(probe_data=probe, every_n_steps=1)])
    assert info.value.loss is None


def test_raise_error_false_stops_and_records(caplog):
    model = _model(kc.losses.VICReg(), 1e3)
    guard = guards.NonFiniteGuard(raise_error=False)
    with caplog.at_level(logging.WARNING, logger="keras_collapse.guards"):
        history = model.fit(_data(), epochs=20, batch_size=16, verbose=0, callbacks=[guard])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert isinstance(guard.error, guards.NonFiniteLossError)
    assert "learning rate too large" in caplog.text


def test_reexported_from_callbacks_and_arguments_checked():
    assert kc.callbacks.NonFiniteGuard is guards.NonFiniteGuard
    with pytest.raises(ValueError, match=r"Invalid value for argument `every_n_steps`"):
        guards.NonFiniteGuard(every_n_steps=0)
    with pytest.raises(ValueError, match=r"Invalid value for argument `probe_data`.*\(0, 4\)"):
        guards.NonFiniteGuard(probe_data=np.zeros((0, 4)))


def test_describe_objective_and_optimizer():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), loss=kc.losses.InfoNCE(0.2, "gaussian"))
    assert guards.describe_objective(model) == (
        "InfoNCE(temperature=0.2, similarity='gaussian', symmetric=True, "
        "positive_weight=1.0, partition='weighted', scale=1.0)")
    assert guards.describe_optimizer(model) == "optimizer Adam, learning rate 0.01"
    assert guards.describe_loss(kc.losses.InfoNCE(0.1, "dot", symmetric=False)) == (
        "InfoNCE(temperature=0.1, similarity='dot', symmetric=False, positive_weight=1.0, "
        "partition='weighted', scale=1.0)")
    assert guards.describe_loss("mse") == "mse"
    model.compile("sgd", loss="mse")
    assert guards.describe_objective(model) == "mse"
