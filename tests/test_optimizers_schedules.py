"""Tests of keras_collapse.optimizers.schedules.LinearWarmupCosine: hand-worked
values, its use by a Keras optimizer, serialization and errors. Pinned
against Lightning Bolts' scheduler: test_optimizers_pinned.py."""

import keras
import numpy as np
import pytest

import keras_collapse as kc

LinearWarmupCosine = kc.optimizers.schedules.LinearWarmupCosine


def test_values_by_hand():
    """lr 1, warmup 3 epochs from 0.1, 7 epochs, eta_min 0, 2 steps an epoch:
    epochs 0, 1, 2 give 0.1, 0.55, 1.0 (slope 0.9/2); epoch 3 is the peak 1.0,
    epoch 5 is half way down the cosine: 0.5; epoch 7 and later 0."""
    schedule = LinearWarmupCosine(1.0, warmup_epochs=3, max_epochs=7, warmup_start_lr=0.1,
                                  steps_per_epoch=2)
    got = np.asarray(schedule(np.arange(0, 20)))
    expected = np.repeat([0.1, 0.55, 1.0, 1.0, 0.5 + 0.5 * np.cos(np.pi / 4), 0.5,
                          0.5 - 0.5 * np.cos(np.pi / 4), 0.0, 0.0, 0.0], 2)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_no_warmup_is_li_et_al_per_epoch_cosine():
    """warmup_epochs=0: lr·½(1 + cos(π·e/E)) (main_simsiam.py adjust_learning_rate)."""
    schedule = LinearWarmupCosine(0.05, warmup_epochs=0, max_epochs=100, steps_per_epoch=10)
    epochs = np.arange(100)
    np.testing.assert_allclose(np.asarray(schedule(epochs * 10 + 9)),
                               0.05 * 0.5 * (1 + np.cos(np.pi * epochs / 100)), rtol=1e-5,
                               atol=1e-8)  # float32 cos near π


def test_serializes_inside_an_optimizer():
    schedule = LinearWarmupCosine(0.4, 10, 1000, warmup_start_lr=0.003, steps_per_epoch=195)
    optimizer = kc.optimizers.LARS(schedule)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert restored._learning_rate.get_config() == schedule.get_config()


@pytest.mark.parametrize("kwargs, argument", [
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(warmup_epochs=-1), "warmup_epochs"),
    (dict(warmup_epochs=10, max_epochs=10), "max_epochs"),
    (dict(steps_per_epoch=0), "steps_per_epoch"),
    (dict(eta_min=-0.1), "eta_min"),
])
def test_invalid_arguments_name_the_argument(kwargs, argument):
    arguments = dict(learning_rate=0.1, warmup_epochs=1, max_epochs=5)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
        LinearWarmupCosine(**arguments)
