"""Tests of kc.callbacks.OnlineKNN: its accuracy against a NumPy weighted kNN
written here, epoch logs seen by Keras' own callbacks (EarlyStopping,
CSVLogger), TensorBoard scalars, dataset inputs, caps and errors."""

import csv
import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

OnlineKNN = kc.callbacks.OnlineKNN


def numpy_weighted_knn(train_x, train_y, test_x, test_y, k, temperature):
    """Wu et al. 2018: each test point sums exp(cos/T) over its k most
    cosine-similar training points, per class; top-1 accuracy."""
    a = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    b = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    correct = 0
    for row, label in zip(b @ a.T, test_y):
        top = np.argsort(-row)[:k]
        votes = {}
        for j in top:
            votes[train_y[j]] = votes.get(train_y[j], 0.0) + np.exp(row[j] / temperature)
        correct += max(votes, key=votes.get) == label
    return correct / len(test_y)


def data(seed=0, n=96, dim=8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = rng.normal(size=(3, dim)) * 1.5
    x = (centres[y] + rng.normal(size=(n, dim))).astype("float32")
    return x, y


def model(learning_rate=0.05):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, name="dense")])
    siamese = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
    siamese.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=kc.losses.NTXent(0.5))
    return siamese


def test_logged_accuracy_is_the_weighted_knn_of_the_encoder():
    x, y = data()
    siamese = model()
    knn = OnlineKNN((x[:64], y[:64]), (x[64:], y[64:]), k=7, temperature=0.2)
    history = siamese.fit((x, x + 0.05), batch_size=32, epochs=2, verbose=0, callbacks=[knn])
    features = siamese.encoder.predict(x, verbose=0)
    expected = numpy_weighted_knn(features[:64], y[:64], features[64:], y[64:], 7, 0.2)
    assert history.history["knn_accuracy"][-1] == pytest.approx(expected)
    assert expected > 0.6  # separable clusters: a real signal, not chance (1/3)
    assert knn.last_seconds > 0


def test_every_n_epochs_with_keras_callbacks(tmp_path):
    """Logged after epochs 1 (always: CSVLogger takes its header from the
    first epoch), 2 and 4; CSVLogger writes NA on epoch 3; EarlyStopping
    monitoring it stops a run whose accuracy cannot improve (learning rate 0)."""
    x, y = data(1)
    knn = OnlineKNN((x[:64], y[:64]), (x[64:], y[64:]), k=5, every_n_epochs=2)
    path = str(tmp_path / "log.csv")
    model().fit((x, x), batch_size=32, epochs=4, verbose=0,
                callbacks=[knn, keras.callbacks.CSVLogger(path)])
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["knn_accuracy"] == "NA" for row in rows] == [False, False, True, False]

    stop = keras.callbacks.EarlyStopping(monitor="knn_accuracy", mode="max", patience=1)
    history = model(learning_rate=0.0).fit(
        (x, x), batch_size=32, epochs=10, verbose=0,
        callbacks=[OnlineKNN((x[:64], y[:64]), (x[64:], y[64:]), k=5), stop])
    assert len(history.history["loss"]) == 2


def test_datasets_caps_probe_and_tensorboard(tmp_path):
    x, y = data(2)
    train = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(10)  # last batch 4
    test = tf.data.Dataset.from_tensor_slices((x[64:], y[64:]))  # unbatched
    knn = OnlineKNN(train, test, k=3, linear_probe=True, log_dir=str(tmp_path),
                    max_train_examples=40, max_test_examples=20)
    siamese = model()
    history = siamese.fit((x, x + 0.05), batch_size=32, epochs=1, verbose=0, callbacks=[knn])
    features = siamese.encoder.predict(x, verbose=0)
    expected = numpy_weighted_knn(features[:40], y[:40], features[64:84], y[64:84], 3, 0.1)
    assert history.history["knn_accuracy"][0] == pytest.approx(expected)
    assert 0.0 <= history.history["linear_probe_accuracy"][0] <= 1.0
    tags = {}
    for path in glob.glob(str(tmp_path / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags[value.tag] = float(tf.make_ndarray(value.tensor))
    assert tags["knn_accuracy"] == pytest.approx(expected)
    assert "linear_probe_accuracy" in tags


def test_explicit_encoder_for_a_plain_keras_model():
    x, y = data(3)
    net = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    net.compile("sgd", "mse")
    features = keras.Sequential([keras.Input((8,)), keras.layers.Identity()])
    knn = OnlineKNN((x[:64], y[:64]), (x[64:], y[64:]), k=5, encoder=features)
    history = net.fit(x, x[:, :3], epochs=1, verbose=0, callbacks=[knn])
    expected = numpy_weighted_knn(x[:64], y[:64], x[64:], y[64:], 5, 0.1)
    assert history.history["knn_accuracy"][0] == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs,argument,error",
    [
        (dict(k=0), "k", ValueError),
        (dict(temperature=0.0), "temperature", ValueError),
        (dict(every_n_epochs=0), "every_n_epochs", ValueError),
        (dict(max_train_examples=0), "max_train_examples", ValueError),
        (dict(train_data=np.zeros((4, 8))), "train_data", TypeError),
        (dict(test_data=(np.zeros((4, 8)), np.zeros(3))), "test_data", ValueError),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, argument, error):
    x, y = data()
    arguments = {"train_data": (x, y), "test_data": (x, y), **kwargs}
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        OnlineKNN(**arguments)
