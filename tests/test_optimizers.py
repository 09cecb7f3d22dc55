"""Tests of keras_collapse.optimizers.LARS against a NumPy reference of
SimCLR's update (google-research/simclr, lars_optimizer.py), hand-worked
steps of the "pytorch" and "solo-learn" rules, its exclusions (kept through
save/load_model), serialization, schedules, mixed precision and errors.
Values pinned from the upstream PyTorch optimizers: test_optimizers_pinned.py.
Under MirroredStrategy: tests/test_distribute.py (tests/_mirrored_check.py,
`lars_weights`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

LARS = kc.optimizers.LARS


def numpy_lars(weights, gradients, learning_rates, momentum, weight_decay, eta, excluded):
    """The update written from SimCLR's code, for a list of weights.

    g' = g + wd·w; trust = η‖w‖/‖g'‖ (1 if either norm is 0);
    v ← m·v + lr·trust·g'; w ← w − v. Excluded weights: g' = g, trust = 1.
    """
    weights = [np.float64(w).copy() for w in weights]
    velocities = [np.zeros_like(w) for w in weights]
    for step_gradients, lr in zip(gradients, learning_rates):
        for i, (w, g) in enumerate(zip(weights, step_gradients)):
            g = np.float64(g)
            trust = 1.0
            if not excluded[i]:
                g = g + weight_decay * w
                w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
                if w_norm > 0 and g_norm > 0:
                    trust = eta * w_norm / g_norm
            velocities[i] = momentum * velocities[i] + lr * trust * g
            weights[i] = w - velocities[i]
    return weights


def run_steps(optimizer, initial, gradients):
    variables = [keras.Variable(w, name=f"v{i}") for i, w in enumerate(initial)]
    for step_gradients in gradients:
        optimizer.apply_gradients(zip([tf.constant(g) for g in step_gradients], variables))
    return [v.numpy() for v in variables]


def problem(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=(4, 3)).astype("float32"),
               rng.normal(size=(3,)).astype("float32"),
               np.zeros((3, 2), "float32")]  # ‖w‖ = 0: trust 1
    gradients = [[rng.normal(size=w.shape).astype("float32") for w in initial]
                 for _ in range(steps)]
    return initial, gradients


def test_several_steps_match_numpy_with_warmup_cosine():
    """Six steps with Keras' CosineDecay warmup schedule, weight decay and
    momentum: kernel adapted, bias (rank 1) plain momentum SGD, the zero
    kernel trust 1 on its first step."""
    initial, gradients = problem()
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=4, warmup_target=0.5, warmup_steps=2)
    lrs = [float(schedule(step)) for step in range(len(gradients))]
    assert lrs[0] == 0.0 and lrs[2] == pytest.approx(0.5)
    got = run_steps(LARS(schedule, momentum=0.9, weight_decay=1e-2, trust_coefficient=0.02),
                    initial, gradients)
    expected = numpy_lars(initial, gradients, lrs, 0.9, 1e-2, 0.02, [False, True, False])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # the adapted kernels moved differently from plain momentum SGD
    sgd = numpy_lars(initial, gradients, lrs, 0.9, 0.0, 1.0, [True] * 3)
    assert np.abs(got[0] - sgd[0]).max() > 1e-2


def test_trust_ratio_of_one_step_by_hand():
    """w = [3, 4] (‖w‖ = 5), g = [0, 2], wd = 0.5: g' = [1.5, 4] (‖g'‖ = 4.2720),
    trust = η·5/4.2720 with η = 0.1 → 0.117041; lr 1, first step v = trust·g',
    w − v = [3 − 0.175562, 4 − 0.468165] = [2.824438, 3.531835]."""
    variable = keras.Variable(np.array([[3.0, 4.0]], "float32"))
    optimizer = LARS(1.0, momentum=0.9, weight_decay=0.5, trust_coefficient=0.1)
    optimizer.apply_gradients([(tf.constant([[0.0, 2.0]]), variable)])
    np.testing.assert_allclose(variable.numpy(), [[2.824438, 3.531835]], atol=1e-5)


def test_exclusions_by_name_and_rank():
    initial, gradients = problem(seed=1, steps=3)
    lrs = [0.1] * 3
    got = run_steps(LARS(0.1, weight_decay=1e-3, exclude_names=["v2"]), initial, gradients)
    expected = numpy_lars(initial, gradients, lrs, 0.9, 1e-3, 1e-3, [False, True, True])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    got = run_steps(LARS(0.1, weight_decay=1e-3, exclude_rank1=False), initial, gradients)
    expected = numpy_lars(initial, gradients, lrs, 0.9, 1e-3, 1e-3, [False, False, False])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)


def test_solo_learn_rule_one_step_by_hand():
    """w = [3, 4] (‖w‖ = 5), g = [0, 2] (‖g‖ = 2), wd = 0.5, η = 0.1:
    trust = 0.1·5/(2 + 0.5·5 + 1e-8) = 0.111111; g + wd·w = [1.5, 4].
    Without clipping at lr 1: w − 1·0.111111·[1.5, 4] = [2.833333, 3.555556].
    With clip_lr at lr 0.05: min(0.111111/0.05, 1) = 1, so the step is
    0.05·[1.5, 4]: [2.925, 3.8]. The "simclr" rule's trust would be
    0.1·5/‖[1.5, 4]‖ = 0.117041 instead (test above)."""
    for lr, clip, expected in ((1.0, False, [2.833333, 3.555556]), (0.05, True, [2.925, 3.8])):
        variable = keras.Variable(np.array([[3.0, 4.0]], "float32"))
        optimizer = LARS(lr, momentum=0.9, weight_decay=0.5, trust_coefficient=0.1,
                         rule="solo-learn", clip_lr=clip)
        optimizer.apply_gradients([(tf.constant([[0.0, 2.0]]), variable)])
        np.testing.assert_allclose(variable.numpy(), [expected], atol=1e-5)


def test_pytorch_rule_multiplies_the_buffer_by_the_current_rate():
    """Excluded (rank 1) weight from 0, g = 1 at both steps, momentum 0.5,
    lr 0.1 then 1.0. "pytorch": the buffer is 1 then 1.5, w = −0.1·1 − 1.0·1.5
    = −1.6; "simclr" keeps each step's rate inside the buffer: v = 0.1 then
    0.5·0.1 + 1.0 = 1.05, w = −0.1 − 1.05 = −1.15."""
    for rule, expected in (("pytorch", -1.6), ("simclr", -1.15)):
        variable = keras.Variable(np.zeros((1,), "float32"))
        optimizer = LARS(0.1, momentum=0.5, rule=rule)
        optimizer.apply_gradients([(tf.ones((1,)), variable)])
        optimizer.learning_rate = 1.0
        optimizer.apply_gradients([(tf.ones((1,)), variable)])
        np.testing.assert_allclose(variable.numpy(), [expected], atol=1e-6)


def _nested_model(seed):
    """A Functional model around a Sequential `backbone`: after load_model
    the backbone's variable paths lose their `backbone/` prefix."""
    keras.utils.set_random_seed(seed)
    backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="dense"),
                                 keras.layers.Dense(3, name="out")], name="backbone")
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(backbone(inputs)))


@pytest.mark.parametrize("optimizer", [
    lambda: LARS(0.1, weight_decay=0.1, exclude_names=["backbone/dense"]),
    lambda: kc.optimizers.CoupledSGD(0.05, momentum=0.9, fixed_learning_rate=0.5,
                                     fixed_lr_names=["backbone/dense"]),
])
def test_name_selection_survives_save_and_load_model(optimizer, tmp_path):
    """build, fit, save, load_model, fit again == an uninterrupted run (issue
    24): the reloaded variables are `dense/kernel`, not `backbone/dense/kernel`,
    but the optimizer keeps the selection it was built with."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = x[:, :2] * 2.0
    model = _nested_model(0)
    assert "backbone/dense/kernel" in [v.path for v in model.trainable_variables]
    model.compile(optimizer=optimizer(), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert "backbone/dense/kernel" not in [v.path for v in loaded.trainable_variables]
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if isinstance(loaded.optimizer, LARS):
        kernel = loaded.trainable_variables[0]
        assert loaded.optimizer.excluded(kernel) and not LARS(0.1, exclude_names=[
            "backbone/dense"]).excluded(kernel)  # the rule alone would now miss it


def test_serialization_round_trip():
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=100, warmup_target=1.2, warmup_steps=10)
    optimizer = LARS(schedule, momentum=0.8, weight_decay=1e-6, trust_coefficient=0.01,
                     exclude_names=["bn"], rule="solo-learn", clip_lr=True, epsilon=1e-6,
                     clipnorm=1.0)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is LARS
    config = restored.get_config()
    assert config == optimizer.get_config()
    assert config["weight_decay"] == 1e-6 and config["exclude_names"] == ["bn"]
    assert config["rule"] == "solo-learn" and config["clip_lr"] and config["epsilon"] == 1e-6
    assert restored.weight_decay is None  # Keras' decoupled decay stays off


def test_saved_model_keeps_optimizer_state(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                              keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    model.compile(optimizer=LARS(0.5, weight_decay=1e-4), loss="mse")
    model.fit(x, x[:, :2], epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LARS)
    assert int(loaded.optimizer.iterations) == 8
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
    # training on continues identically
    model.fit(x, x[:, :2], epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(x, x[:, :2], epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_fit_follows_float32(policy):
    """A SiameseModel under a mixed policy (LossScaleOptimizer around LARS for
    float16) ends near the float32 run's weights."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 8)).astype("float32")

    def train():
        keras.utils.set_random_seed(0)
        encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                    keras.layers.BatchNormalization(), keras.layers.ReLU()])
        model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
        model.compile(optimizer=LARS(0.5, weight_decay=1e-4, trust_coefficient=0.02),
                      loss=kc.losses.NTXent(0.5))
        history = model.fit((x, x + 0.1), batch_size=32, epochs=3, shuffle=False, verbose=0)
        return model, history.history["loss"]

    reference, reference_losses = train()
    keras.mixed_precision.set_global_policy(policy)
    try:
        mixed, losses = train()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses, reference_losses, rtol=0.05)
    kernel = mixed.encoder.layers[0].kernel
    assert keras.backend.standardize_dtype(kernel.dtype) == "float32"
    np.testing.assert_allclose(np.asarray(kernel), np.asarray(reference.encoder.layers[0].kernel),
                               atol=0.05)


@pytest.mark.parametrize(
    "kwargs,argument,error",
    [
        (dict(momentum=1.5), "momentum", ValueError),
        (dict(weight_decay=-1.0), "weight_decay", ValueError),
        (dict(trust_coefficient=0.0), "trust_coefficient", ValueError),
        (dict(exclude_rank1="yes"), "exclude_rank1", TypeError),
        (dict(exclude_names="bn"), "exclude_names", TypeError),
        (dict(rule="lightning"), "rule", ValueError),
        (dict(clip_lr=1), "clip_lr", TypeError),
        (dict(epsilon=0.0), "epsilon", ValueError),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, argument, error):
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        LARS(0.1, **kwargs)
