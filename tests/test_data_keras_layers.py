"""Keras preprocessing layers as view functions of the two-view pipelines
(`kc.data.KerasAugment`), seeded by the pipeline."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_collapse import data as kd

X = np.random.default_rng(0).integers(0, 256, size=(16, 6, 6, 3), dtype=np.uint8)


def _collect(ds):
    return [(a.numpy(), b.numpy()) for ((a, b),) in ds]


def test_a_keras_flip_layer_is_a_view_function():
    """Failed before with `TypeError: ... takes 2 positional arguments but 3
    were given` inside tf.data tracing. Each view is the image or its mirror
    (a Keras RandomFlip), scaled to [0, 1], and both occur."""
    views = _collect(kd.two_views(X, keras.layers.RandomFlip("horizontal"), batch_size=16,
                                  shuffle=False, seed=0))
    images = X / 255.0
    for view in views[0]:
        same = np.isclose(view, images).all(axis=(1, 2, 3))
        mirrored = np.isclose(view, images[:, :, ::-1]).all(axis=(1, 2, 3))
        assert np.all(same | mirrored)
        assert same.any() and mirrored.any()


def _sequential(seed=None):
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(0.2, 0.2, seed=seed),
        keras.layers.RandomContrast(0.5, value_range=(0, 1), seed=seed),
    ])


def test_views_depend_on_the_pipeline_seed_only():
    """Same pipeline seed: the same views, whatever the layers' own seeds and
    how often they were called; another seed: other views; every view and
    epoch its own draws."""
    first = _collect(kd.two_views(X, _sequential(seed=1), batch_size=8, seed=3))
    layers = _sequential(seed=2)
    _collect(kd.two_views(X, layers, batch_size=8, seed=9))  # calls the layers first
    again = _collect(kd.two_views(X, layers, batch_size=8, seed=3))
    for (a1, b1), (a2, b2) in zip(first, again):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(first[0][0], first[0][1])
    other = _collect(kd.two_views(X, layers, batch_size=8, seed=4))
    assert not np.array_equal(first[0][0], other[0][0])
    ds = kd.two_views(X, layers, batch_size=8, seed=3, shuffle=False)
    assert not np.array_equal(_collect(ds)[0][0], _collect(ds)[0][0])


def test_a_resumed_ordering_with_keras_layers_gives_the_same_batches():
    kwargs = dict(batch_size=4, num_epochs=3, steps_per_epoch=2, seed=5)
    full = _collect(kd.ordered_views(X, "cumulative", _sequential(), **kwargs))
    resumed = _collect(kd.ordered_views(X, "cumulative", _sequential(), initial_epoch=1,
                                        **kwargs))
    for (a, b), (a_ref, b_ref) in zip(resumed, full[2:]):
        np.testing.assert_array_equal(a, a_ref)
        np.testing.assert_array_equal(b, b_ref)


def test_the_layers_own_seed_generators_are_left_as_they_were():
    layer = keras.layers.RandomFlip("horizontal", seed=7)
    generator, state = layer.generator, layer.generator.state.numpy().copy()
    kd.KerasAugment(layer)(X, seed=[0, 1])
    _collect(kd.two_views(X, layer, batch_size=8))
    assert layer.generator is generator
    np.testing.assert_array_equal(layer.generator.state.numpy(), state)


@pytest.mark.parametrize("augment, error, match", [
    (keras.layers.RandomBrightness(0.2), ValueError,
     r"argument `layer`\. Expected Keras preprocessing layers with value_range=\(0, 1\).*"
     r"Received: layer='random_brightness.*value_range=\(0, 255\)'"),
    (lambda batch: batch, TypeError,
     r"argument `augment_a`\. Expected a callable \(batch, seed\) -> batch, called with a "
     r"batch and a seed tensor of shape \(2,\).*with signature \(batch\)"),
    (kd.Compose([kd.RandomResizedCrop(4), keras.layers.RandomFlip()]), TypeError,
     r"wrap Keras layers in it as kc\.data\.KerasAugment\(layer\)"),
])
def test_view_functions_that_cannot_work_fail_at_once(augment, error, match):
    with pytest.raises(error, match=match):
        kd.two_views(X, augment, batch_size=8)


def test_keras_augment_inside_compose():
    op = kd.Compose([kd.RandomResizedCrop(4), kd.KerasAugment(keras.layers.RandomFlip())])
    views = _collect(kd.two_views(X, op, batch_size=8, seed=0))
    assert views[0][0].shape == (8, 4, 4, 3)
    assert tf.reduce_max(views[0][0]) <= 1.0
