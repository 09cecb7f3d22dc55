"""Tests of keras_collapse.optimizers.CoupledSGD (PyTorch's SGD) against a
NumPy reference written from torch.optim.SGD's documented update, its fixed
learning-rate variables, the strength of coupled against Keras' decoupled
decay, serialization and errors. Pinned against torch.optim.SGD itself:
test_optimizers_pinned.py; the selection through save/load_model:
test_optimizers.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

CoupledSGD = kc.optimizers.CoupledSGD


def numpy_sgd(weights, gradients, learning_rates, momentum, weight_decay, fixed):
    """torch.optim.SGD: d = g + wd·w; b = d (first step) else m·b + d;
    w ← w − lr·b, lr the fixed one where `fixed` is not None for that weight."""
    weights = [np.float64(w).copy() for w in weights]
    buffers = [None] * len(weights)
    for step, lr in zip(gradients, learning_rates):
        for i, g in enumerate(step):
            d = np.float64(g) + weight_decay * weights[i]
            buffers[i] = d if buffers[i] is None else momentum * buffers[i] + d
            weights[i] = weights[i] - (fixed[i] or lr) * buffers[i]
    return weights


def test_several_steps_match_numpy_with_a_schedule_and_a_fixed_rate():
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    gradients = [[rng.normal(size=w.shape).astype("float32") for w in initial] for _ in range(5)]
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=3, warmup_target=0.4,
                                                      warmup_steps=2)
    lrs = [float(schedule(step)) for step in range(5)]
    variables = [keras.Variable(initial[0], name="encoder_kernel"),
                 keras.Variable(initial[1], name="prediction_head_bias")]
    optimizer = CoupledSGD(schedule, momentum=0.9, weight_decay=0.05, fixed_learning_rate=0.3,
                           fixed_lr_names=["prediction_head"])
    for step in gradients:
        optimizer.apply_gradients(zip([tf.constant(g) for g in step], variables))
    expected = numpy_sgd(initial, gradients, lrs, 0.9, 0.05, [None, 0.3])
    for variable, value in zip(variables, expected):
        np.testing.assert_allclose(variable.numpy(), value, rtol=1e-5, atol=1e-6)


def test_coupled_decay_is_about_ten_times_keras_decoupled_at_momentum_0_9():
    """Zero gradients, lr 0.01, wd 0.01, 300 steps: Keras' SGD(weight_decay=)
    shrinks w by (1 − lr·wd) per step; coupled decay goes through the
    momentum and approaches lr·wd/(1 − m) per step, 10× more."""
    def shrink(optimizer):
        w = keras.Variable(np.ones((1,), "float32"))
        for _ in range(300):
            optimizer.apply_gradients([(tf.zeros((1,)), w)])
        return -np.log(float(w.numpy()[0]))
    coupled = shrink(CoupledSGD(0.01, momentum=0.9, weight_decay=0.01))
    decoupled = shrink(keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=0.01))
    assert 8.5 < coupled / decoupled < 10.0


def test_serialization_round_trip():
    optimizer = CoupledSGD(0.5, momentum=0.9, weight_decay=1e-5, fixed_learning_rate=0.5,
                           fixed_lr_names=["prediction_head"])
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is CoupledSGD
    assert restored.get_config() == optimizer.get_config()
    assert restored.weight_decay is None  # Keras' decoupled decay stays off


@pytest.mark.parametrize("kwargs, argument, error", [
    (dict(momentum=1.5), "momentum", ValueError),
    (dict(weight_decay=-1.0), "weight_decay", ValueError),
    (dict(fixed_learning_rate=0.5), "fixed_learning_rate", ValueError),
    (dict(fixed_lr_names=["predictor"]), "fixed_learning_rate", ValueError),
    (dict(fixed_learning_rate=0.0, fixed_lr_names=["p"]), "fixed_learning_rate", ValueError),
    (dict(fixed_learning_rate=0.5, fixed_lr_names="predictor"), "fixed_lr_names", TypeError),
])
def test_invalid_arguments_name_the_argument(kwargs, argument, error):
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        CoupledSGD(0.1, **kwargs)
