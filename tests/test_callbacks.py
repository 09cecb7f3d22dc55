"""Tests of keras_collapse.callbacks.SpectrumLogger, read back with TensorBoard's reader."""

import csv
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

import keras_collapse as kc
from keras_collapse import metrics as km
from keras_collapse.callbacks import FLAGS, SCALARS, SpectrumLogger

SCALAR_KEYS = set(SCALARS)


def read_events(log_dir):
    acc = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={event_accumulator.TENSORS: 0,
                                     event_accumulator.IMAGES: 0,
                                     event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def tensor_values(acc, tag):
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def alerts(acc, tag):
    """(step, text) of the text events under `tag`."""
    return [(e.step, tf.make_ndarray(e.tensor_proto).item().decode()) for e in acc.Tensors(tag)]


class Siamese(keras.Model):
    """Duck-typed stand-in for kc.models.SiameseModel: encoder + head, MSE to zero."""

    def __init__(self, head=True):
        super().__init__()
        self.encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="h1"),
                                         keras.layers.Dense(5, name="rep")], name="enc")
        self.head = (keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, name="proj")],
                                      name="head") if head else None)

    def call(self, x, training=False):
        z = self.encoder(x, training=training)
        return self.head(z, training=training) if self.head is not None else z


def data(n=64, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 6)).astype(np.float32)
    return x, np.zeros((n, 4), np.float32)


def test_siamese_default_outputs_tags_and_values(tmp_path):
    keras.utils.set_random_seed(0)
    model = Siamese()
    model.compile("sgd", "mse")
    x, y = data()
    probe = x[:40]
    logger = SpectrumLogger(probe, tmp_path, images_every_n_logs=2)
    csv_path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[logger, keras.callbacks.CSVLogger(str(csv_path))])
    events = read_events(tmp_path)
    tags = events.Tags()
    # the flags (always 0 here) are not charts: text events only when they fire
    expected_scalars = {f"collapse/{o}/{k}" for o in ("representation", "embedding")
                        for k in SCALAR_KEYS - set(FLAGS)} | {
                            "collapse/weights/alignment_score", "collapse/loss"}
    expected_images = {"collapse/representation/spectrum", "collapse/embedding/spectrum",
                       "collapse/weights/singular_values", "collapse/weights/alignment"}
    expected_hist = {"collapse/representation/log_eigenvalues",
                     "collapse/embedding/log_eigenvalues"}
    # tf.summary v2 writes scalars, images and histograms as tensors
    assert set(tags["tensors"]) == expected_scalars | expected_images | expected_hist
    # values equal the metrics computed directly on the final model
    z_emb = model.head(model.encoder(probe)).numpy()
    direct = km.scalar_metrics(z_emb)
    for key in ("effective_rank", "rankme", "auc", "collapsed_dims", "normalized_std"):
        (step, value), = [sv for sv in tensor_values(events, f"collapse/embedding/{key}")
                          if sv[0] == 2]
        assert value == pytest.approx(direct[key], rel=1e-5)
        assert history.history[f"collapse/embedding/{key}"][-1] == pytest.approx(value, rel=1e-6)
    assert [s for s, _ in tensor_values(events, "collapse/embedding/auc")] == [0, 1, 2]
    # the training loss beside them: each epoch's loss, as History has it
    assert [v for _, v in tensor_values(events, "collapse/loss")] == pytest.approx(
        history.history["loss"], rel=1e-6)
    assert "x axis: epochs" in events.SummaryMetadata("collapse/embedding/auc").summary_description
    score = np.mean([km.alignment_score(a)
                     for a in km.alignment_matrices([model.encoder, model.head]).values()])
    assert tensor_values(events, "collapse/weights/alignment_score")[-1][1] == pytest.approx(score, rel=1e-5)
    # images at log events 0 and 2 (every 2nd log); PNG decodes
    image_events = events.Tensors("collapse/embedding/spectrum")
    assert [e.step for e in image_events] == [0, 2]
    png = tf.make_ndarray(image_events[-1].tensor_proto)[2]
    assert png[:4] == b"\x89PNG"
    assert tf.io.decode_png(png).shape[-1] in (3, 4)
    hist = events.Tensors("collapse/embedding/log_eigenvalues")
    assert len(hist) == 3
    metadata = events.SummaryMetadata("collapse/embedding/log_eigenvalues")
    assert metadata.plugin_data.plugin_name == "histograms"
    buckets = tf.make_ndarray(hist[-1].tensor_proto)  # (left, right, count) rows
    assert buckets.shape == (30, 3)
    assert buckets[:, 2].sum() == z_emb.shape[1]  # one count per eigenvalue
    log_eigs = km.log_spectrum(km.covariance_spectrum(z_emb))
    assert buckets[0, 0] == pytest.approx(log_eigs.min(), rel=1e-4, abs=1e-4)
    assert buckets[-1, 1] == pytest.approx(log_eigs.max(), rel=1e-4, abs=1e-4)
    with open(csv_path) as f:
        header = next(csv.reader(f))
    assert "collapse/embedding/effective_rank" in header


def test_plain_model_step_cadence_and_layer_names(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(7, name="a"),
                              keras.layers.Dense(3, name="b")])
    model.compile("sgd", "mse")
    x, y = data()
    logger = SpectrumLogger(tf.data.Dataset.from_tensor_slices((x, y)).batch(10), tmp_path,
                            layers=["a", "b"], every_n_steps=3, prefix="c", include_weights=False)
    history = model.fit(x, y[:, :3], epochs=2, batch_size=16, verbose=0, callbacks=[logger])
    events = read_events(tmp_path)
    # 4 steps per epoch → steps 3, 6
    assert [s for s, _ in tensor_values(events, "c/a/effective_rank")] == [3, 6]
    assert "x axis: optimizer steps" in events.SummaryMetadata("c/a/auc").summary_description
    assert not any(t.startswith("c/weights") for t in events.Tags()["tensors"])
    # images written at first log and at train end
    assert [e.step for e in events.Tensors("c/b/spectrum")] == [3, 6]
    assert "c/b/auc" in history.history


def test_step_cadence_loss_is_the_mean_since_the_previous_point(tmp_path):
    """With learning rate 0 each batch's loss is the MSE of the fixed model on
    it: at step 3 the mean of batches 0-2, at step 6 (2 steps into the second
    epoch, where Keras' running mean restarts) the mean of batches 0-1."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x, y = data()
    model.fit(x, y[:, :3], epochs=2, batch_size=16, shuffle=False, verbose=0,
              callbacks=[SpectrumLogger(x, tmp_path, every_n_steps=3, include_weights=False)])
    out = model.predict(x, verbose=0)
    batch_loss = [np.mean((out[i:i + 16] - y[i:i + 16, :3]) ** 2) for i in range(0, 64, 16)]
    values = tensor_values(read_events(tmp_path), "collapse/loss")
    assert [s for s, _ in values] == [3, 6]
    assert [v for _, v in values] == pytest.approx(
        [np.mean(batch_loss[:3]), np.mean(batch_loss[:2])], rel=1e-5)


def test_every_tag_is_under_the_name_scope(tmp_path):
    """Inside `tf.name_scope` (the studies' shared TensorBoard run) every
    summary, the raw histograms included, is under the scope's name."""
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    x, y = data()
    with tf.name_scope("unit_a"):
        model.fit(x, y[:, :3], epochs=1, verbose=0, callbacks=[SpectrumLogger(x, tmp_path)])
    tags = read_events(tmp_path).Tags()["tensors"]
    assert "unit_a/collapse/output/log_eigenvalues" in tags
    assert tags and all(tag.startswith("unit_a/collapse/") for tag in tags), tags


def test_early_stopping_monitors_collapse_metric(tmp_path):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    x, y = data()
    stop = keras.callbacks.EarlyStopping(monitor="collapse/output/effective_rank", mode="max",
                                         patience=0, min_delta=10.0)
    history = model.fit(x, y[:, :3], epochs=5, verbose=0,
                        callbacks=[SpectrumLogger(x, tmp_path), stop])
    assert len(history.history["loss"]) == 2


def test_nan_embeddings_warn_and_flag(tmp_path, caplog):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    x, y = data()
    probe = x.copy()
    probe[0, 0] = np.nan
    with caplog.at_level(logging.WARNING):
        history = model.fit(x, y[:, :3], epochs=1, verbose=0,
                            callbacks=[SpectrumLogger(probe, tmp_path)])
    assert "non-finite" in caplog.text
    assert history.history["collapse/output/nonfinite"] == [1.0]
    assert np.isnan(history.history["collapse/output/effective_rank"][0])
    events = read_events(tmp_path)
    assert "collapse/output/nonfinite" not in events.Tags()["tensors"]
    assert alerts(events, "collapse/output/alerts") == [
        # one NaN input reaches the 3 outputs of its row
        (0, "nonfinite: 3 non-finite values (NaN/Inf) in the probe embeddings at epoch 0")]


def test_complete_collapse_detected(tmp_path, caplog):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, kernel_initializer="zeros",
                                                                    bias_initializer="ones")])
    model.compile("sgd", "mse")  # lr 0 below: weights stay, every embedding is (1, 1, 1, 1)
    model.optimizer.learning_rate = 0.0
    x, y = data()
    with caplog.at_level(logging.WARNING):
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[SpectrumLogger(x, tmp_path)])
    assert "complete collapse" in caplog.text
    assert history.history["collapse/output/complete_collapse"] == [1.0]
    assert history.history["collapse/output/collapsed_dims"] == [4.0]
    events = read_events(tmp_path)
    assert "collapse/output/complete_collapse" not in events.Tags()["tensors"]
    assert [step for step, text in alerts(events, "collapse/output/alerts")
            if text.startswith("complete_collapse: all probe embeddings are equal")] == [0]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"argument `probe_data`.*non-empty"):
        SpectrumLogger(np.zeros((0, 6), np.float32), tmp_path)
    with pytest.raises(ValueError, match=r"argument `every_n_epochs`"):
        SpectrumLogger(np.zeros((2, 6)), tmp_path, every_n_epochs=0)
    model = Siamese()
    model.compile("sgd", "mse")
    x, y = data(8)
    logger = SpectrumLogger(x, tmp_path, layers=["representation", "missing"])
    with pytest.raises(ValueError, match=r"argument `layer`.*\['h1', 'rep'\].*missing"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])


def test_under_mirrored_strategy(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = Siamese(head=False)
        model.compile("sgd", "mse")
    x, _ = data(32)
    history = model.fit(x, np.zeros((32, 5), np.float32), epochs=2, batch_size=8, verbose=0,
                        callbacks=[SpectrumLogger(x, tmp_path, layers=["representation"])])
    assert len(history.history["collapse/representation/auc"]) == 2
    events = read_events(tmp_path)
    assert len(events.Tensors("collapse/representation/auc")) == 2


def test_spectra_history_records_kernels_and_embeddings_at_the_steps():
    """SpectraHistory keeps, at step 0, each multiple of every_n_steps (the first
    call-back at or after it under steps_per_execution) and the end: the
    singular values of each kernel (NumPy SVD of W = Kᵀ) and the covariance
    eigenvalues of the probe embeddings (NumPy, from the paper's definition)."""
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False),
                                keras.layers.Dense(2, use_bias=False)])
    model = kc.models.SiameseModel(encoder)
    model.compile(keras.optimizers.SGD(0.01), kc.losses.VICReg(), steps_per_execution=4)
    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    spectra = kc.callbacks.SpectraHistory(x[:16], every_n_steps=3)
    model.fit((x, x + 0.1), batch_size=4, epochs=1, verbose=0, callbacks=[spectra])
    assert spectra.history["step"] == [0, 4, 8, 10]
    first, second = (layer.kernel.numpy() for layer in encoder.layers)
    np.testing.assert_allclose(spectra.history["sv"][-1][0],
                               np.linalg.svd(first.T, compute_uv=False), rtol=1e-5)
    np.testing.assert_allclose(spectra.history["sv"][-1][1],
                               np.linalg.svd(second.T, compute_uv=False), rtol=1e-5)
    z = np.asarray(encoder(x[:16]), np.float64)
    expected = np.sort(np.linalg.eigvalsh(np.cov(z.T, bias=True)))[::-1]
    np.testing.assert_allclose(spectra.history["eig"][-1], expected, rtol=1e-4, atol=1e-9)
    assert len(spectra.history["alignment"][-1]) == 1
    with pytest.raises(ValueError, match="argument `probe_data`"):
        kc.callbacks.SpectraHistory(x[:1])
