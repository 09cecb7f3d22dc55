"""Tests of keras_collapse.models.SiameseModel: short fits per objective that
lower the loss without collapsing the embedding, save/load, the BYOL EMA
target, regularization losses, evaluate/predict and the encoder downstream."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
import reference as ref

L = kc.losses
N, D, EMBED = 512, 16, 8

# Objectives trained by `fit`, with their settings.
OBJECTIVES = {
    "infonce_dot": lambda: L.InfoNCE(temperature=0.5),
    "infonce_gaussian": lambda: L.InfoNCE(temperature=1.0, similarity="gaussian"),
    "ntxent": lambda: L.NTXent(temperature=0.5),
    "spectral": lambda: L.SpectralContrastive(),
    "barlow_twins": lambda: L.BarlowTwins(),
    "vicreg": lambda: L.VICReg(),
    "simsiam": lambda: L.SimSiam(),
    "byol": lambda: L.BYOL(momentum=0.99),
    "moco_v3": lambda: L.MoCoV3(temperature=0.2, momentum=0.99),
}
SIAMESE = ("simsiam", "byol", "moco_v3")
MOMENTUM_TARGET = ("byol", "moco_v3")

# Effective rank (Roy & Vetterli 2007) of the 8-d embeddings of the 512 clean
# points after the short fit must exceed this bound (the maximum is 8; a
# collapsed embedding has erank close to 1, a rank-k one at most k). Measured
# with seeds 0, 1 and 2: between 5.8 (SimSiam) and 7.7 (Barlow Twins); first ->
# last epoch losses fell by at least 8% (NT-Xent) and mostly by far more.
ERANK_BOUND = 4.0


def two_view_data(seed=0, n=N):
    """512 points of a 16-d standard Gaussian; each view adds N(0, 0.1²) noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    view_a = x + 0.1 * rng.normal(size=x.shape).astype("float32")
    view_b = x + 0.1 * rng.normal(size=x.shape).astype("float32")
    return x, view_a, view_b


def build_model(name, seed=0, batch_norm=True, loss=None, lr=3e-3):
    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential([
        keras.Input((D,)),
        keras.layers.Dense(32, activation="relu", name="enc_dense_0"),
        keras.layers.Dense(16, name="enc_dense_1"),
    ], name="encoder")
    head = kc.layers.ProjectionHead(EMBED, hidden_dims=(32,), batch_norm=batch_norm)
    predictor = (kc.layers.PredictionHead(EMBED, hidden_dim=16, batch_norm=batch_norm)
                 if name in SIAMESE else None)
    model = kc.models.SiameseModel(encoder, head=head, predictor=predictor)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=loss if loss is not None else OBJECTIVES[name]())
    return model


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_fit_lowers_loss_without_collapse(name):
    x, view_a, view_b = two_view_data()
    model = build_model(name)
    history = model.fit((view_a, view_b), epochs=6, batch_size=128, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    z = model.embed(x).numpy()
    assert z.shape == (N, EMBED)
    erank = ref.effective_rank(z)
    assert erank > ERANK_BOUND, erank

    # evaluate and predict on two-view data
    value = model.evaluate((view_a, view_b), batch_size=128, verbose=0)
    assert np.isfinite(value)
    out_a, out_b = model.predict((view_a, view_b), batch_size=128, verbose=0)
    if name in SIAMESE:
        (p_a, t_a), (p_b, t_b) = out_a, out_b
        assert p_a.shape == t_a.shape == p_b.shape == t_b.shape == (N, EMBED)
        out_a, out_b = t_a, t_b
    assert out_a.shape == out_b.shape == (N, EMBED)
    if name in MOMENTUM_TARGET:  # targets come from the EMA target network
        expected = model.embed_target(view_a)
    else:
        expected = model.embed(view_a)
    np.testing.assert_allclose(out_a, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_encoder_is_usable_downstream():
    """A linear probe on the frozen trained encoder learns a linear label."""
    x, view_a, view_b = two_view_data()
    model = build_model("ntxent")
    model.fit((view_a, view_b), epochs=1, batch_size=128, verbose=0)
    features = model.encoder.predict(x, verbose=0)
    assert features.shape == (N, 16)
    np.testing.assert_allclose(model.head(features, training=False).numpy(),
                               model.embed(x).numpy(), rtol=1e-5, atol=1e-6)
    model.encoder.trainable = False
    probe = keras.Sequential([model.encoder, keras.layers.Dense(1)])
    probe.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    y = x[:, :1] - x[:, 1:2]
    history = probe.fit(x, y, epochs=10, batch_size=128, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    np.testing.assert_allclose(model.encoder.predict(x, verbose=0), features, rtol=1e-6)


@pytest.mark.parametrize("name", ["ntxent", "simsiam"])
def test_save_load_gives_same_embeddings(name, tmp_path):
    x, view_a, view_b = two_view_data()
    model = build_model(name)
    model.fit((view_a, view_b), epochs=1, batch_size=128, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kc.models.SiameseModel)
    assert type(loaded.loss) is type(model.loss)
    np.testing.assert_allclose(loaded.embed(x).numpy(), model.embed(x).numpy(),
                               rtol=1e-5, atol=1e-6)
    for a, b in zip(model.predict((view_a, view_b), verbose=0),
                    loaded.predict((view_a, view_b), verbose=0)):
        for u, v in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
            np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)


def _values(variables):
    return [v.numpy().copy() for v in variables]


def test_byol_target_moves_by_ema():
    """With constant momentum m = 0.9, after one optimizer step every target
    variable equals m·old_target + (1 − m)·new_online (no BatchNorm, so the
    target's forward pass changes no variable)."""
    _, view_a, view_b = two_view_data(n=64)
    model = build_model("byol", batch_norm=False, loss=L.BYOL(momentum=0.9), lr=0.05)
    online, target = model._online_variables(), model._target_variables()
    assert len(online) == len(target) > 0
    before = _values(target)
    for t, o in zip(before, _values(online)):
        np.testing.assert_array_equal(t, o)  # the target starts as a copy
    model.fit((view_a, view_b), epochs=1, batch_size=64, verbose=0)
    new_online = _values(online)
    assert any(np.max(np.abs(a - b)) > 1e-4 for a, b in zip(new_online, before))
    for t_new, t_old, o_new in zip(_values(target), before, new_online):
        np.testing.assert_allclose(t_new, 0.9 * t_old + 0.1 * o_new, rtol=1e-5, atol=1e-7)
    # and the target, not the online network, provides the targets
    (_, t_a), _ = model((view_a, view_b), training=False)
    target_z = model.embed_target(view_a)
    np.testing.assert_allclose(t_a.numpy(), target_z.numpy(), rtol=1e-6)
    assert np.max(np.abs(t_a.numpy() - model.embed(view_a).numpy())) > 1e-5


def test_byol_save_load_keeps_target_weights(tmp_path):
    x, view_a, view_b = two_view_data()
    model = build_model("byol", loss=L.BYOL(momentum=0.9), lr=0.01)
    model.fit((view_a, view_b), epochs=2, batch_size=128, verbose=0)
    saved_target = _values(model._target_variables())
    saved_online = _values(model._online_variables())
    # the target has diverged from the online network
    assert max(np.max(np.abs(a - b)) for a, b in zip(saved_target, saved_online)) > 1e-3
    path = str(tmp_path / "byol.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.target.initialized
    assert isinstance(loaded.loss, L.BYOL) and loaded.loss.momentum == 0.9
    for got, want in zip(_values(loaded._target_variables()), saved_target):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    for got, want in zip(_values(loaded._online_variables()), saved_online):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(loaded.embed(x).numpy(), model.embed(x).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_regularization_losses_are_in_the_training_loss():
    """Same weights with and without WERank on the encoder: compute_loss, fit
    (learning rate 0, so nothing moves) and evaluate all report the SSL loss
    plus Σ α‖WᵀW − I‖_F over the encoder's kernels."""
    _, view_a, view_b = two_view_data(n=128)
    plain = build_model("ntxent", loss=L.NTXent(0.5))
    regular = build_model("ntxent", loss=L.NTXent(0.5))
    regular.set_weights(plain.get_weights())
    kc.regularizers.attach_werank(regular.encoder, 0.5)
    penalty = sum(ref.werank(layer.kernel.numpy(), 0.5) for layer in regular.encoder.layers)
    assert penalty > 0.5

    y_pred = plain((view_a, view_b), training=False)
    base = float(plain.compute_loss(y_pred=y_pred))
    total = float(regular.compute_loss(y_pred=regular((view_a, view_b), training=False)))
    assert total == pytest.approx(base + penalty, rel=1e-5)

    for model in (plain, regular):
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss=L.NTXent(0.5))
    fit_plain = plain.fit((view_a, view_b), epochs=1, batch_size=128, verbose=0)
    fit_regular = regular.fit((view_a, view_b), epochs=1, batch_size=128, verbose=0)
    assert fit_regular.history["loss"][0] == pytest.approx(
        fit_plain.history["loss"][0] + penalty, rel=1e-4)
    eval_plain = plain.evaluate((view_a, view_b), batch_size=128, verbose=0)
    eval_regular = regular.evaluate((view_a, view_b), batch_size=128, verbose=0)
    assert eval_regular == pytest.approx(eval_plain + penalty, rel=1e-4)


def test_bad_inputs_raise():
    _, view_a, _ = two_view_data(n=8)
    model = build_model("ntxent")
    model((view_a, view_a))  # built
    with pytest.raises(ValueError, match="argument `inputs`"):
        model(view_a)
    with pytest.raises(ValueError, match="argument `inputs`.*length 3"):
        model((view_a, view_a, view_a))
    with pytest.raises(ValueError, match="same shape"):
        model((view_a, view_a[:, :8]))
    with pytest.raises(ValueError, match="argument `loss`.*predictor"):
        build_model("ntxent", loss=L.BYOL())
    bare = kc.models.SiameseModel(build_model("ntxent").encoder)
    with pytest.raises(ValueError, match="No loss"):
        bare.compute_loss(y_pred=(view_a, view_a))


def test_config_round_trip():
    model = build_model("simsiam")
    restored = kc.models.SiameseModel.from_config(model.get_config())
    assert isinstance(restored.head, kc.layers.ProjectionHead)
    assert isinstance(restored.predictor, kc.layers.PredictionHead)
    assert restored.head.get_config() == model.head.get_config()
    assert restored.predictor.get_config() == model.predictor.get_config()
