"""Study werank2023 (Saheb Pasand et al. 2023, arXiv 2402.09586, Figs. 1-5)."""

import glob

import keras
import numpy as np
import pytest

import keras_collapse as kc
from studytools import check_artifacts, run_study
from keras_collapse.studies import _toy

SMALL = [
    "werank2023.steps = 30",
    "werank2023.depth_steps = 30",
    "werank2023.record_every = 15",
    "werank2023.num_samples = 64",
    "werank2023.depths = (1, 2)",
    "werank2023.ks = (0.1, 4.0)",
    "werank2023.num_seeds = 2",
]


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("werank2023", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 5, ("fig1_vicreg.png", "fig1_vicreg_werank.png", "fig4_infonce.png", "fig5_ema_werank.png", "fig2_depths.png", "fig3_augmentation_sweep.png"))
    assert glob.glob(str(tmp_path / "tensorboard" / "ema_L=2_k=0.1_WERank" / "events.*"))


def test_werank_penalty_enters_the_objective():
    """With WERank the training loss adds α‖WᵀW − I‖_F per kernel (here W = 2I:
    α·‖3I‖_F), through SiameseModel.fit (SGD at lr 0: the first step's loss)."""
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    loss = kc.losses.VICReg(10.0, 10.0, 1.0)

    def first_loss(werank):
        model = _toy.linear_net(1, 3, init="glorot", werank=werank)
        model.layers[0].kernel.assign(2.0 * np.eye(3, dtype="float32"))
        objective = _toy.pair_objective(model, loss)
        objective.siamese.compile(keras.optimizers.SGD(0.0), loss)
        return objective.siamese.fit((x, x), batch_size=8, verbose=0).history["loss"][0]

    np.testing.assert_allclose(first_loss(0.1) - first_loss(0.0), 0.1 * np.sqrt(27.0),
                               rtol=1e-5)


def test_ema_objective_is_byol_with_an_identity_predictor():
    """The EMA model: BYOL's loss and momentum target, a bias-free identity
    predictor; after training the target lags the student (θ̄ ≠ θ)."""
    model = _toy.linear_net(1, 2, init="glorot")
    objective = _toy.ema_objective(model, momentum=0.5)
    assert isinstance(objective.loss, kc.losses.BYOL) and objective.loss.momentum == 0.5
    predictor = objective.siamese.predictor
    history = _toy.train(objective, np.eye(2) * 3.0, 0.1, 4, keras.optimizers.AdamW(0.1),
                         record_every=2)
    assert history["step"] == [0, 2, 4]
    assert predictor.kernel.shape == (2, 2) and not predictor.use_bias
    x = np.eye(2, dtype="float32")
    lag = np.abs(np.asarray(objective.siamese.embed_target(x)) - np.asarray(model(x))).max()
    assert lag > 1e-4


def test_diverging_toy_run_stops_with_a_diagnosis():
    """A learning rate far too large makes VICReg's loss non-finite: training
    stops with the step, the objective and the likely cause, instead of
    recording NaN spectra."""
    model = _toy.linear_net(2, 4, init="glorot")
    objective = _toy.pair_objective(model, kc.losses.VICReg(10.0, 10.0, 1.0))
    data = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    with pytest.raises(kc.guards.NonFiniteLossError,
                       match=r"(?s)Non-finite training loss .* learning rate 1e\+06.*too large"):
        _toy.train(objective, data, 0.1, 200, keras.optimizers.SGD(1e6), record_every=10)


def test_werank_keeps_more_dimensions_at_a_small_size(tmp_path):
    """The verdict that is robust at tour size (600 epochs; held for seeds 0, 1
    and 2): every objective keeps a higher embedding effective rank with
    WERank. results.md lists every setting beside the paper's."""
    results = run_study("werank2023", tmp_path, [
        "werank2023.steps = 600", "werank2023.depth_steps = 600",
        "werank2023.depths = (2,)", "werank2023.ks = (0.1,)", "werank2023.num_seeds = 1"])
    claim = next(c for c in results["claims"] if c["claim"].startswith("WERank keeps more"))
    assert claim["holds"], claim["measured"]
    assert "| setting | paper | this run | why |" in (tmp_path / "results.md").read_text()
