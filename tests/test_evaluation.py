"""Tests for keras_collapse.evaluation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
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


def test_linear_evaluation_equals_numpy_sgd_on_frozen_features():
    """No augmentation, one batch per epoch, no shuffling: three epochs of
    the classifier equal multinomial logistic regression trained in NumPy by
    PyTorch's SGD (momentum 0.9, coupled weight decay 0.01) at the per-epoch
    cosine rates 0.5·½(1 + cos(π·e/3)), from the N(0, 0.01²) initial kernel."""
    import keras

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5)).astype("float32")
    y = rng.integers(0, 3, size=40)
    encoder = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, use_bias=False)])
    features = np.asarray(encoder(x), np.float64)
    result = kc.evaluation.linear_evaluation(encoder, (x, y), (x, y), epochs=3, batch_size=40,
                                             learning_rate=0.5, weight_decay=0.01,
                                             shuffle=False, seed=7)
    kernel = np.asarray(keras.initializers.RandomNormal(0.0, 0.01, seed=7)((4, 3)), np.float64)
    bias = np.zeros(3)
    buffers = [np.zeros_like(kernel), np.zeros_like(bias)]
    onehot = np.eye(3)[y]
    for epoch in range(3):
        lr = 0.5 * 0.5 * (1 + np.cos(np.pi * epoch / 3))
        logits = features @ kernel + bias
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grads = [features.T @ (p - onehot) / 40, (p - onehot).mean(0)]
        for i, (w, g) in enumerate(zip((kernel, bias), grads)):
            buffers[i] = 0.9 * buffers[i] + g + 0.01 * w
        kernel, bias = kernel - lr * buffers[0], bias - lr * buffers[1]
    np.testing.assert_allclose(np.asarray(result.classifier.kernel), kernel, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(result.classifier.bias), bias, rtol=1e-4, atol=1e-6)
    accuracy = np.mean((features @ kernel + bias).argmax(1) == y)
    assert result.accuracy == pytest.approx(accuracy)
    assert len(result.history["loss"]) == 3


def test_linear_evaluation_leaves_the_encoder_and_its_batchnorm_alone():
    """Images from a dataset of (image, label), augmented (crop + flip) and
    centre-cropped for the test: the encoder's weights and BatchNorm
    statistics do not change, and its trainable flag comes back."""
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(48, 10, 10, 3)).astype("float32")
    labels = (images[:, :, :, 0].mean((1, 2)) > 0.5).astype("int64")
    encoder = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
                                keras.layers.BatchNormalization(),
                                keras.layers.GlobalAveragePooling2D()])
    before = [np.array(w) for w in encoder.weights]
    train = tf.data.Dataset.from_tensor_slices((images, labels))
    augment = kc.data.Compose([kc.data.RandomResizedCrop(8), kc.data.RandomFlip()])
    result = kc.evaluation.linear_evaluation(
        encoder, train, (images[:16], labels[:16]), augment=augment,
        test_preprocess=kc.data.RandomResizedCrop(8, scale=(0.64, 0.64), ratio=(1.0, 1.0)),
        epochs=2, batch_size=16, num_classes=2)
    assert 0.0 <= result.accuracy <= 1.0 and result.classifier.kernel.shape == (4, 2)
    for a, b in zip(before, encoder.weights):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert encoder.trainable


def test_linear_evaluation_takes_an_optimizer_factory_and_raw_inputs():
    """Li et al.'s probe: apex LARC, i.e. LARS with solo-learn's rule on every
    parameter, built by the factory with the per-epoch schedule; encoder=None
    trains on the raw inputs."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, 1] > 0).astype(int)
    made = []

    def lars(learning_rate):
        made.append(kc.optimizers.LARS(learning_rate, rule="solo-learn", exclude_rank1=False))
        return made[-1]

    result = kc.evaluation.linear_evaluation(None, (x, y), (x, y), epochs=2, batch_size=32,
                                             learning_rate=0.4, optimizer=lars)
    assert len(made) == 1 and int(made[0].iterations) == 4
    assert isinstance(made[0]._learning_rate, kc.optimizers.schedules.LinearWarmupCosine)
    assert result.classifier.kernel.shape == (3, 2) and 0.0 <= result.accuracy <= 1.0


@pytest.mark.parametrize("kwargs, argument", [
    (dict(epochs=0), "epochs"), (dict(batch_size=0), "batch_size"),
    (dict(learning_rate=-1.0), "learning_rate"), (dict(weight_decay=-1.0), "weight_decay"),
])
def test_linear_evaluation_errors_name_the_argument(kwargs, argument):
    x, y = np.zeros((4, 2), "float32"), np.zeros(4, int)
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        kc.evaluation.linear_evaluation(None, (x, y), (x, y), **kwargs)
