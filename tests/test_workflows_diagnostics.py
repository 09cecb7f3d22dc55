"""User workflows: collapse diagnostics and the NaN guard on real inputs.

Probe data as users have it (a `.repeat()` dataset, unbatched examples, the
training two-view dataset itself), `steps_per_execution`, a NaN pixel in the
images, a last batch of one -- built from plain Keras and tf.data.
"""

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

import keras_collapse as kc

IMAGES = kc.data.digits()[0][:256]


def conv_encoder():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D()])


def siamese(loss=None, optimizer="adam", encoder=None):
    keras.utils.set_random_seed(0)
    model = kc.models.SiameseModel(encoder or conv_encoder(),
                                   head=kc.layers.ProjectionHead(4, hidden_dims=(8,)))
    model.compile(optimizer=optimizer, loss=loss or kc.losses.NTXent())
    return model


def two_view_dataset(images=IMAGES, batch=64):
    return tf.data.Dataset.from_tensor_slices(((images, images),)).batch(batch)


PROBES = {
    "repeated": lambda: tf.data.Dataset.from_tensor_slices(IMAGES).batch(32).repeat(),
    "unbatched": lambda: tf.data.Dataset.from_tensor_slices(IMAGES),
    "two_view": two_view_dataset,
    "labelled_unbatched": lambda: tf.data.Dataset.from_tensor_slices((IMAGES, np.zeros(256))),
}


def _within(seconds, function):
    """`function()`'s result, failing (not hanging) if it takes longer."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(value=function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not return within {seconds} s"
    return out["value"]


@pytest.mark.parametrize("probe", list(PROBES))
def test_spectrum_logger_takes_a_bounded_probe_from_any_dataset(tmp_path, probe):
    model = siamese()
    logger = _within(60, lambda: kc.callbacks.SpectrumLogger(PROBES[probe](), tmp_path,
                                                             max_examples=100))
    history = _within(120, lambda: model.fit(two_view_dataset(), epochs=1, verbose=0,
                                             callbacks=[logger]))
    assert logger.probe_data.shape == (100, 8, 8, 1)
    np.testing.assert_array_equal(logger.probe_data, IMAGES[:100])
    assert np.isfinite(history.history["collapse/representation/effective_rank"]).all()


@pytest.mark.parametrize("probe", list(PROBES))
def test_spectrum_report_takes_any_dataset(probe):
    model = siamese()
    report = _within(60, lambda: kc.metrics.spectrum_report(model, PROBES[probe](),
                                                            max_examples=100))
    assert report.num_samples == 100
    expected = kc.metrics.spectrum_report(model, IMAGES[:100])
    np.testing.assert_allclose(report.eigenvalues, expected.eigenvalues, rtol=1e-4, atol=1e-8)


def test_spectrum_report_of_an_infinite_dataset_asks_for_a_bound():
    with pytest.raises(ValueError, match=r"max_examples=N.*infinite tf.data.Dataset"):
        kc.metrics.spectrum_report(siamese(), PROBES["repeated"]())


def test_step_cadence_counts_optimizer_steps_under_steps_per_execution(tmp_path):
    """every_n_steps=2 with compile(steps_per_execution=4): Keras calls back
    after steps 4 and 8; the logger logs at both, labelled 4 and 8."""
    model = siamese()
    model.compile(optimizer="adam", loss=kc.losses.NTXent(), steps_per_execution=4)
    logger = kc.callbacks.SpectrumLogger(IMAGES[:64], tmp_path, every_n_steps=2,
                                         include_weights=False)
    model.fit(two_view_dataset(IMAGES, batch=32), epochs=1, verbose=0, callbacks=[logger])
    events = event_accumulator.EventAccumulator(
        str(tmp_path), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    logged = [e.step for e in events.Tensors("collapse/embedding/effective_rank")]
    assert logged == [4, 8]


def masking_encoder():
    """Conv2D, non-finite activations set to 0 (`keras.ops.where`), then ReLU.

    With a NaN pixel the forward pass is finite but the kernel's gradient is
    not: positions masked to 0 still multiply the NaN pixel in the filter
    gradient (0 · NaN). The same on every CPU, and what oneDNN's fused
    Conv2D + ReLU does by itself where TensorFlow enables oneDNN.
    """
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
        keras.layers.Lambda(lambda h: keras.ops.where(keras.ops.isfinite(h), h, 0.0)),
        keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()])


def _nan_pixel():
    images = IMAGES.copy()
    images[3, 4, 4, 0] = np.nan
    return images


NAN_WEIGHTS = (r"(?s)Non-finite weights at the end of epoch 1.*while the training "
               r"loss stayed finite.*NaN/Inf in the inputs.*np.isfinite")


def test_guard_notices_nan_weights_while_the_loss_stays_finite():
    """One NaN pixel through a forward pass that drops it: the loss stays
    finite while the kernel turns NaN. The default guard stops at the end of
    the epoch."""
    images = _nan_pixel()
    unguarded = siamese(encoder=masking_encoder())
    history = unguarded.fit((images, images), batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.isfinite(unguarded.encoder.layers[0].kernel.numpy()).all()
    with pytest.raises(kc.guards.NonFiniteLossError, match=NAN_WEIGHTS):
        siamese(encoder=masking_encoder()).fit((images, images), batch_size=64, epochs=2,
                                               verbose=0, callbacks=[kc.guards.NonFiniteGuard()])


def _onednn_enabled():
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # moved in another TensorFlow: assume the default is unknown
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


@pytest.mark.skipif(not _onednn_enabled(),
                    reason="oneDNN is off (TensorFlow enables it by default only on some "
                           "CPUs, e.g. with AVX-512): a NaN pixel makes the loss NaN")
def test_onednn_fused_conv_relu_drops_a_nan_pixel_from_the_loss_only():
    """Where oneDNN runs, a plain Conv2D(activation="relu") behaves as the
    masking encoder above: finite loss, NaN kernel, caught by the guard."""
    images = _nan_pixel()
    unguarded = siamese()
    history = unguarded.fit((images, images), batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not all(np.isfinite(w).all() for w in unguarded.get_weights())
    with pytest.raises(kc.guards.NonFiniteLossError, match=NAN_WEIGHTS):
        siamese().fit((images, images), batch_size=64, epochs=2, verbose=0,
                      callbacks=[kc.guards.NonFiniteGuard()])


@keras.saving.register_keras_serializable(package="workflow_tests")
class UnbiasedSpread(keras.losses.Loss):
    """A user's own whole-batch objective: NaN on a batch of one (n − 1 = 0)."""

    def call(self, z_a, z_b):
        n = tf.cast(tf.shape(z_a)[0], z_a.dtype)
        spread = tf.reduce_sum(tf.square(z_a - tf.reduce_mean(z_a, 0)), 0) / (n - 1.0)
        return tf.reduce_mean(tf.square(z_a - z_b)) + tf.reduce_mean(tf.nn.relu(1.0 - spread))


def test_guard_names_a_batch_of_one_as_the_cause():
    images = IMAGES[:65]
    model = siamese(UnbiasedSpread())
    with pytest.raises(kc.guards.NonFiniteLossError,
                       match=r"(?s)epoch 1, batch 5\).*the failing batch held 1 example.*"
                             r"drop_remainder=True"):
        model.fit(tf.data.Dataset.from_tensor_slices(((images, images),)).batch(16), epochs=1,
                  verbose=0, callbacks=[kc.guards.NonFiniteGuard()])
    assert model.last_batch_size == 1
