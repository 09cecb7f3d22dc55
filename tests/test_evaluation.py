"""Tests for keras_collapse.evaluation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_collapse import data as kd
from keras_collapse import evaluation as ev


@pytest.fixture(scope="module")
def digit_split():
    return kd.digits(test_fraction=0.25, seed=0)


def test_linear_probe_raw_digits(digit_split):
    """Logistic regression on standardised raw pixels reaches >= 0.93 (~0.96)."""
    result = ev.linear_probe(None, *digit_split)
    assert result.accuracy >= 0.93
    assert result.train_accuracy >= result.accuracy - 0.01
    assert hasattr(result.pipeline, "predict")


def test_knn_raw_digits(digit_split):
    """Weighted cosine kNN on raw pixels: ~0.98; stated bound 0.95."""
    assert ev.knn_accuracy(None, *digit_split, k=20, temperature=0.07) >= 0.95


def test_tf_data_inputs_match_arrays(digit_split):
    (x_tr, y_tr), (x_te, y_te) = digit_split
    batched = tf.data.Dataset.from_tensor_slices((x_tr, y_tr)).batch(100)
    unbatched = tf.data.Dataset.from_tensor_slices((x_te, y_te))
    assert ev.knn_accuracy(None, batched, unbatched) == ev.knn_accuracy(None, *digit_split)


def test_keras_encoder_and_embed(digit_split):
    (x_tr, y_tr), (x_te, y_te) = digit_split
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(32, activation="relu")])
    feats = ev.embed(encoder, x_te, batch_size=100)
    assert feats.shape == (len(x_te), 32) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, encoder.predict(x_te, verbose=0), atol=1e-5)
    # 32 random ReLU features keep most of the class information (~0.8).
    assert ev.linear_probe(encoder, (x_tr, y_tr), (x_te, y_te)).accuracy > 0.7
    assert ev.knn_accuracy(lambda x: tf.reshape(x, (-1, 64)), (x_tr, y_tr), (x_te, y_te)) > 0.9


def test_knn_hand_case():
    """Test point near class 1's two points beats one closer class-0 point when
    weights exp(sim/T) sum: sims 0.99 (class 0) vs 0.98, 0.98 (class 1)."""
    x_tr = np.array([[0.99, np.sqrt(1 - 0.99**2)], [0.98, np.sqrt(1 - 0.98**2)],
                     [0.98, -np.sqrt(1 - 0.98**2)]])
    y_tr = np.array([0, 1, 1])
    x_te, y_te = np.array([[1.0, 0.0]]), np.array([1])
    assert ev.knn_accuracy(None, (x_tr, y_tr), (x_te, y_te), k=3, temperature=1.0) == 1.0
    assert ev.knn_accuracy(None, (x_tr, y_tr), (x_te, y_te), k=1) == 0.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: ev.knn_accuracy(None, np.zeros((3, 2)), (np.zeros((3, 2)), np.zeros(3))),
     TypeError, "train"),
    (lambda: ev.knn_accuracy(None, (np.zeros((3, 2)), np.zeros(2)), (np.zeros((3, 2)), np.zeros(3))),
     ValueError, "train"),
    (lambda: ev.knn_accuracy(None, (np.zeros((3, 2)), np.zeros(3)), (np.zeros((3, 2)), np.zeros(3)),
                             temperature=0), ValueError, "temperature"),
    (lambda: ev.linear_probe(None, (np.zeros((3, 2)), np.zeros(3)), (np.zeros((3, 2)), np.zeros(3)),
                             C=-1.0), ValueError, "C"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=f"argument `{match}`"):
        call()


def test_few_label_probe_uses_shared_draws_of_k_labels_per_class():
    """Two far-apart classes: one label each suffices (accuracy 1); the draws
    come from the seed (the same twice); more labels per class than the
    smallest class holds are refused."""
    from keras_collapse.evaluation import few_label_probe

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-5, 0.1, (30, 2)), rng.normal(5, 0.1, (30, 2))])
    y = np.repeat([0, 1], 30)
    mean, each = few_label_probe(None, (x, y), (x, y), labels_per_class=1, draws=5)
    assert mean == 1.0 and each.shape == (5,)
    again = few_label_probe(None, (x, y), (x, y), labels_per_class=1, draws=5)[1]
    np.testing.assert_array_equal(each, again)
    with pytest.raises(ValueError, match="argument `labels_per_class`.*smallest class"):
        few_label_probe(None, (x, y), (x, y), labels_per_class=31)
