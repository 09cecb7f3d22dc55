"""User workflows: batches as Keras makes them, from plain Keras constructs.

NumPy arrays of any length, `Dataset.batch(n)` without `drop_remainder`
(unknown batch dimension), custom `tf.function` loops, `sample_weight`,
misread pairs, uint8 images and two replicas -- never the package's own
pipelines, except where the item is about them (uint8 views).
"""

import json
import os
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
from subprocesses import run

L = kc.losses
HERE = os.path.dirname(__file__)

OBJECTIVES = {
    "info_nce": lambda: L.InfoNCE(0.5),
    "info_nce_gaussian": lambda: L.InfoNCE(1.0, similarity="gaussian"),
    "nt_xent": lambda: L.NTXent(0.5),
    "spectral": lambda: L.SpectralContrastive(),
    "barlow_twins": lambda: L.BarlowTwins(),
    "vicreg": lambda: L.VICReg(),
    "simsiam": lambda: L.SimSiam(),
    "byol": lambda: L.BYOL(momentum=0.9),
}
SIAMESE = ("simsiam", "byol")
NEEDS_TWO = [name for name in OBJECTIVES if name not in SIAMESE]
WHOLE_BATCH = ("barlow_twins", "vicreg")
PER_EXAMPLE = [name for name in OBJECTIVES if name not in WHOLE_BATCH]


def pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x + 0.1 * rng.normal(size=x.shape)).astype("float32")


def model_for(name, optimizer="sgd"):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(8)])
    model = kc.models.SiameseModel(
        encoder, head=kc.layers.ProjectionHead(4, hidden_dims=(8,), batch_norm=False),
        predictor=kc.layers.PredictionHead(4, hidden_dim=4, batch_norm=False)
        if name in SIAMESE else None)
    model.compile(optimizer=optimizer, loss=OBJECTIVES[name]())
    return model


def finite(model):
    return all(np.isfinite(w).all() for w in model.get_weights())


def steps(model):
    return int(model.optimizer.iterations.numpy())


# --- unknown batch dimension -------------------------------------------------

@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_dataset_batched_without_drop_remainder(name):
    """`Dataset.batch(64)` of 100 pairs: batch dimension None, last batch 36.
    The loss `evaluate` reports on one such batch equals the objective on the
    same embeddings with a static shape."""
    a, b = pairs(100)
    model = model_for(name)
    history = model.fit(tf.data.Dataset.from_tensor_slices(((a, b),)).batch(64), epochs=2,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all() and finite(model)
    assert steps(model) == 4  # 2 batches × 2 epochs: no step counted twice
    one_batch = tf.data.Dataset.from_tensor_slices(((a, b),)).batch(100)
    expected = float(model.loss(*model((a, b), training=False)))
    assert model.evaluate(one_batch, verbose=0) == pytest.approx(expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_numpy_fit_whose_size_is_not_a_multiple_of_the_batch(name):
    a, b = pairs(100)
    model = model_for(name)
    history = model.fit((a, b), batch_size=32, epochs=1, verbose=0)  # 32, 32, 32, 4
    assert np.isfinite(history.history["loss"]).all() and finite(model)
    assert steps(model) == 4


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_custom_loop_with_reduce_retracing(name):
    """A user's own loop: `tf.function(reduce_retracing=True)` retraces once
    with a batch dimension of None; values equal the eager ones."""
    loss = OBJECTIVES[name]()

    @tf.function(reduce_retracing=True)
    def step(z_a, z_b):
        return loss(z_a, z_b)

    for n in (8, 12, 16, 20):
        a, b = pairs(n, seed=n)
        assert float(step(a, b)) == pytest.approx(float(loss(a, b)), rel=1e-5, abs=1e-6)
    assert any(spec.shape[0] is None
               for function in step._list_all_concrete_functions()
               for spec in tf.nest.flatten(function.structured_input_signature)
               if hasattr(spec, "shape"))


# --- degenerate last batch ---------------------------------------------------

@pytest.mark.parametrize("name", NEEDS_TWO)
def test_arrays_leaving_a_last_batch_of_one_are_refused_before_training(name):
    """65 examples in batches of 16 leave one: refused at once, weights untouched."""
    a, b = pairs(65)
    model = model_for(name)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"65 examples in batches of 16 leave a last batch of "
                                         r"1 example.*at least 2 .*x\[:64\]"):
        model.fit((a, b), batch_size=16, epochs=1, verbose=0)
    assert steps(model) == 0
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", NEEDS_TWO)
def test_dataset_batch_of_one_is_skipped_with_a_warning(name):
    """`Dataset.batch(16)` of 65: the batch of one is skipped, with a warning
    naming its size and the fix; nothing turns NaN, no false "ran out of data"."""
    a, b = pairs(65)
    model = model_for(name)
    data = tf.data.Dataset.from_tensor_slices(((a, b),)).batch(16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data, epochs=2, verbose=0)
        value = model.evaluate(data, verbose=0)
    messages = [str(w.message) for w in caught]
    skipped = [m for m in messages if "skipped a batch of 1 example" in m]
    assert len(skipped) == 2 and "drop_remainder=True" in skipped[0], messages  # fit, evaluate
    assert not [m for m in messages if "ran out of data" in m]
    assert steps(model) == 8 and finite(model)
    assert np.isfinite(history.history["loss"]).all() and np.isfinite(value)


@pytest.mark.parametrize("name", NEEDS_TWO)
def test_objectives_refuse_a_batch_of_one(name):
    """Called directly: a static batch of one raises ValueError; an unknown
    one raises when the step runs, with the same message, before any update."""
    loss = OBJECTIVES[name]()
    one = np.ones((1, 4), "float32")
    with pytest.raises(ValueError, match="needs a batch of at least 2 examples"):
        loss(one, one)
    weights = tf.Variable(np.eye(4, dtype="float32"))
    optimizer = keras.optimizers.SGD(0.1)

    @tf.function(input_signature=[tf.TensorSpec((None, 4))] * 2)
    def step(a, b):
        with tf.GradientTape() as tape:
            value = loss(a @ weights, b @ weights)
        optimizer.apply_gradients([(tape.gradient(value, weights), weights)])
        return value

    with pytest.raises(tf.errors.InvalidArgumentError, match="needs a batch of at least 2"):
        step(one, one)
    np.testing.assert_array_equal(weights.numpy(), np.eye(4))
    assert np.isfinite(float(step(np.ones((3, 4), "float32"), np.ones((3, 4), "float32")) * 0))


@pytest.mark.parametrize("name", SIAMESE)
def test_per_example_siamese_objectives_train_on_a_batch_of_one(name):
    a, b = pairs(65)
    model = model_for(name)
    model.fit((a, b), batch_size=16, epochs=1, verbose=0)
    assert steps(model) == 5 and finite(model)


# --- empty data and validation data -----------------------------------------

def _ran_out(caught):
    return [str(w.message) for w in caught if "ran out of data" in str(w.message).lower()]


def test_an_empty_dataset_is_refused():
    """Cardinality 0 (`.batch(16)` of nothing): an error naming the argument,
    for the training and the validation data, before anything trains."""
    a, b = pairs(0)
    empty = tf.data.Dataset.from_tensor_slices(((a, b),)).batch(16)
    model = model_for("nt_xent")
    with pytest.raises(ValueError, match=r"argument `x`.*non-empty.*cardinality 0"):
        model.fit(empty, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"argument `validation_data`.*cardinality 0"):
        model.fit(pairs(64), batch_size=32, validation_data=empty, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"argument `x`.*cardinality 0"):
        model.evaluate(empty, verbose=0)
    assert steps(model) == 0


def test_a_dataset_that_yields_nothing_warns_that_the_input_ran_out():
    """Of unknown size and empty when read (a `filter` that keeps nothing):
    Keras' "ran out of data" is said once, after no training step ran."""
    a, b = pairs(64)
    nothing = tf.data.Dataset.from_tensor_slices(((a, b),)).filter(lambda v: False).batch(16)
    model = model_for("nt_xent")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(nothing, epochs=2, verbose=0)
    assert len(_ran_out(caught)) == 1 and "no training step" in _ran_out(caught)[0]
    assert steps(model) == 0


@pytest.mark.parametrize("name", ["nt_xent", "simsiam"])
def test_validation_data_batched_without_drop_remainder_warns_nothing(name):
    """100 validation pairs in batches of 32 (the last holds 4): validated
    every epoch without a false "ran out of data", as plain Keras does."""
    validation = tf.data.Dataset.from_tensor_slices((pairs(100, seed=1),)).batch(32)
    model = model_for(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(pairs(64), batch_size=32, validation_data=validation, epochs=3,
                            verbose=0)
    assert _ran_out(caught) == []
    assert len(history.history["val_loss"]) == 3
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(validation, verbose=0), rel=1e-5)


# --- sample_weight ---------------------------------------------------------

def _per_example(model, a, b):
    """Per-example losses of the model's objective on its outputs (no reduction)."""
    config = model.loss.get_config() | {"reduction": "none"}
    return type(model.loss).from_config(config)(*model((a, b), training=False)).numpy()


@pytest.mark.parametrize("name", PER_EXAMPLE)
def test_sample_weight_is_applied_for_arrays_and_datasets(name):
    """Keras' reduction: Σ wᵢ ℓᵢ / N, whether the weights come as
    `sample_weight=` with arrays or as `((a, b), None, w)` dataset elements."""
    a, b = pairs(64)
    w = np.random.default_rng(1).uniform(0.0, 2.0, 64).astype("float32")
    model = model_for(name)
    expected = float(np.sum(w * _per_example(model, a, b)) / 64)
    unweighted = model.evaluate((a, b), batch_size=64, verbose=0)
    arrays = model.evaluate((a, b), sample_weight=w, batch_size=64, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(((a, b), None, w)).batch(64)
    assert arrays == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert model.evaluate(dataset, verbose=0) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert abs(arrays - unweighted) > 1e-4


@pytest.mark.parametrize("name", PER_EXAMPLE)
def test_zero_sample_weights_move_nothing(name):
    a, b = pairs(64)
    model = model_for(name)
    before = model.get_weights()
    history = model.fit((a, b), sample_weight=np.zeros(64, "float32"), batch_size=32,
                        epochs=1, verbose=0)
    assert history.history["loss"][0] == 0.0
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_allclose(got, want, atol=1e-7)


@pytest.mark.parametrize("name", WHOLE_BATCH)
def test_whole_batch_objectives_refuse_sample_weight(name):
    a, b = pairs(64)
    model = model_for(name)
    w = np.ones(64, "float32")
    for call in (lambda: model.fit((a, b), sample_weight=w, verbose=0),
                 lambda: model.evaluate((a, b), sample_weight=w, verbose=0),
                 lambda: model.fit(tf.data.Dataset.from_tensor_slices(((a, b), None, w)).batch(8),
                                   verbose=0)):
        with pytest.raises(ValueError, match="whole-batch objective"):
            call()
    assert steps(model) == 0


# --- (view_a, view_b) read as (x, y) ------------------------------------------

@pytest.mark.parametrize("data", ["pair_dataset", "x_and_y", "labelled_dataset"])
def test_pairs_read_as_x_and_y_are_explained(data):
    a, b = pairs(32)
    model = model_for("nt_xent")
    calls = {
        "pair_dataset": lambda: model.fit(tf.data.Dataset.from_tensor_slices((a, b)).batch(8),
                                          verbose=0),
        "x_and_y": lambda: model.fit(x=a, y=b, verbose=0),
        "labelled_dataset": lambda: model.fit(
            tf.data.Dataset.from_tensor_slices(((a, b), np.zeros(32))).batch(8), verbose=0),
    }
    with pytest.raises(ValueError, match=r"read by Keras as \(inputs, targets\).*"
                                         r"ds\.map\(lambda a, b: \(\(a, b\),\)\)"):
        calls[data]()


def test_the_wrapped_pair_dataset_trains():
    a, b = pairs(32)
    model = model_for("nt_xent")
    data = tf.data.Dataset.from_tensor_slices((a, b)).batch(8).map(lambda a, b: ((a, b),))
    model.fit(data, verbose=0)
    assert steps(model) == 4


def test_compile_metrics_and_class_weight_are_explained():
    model = model_for("nt_xent")
    with pytest.raises(ValueError, match="argument `metrics`.*no targets.*SpectrumLogger"):
        model.compile(optimizer="sgd", loss=L.NTXent(), metrics=["mae"])
    a, b = pairs(32)
    with pytest.raises(ValueError, match="argument `class_weight`"):
        model.fit((a, b), class_weight={0: 1.0}, verbose=0)


def test_plain_model_compiled_with_a_kc_loss_is_explained():
    """A kc objective compiled into a plain one-output model gets y_true=None
    from Keras; the error says what the objective needs and what to use."""
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss=L.NTXent())
    with pytest.raises(ValueError, match=r"loss\(z_a, z_b\).*y_true=None.*SiameseModel"):
        model.fit(pairs(16)[0], epochs=1, verbose=0)


# --- uint8 images ------------------------------------------------------------

def test_two_views_scales_uint8_views_from_a_no_op_augmentation():
    images = np.full((8, 4, 4, 1), 255, np.uint8)
    (view_a, view_b), = next(iter(kc.data.two_views(images, lambda x, seed: x, batch_size=4)))
    for view in (view_a, view_b):
        assert view.dtype == tf.float32
        np.testing.assert_allclose(view.numpy(), 1.0)


def test_uint8_views_given_to_fit_warn_once():
    images = np.random.default_rng(0).integers(0, 256, (32, 4, 4, 1)).astype(np.uint8)
    encoder = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(4)])
    model = kc.models.SiameseModel(encoder)
    model.compile(optimizer="sgd", loss=L.NTXent())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit((images, images), batch_size=8, epochs=2, verbose=0)
    uint8 = [w for w in caught if "views are uint8" in str(w.message)]
    assert len(uint8) == 1 and "Rescaling(1 / 255)" in str(uint8[0].message)


# --- two replicas ------------------------------------------------------------

@pytest.fixture(scope="module")
def mirrored():
    completed = run([sys.executable, os.path.join(HERE, "_workflows_mirrored.py")],
                    cwd=os.path.dirname(HERE))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


@pytest.mark.parametrize("case", ["even/nt_xent", "even/vicreg", "even/byol",
                                  "uneven/nt_xent", "uneven/vicreg", "uneven/byol",
                                  "last_of_one/nt_xent"])
def test_unknown_batch_dimension_under_mirrored_strategy_matches_one_device(mirrored, case):
    """`.batch(64)` of 256 pairs; of 99 (last batch 35, split 18 + 17); of 65
    in 16s (the batch of 1 skipped on both): two replicas end with the
    weights of one device, after as many steps."""
    result = mirrored[case]
    assert result["gap"] < 1e-5, result
    assert result["steps"][0] == result["steps"][1]
    assert bool(result["warnings"]) == case.startswith("last_of_one")


def test_fixed_batch_that_cannot_split_fails_before_training(mirrored):
    result = mirrored["static_indivisible"]
    assert "33 is not divisible by the 2 replicas" in (result["error"] or "")
    assert result["unchanged"]
