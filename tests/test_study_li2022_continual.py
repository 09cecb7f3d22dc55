"""Study li2022_continual (Li et al. 2022, arXiv 2209.15007, Table 2, Figs 11/12/14)."""

import glob
import json

import numpy as np
import pytest
from scipy import stats

from studytools import LI2022_SMALL, check_artifacts, run_study
from keras_collapse.data import orderings
from keras_collapse.studies import _harness
from keras_collapse.studies import li2022_continual as study

SMALL = LI2022_SMALL


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("li2022_continual", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 13, ("auc_over_training.png",
                                            "cumulative_explained_variance.png"))
    assert [row[0] for row in results["tables"][0]["rows"]] == [
        "multiple pass", "cumulative", "single pass", "hybrid"]
    unit = json.loads((tmp_path / "units" / "narrow_hybrid_seed=0.json").read_text())
    assert len(unit["auc_history"]) == 2  # one AUC per epoch from SpectrumLogger
    assert unit["representation_dim"] == 8
    wide = json.loads((tmp_path / "units" / "wide_hybrid_seed=0.json").read_text())
    assert wide["representation_dim"] == 8  # one representation size for both widths
    # The gin file's data-size runs are the last 10% of the data (not bound here).
    assert json.loads((tmp_path / "units" / "narrow_last_0.1_seed=0.json").read_text())[
        "ordering"] == "last 0.1"
    # Li et al.'s MoCo v3 / BYOL table: both trained, beside SimSiam's runs,
    # each judged as the slides' "single pass lowers its accuracy".
    compare = next(t for t in results["tables"] if t["title"].startswith("Single vs multiple"))
    assert [row[0] for row in compare["rows"]] == ["SimSiam", "moco_v3", "byol"]
    lowers = [c["claim"] for c in results["claims"] if c["claim"].startswith("Single pass lowers")]
    assert lowers == ["Single pass lowers the wide encoder's probe accuracy (−12.2 points, "
                      "ResNet-50)", "Single pass lowers moco_v3's probe accuracy (53.8 → 48.9)",
                      "Single pass lowers byol's probe accuracy (47.6 → 44.2)"]
    moco = json.loads((tmp_path / "units" / "narrow_single_pass_moco_v3_seed=0.json").read_text())
    assert np.isfinite(moco["final_loss"]) and 0.0 <= moco["accuracy"] <= 1.0
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert glob.glob(str(tmp_path / "tensorboard" / "wide_single_pass_seed=0" / "events.*"))
    # The set-up column says how the regime relates to each claim.
    width = next(c for c in results["claims"] if c["claim"].startswith("The narrow encoder "
                                                                       "collapses more"))
    assert "first chosen (2026-12-02) because this claim held" in width["setup"]


#: The test size: the study's own encoders (conv, base width 2 vs 32, one 32-d
#: representation), heads and recipe; multiple and single pass, the narrow
#: encoder also on the last 25% of the data; 100 steps, 2 seeds.
LI2022_VERDICT_SIZE = [
    "li2022_continual.orderings = ('multi_pass', 'single_pass')",
    "li2022_continual.comparison_losses = {}",
    "li2022_continual.data_fractions = (0.25,)",
    "li2022_continual.num_seeds = 2",
    "li2022_continual.epochs = 10",
    "li2022_continual.steps_per_epoch = 10",
]

#: The verdicts at LI2022_VERDICT_SIZE that were the same for experiment.seed
#: 0, 1 and 2 (run again 2026-12-07 after the merges of issues 22-26 changed
#: the study's numerics, the heads' BatchNorm epsilon and momentum among them). The width
#: verdict moved with that change: in the first choice of this set the narrow
#: encoder was not yet the more collapsed one after 100 steps (normalised AUC
#: 0.44-0.49 vs 0.50-0.54); now it is, in every seed (0.456-0.491 vs
#: 0.388-0.398, each gap larger than the larger seed std). Not robust here, so
#: not asserted: the accuracy gap between the encoders.
LI2022_ROBUST = {
    "The narrow encoder collapses more than the wide one under multiple pass": "holds",
    "More data collapses the narrow encoder more (same steps)": "does not hold",
    "Less data gives the narrow encoder a better probe (same steps)": "does not hold",
    "Single pass (continual) reduces the narrow encoder's collapse": "does not hold",
    "Single pass raises the narrow encoder's probe accuracy (+14.5 points, ResNet-18)":
        "does not hold",
    "Single pass lowers the wide encoder's probe accuracy (−12.2 points, ResNet-50)":
        "does not hold",
    "Probe accuracy is predictable from loss and AUC together, not from either alone "
    "(R² 0.95 vs 0.21 / 0.06)": "does not hold",
    "Large subsets of the data collapse the representation more (ResNet-18, ImageNet)":
        "holds",
}


def test_verdicts_robust_at_the_test_size(tmp_path):
    """Every verdict that was the same for three seed bases at this size."""
    results = run_study("li2022_continual", tmp_path, LI2022_VERDICT_SIZE)
    check_artifacts(tmp_path, results, 9, ("auc_over_training.png",))
    verdicts = {c["claim"]: c["verdict"] for c in results["claims"]}
    assert {claim: verdicts[claim] for claim in LI2022_ROBUST} == LI2022_ROBUST
    assert [row[0] for row in results["tables"][0]["rows"]] == ["multiple pass", "single pass"]
    # Li's data-size lever (kc.data.Last): the narrow encoder on the last 25%.
    last = json.loads((tmp_path / "units" / "narrow_last_0.25_seed=0.json").read_text())
    assert last["ordering"] == "last 0.25" and np.isfinite(last["normalized_auc"])
    sizes = next(t for t in results["tables"] if t["title"].startswith("Figs. 10-11"))
    assert [row[:2] for row in sizes["rows"]] == [["narrow", 0.25], ["narrow", 1.0]]


def test_orderings_are_checked():
    with pytest.raises(ValueError, match="orderings.*'multi_pass'"):
        study._check_orderings(("single_pass", "hybrid"), {})
    with pytest.raises(ValueError, match="orderings.*comparison_losses"):
        study._check_orderings(("multi_pass",), {"byol": object()})
    assert study._check_orderings(["hybrid", "multi_pass"], {}) == ("multi_pass", "hybrid")
    assert study._check_orderings(None, {}) == study.ORDERINGS


def test_predictability_matches_numpy_least_squares():
    rng = np.random.default_rng(0)
    loss = rng.normal(size=12)
    auc = rng.uniform(0.5, 1.0, size=12)
    acc = 0.9 - 0.5 * auc + 0.1 * loss + 0.01 * rng.normal(size=12)
    fit = study.predictability(loss, auc, acc)
    design = np.column_stack([np.ones(12), auc, loss])
    coef, *_ = np.linalg.lstsq(design, acc, rcond=None)
    pred = design @ coef
    r2 = 1 - np.sum((acc - pred) ** 2) / np.sum((acc - acc.mean()) ** 2)
    both = fit["both"]
    assert both["intercept"] == pytest.approx(coef[0], rel=1e-8)
    assert both["auc_coef"] == pytest.approx(coef[1], rel=1e-8)
    assert both["loss_coef"] == pytest.approx(coef[2], rel=1e-8)
    assert both["r2"] == pytest.approx(r2, rel=1e-8)
    assert both["pearson"] == pytest.approx(np.corrcoef(pred, acc)[0, 1], rel=1e-8)
    assert both["spearman"] == pytest.approx(stats.spearmanr(pred, acc)[0], rel=1e-8)
    # Leave-one-out R² by hand.
    loo = np.empty(12)
    for i in range(12):
        keep = np.arange(12) != i
        c_i, *_ = np.linalg.lstsq(design[keep], acc[keep], rcond=None)
        loo[i] = design[i] @ c_i
    loo_r2 = 1 - np.sum((acc - loo) ** 2) / np.sum((acc - acc.mean()) ** 2)
    assert both["loo_r2"] == pytest.approx(loo_r2, rel=1e-8)
    assert fit["AUC only"]["loss_coef"] is None and fit["loss only"]["auc_coef"] is None
    # One predictor: R² is the squared Pearson correlation.
    assert fit["AUC only"]["r2"] == pytest.approx(np.corrcoef(auc, acc)[0, 1] ** 2, rel=1e-8)
    with pytest.raises(ValueError, match="auc"):
        study.predictability(loss, auc[:5], acc)


def test_hybrid_switches_at_forty_percent():
    hybrid = study.make_ordering("hybrid", 20, 0.4)
    assert hybrid.switch_epoch == 8
    # Before the switch an epoch sees one of 8 chunks, after it all examples.
    early = orderings.epoch_indices(hybrid, 0, 80, 20, steps_per_epoch=4, batch_size=20)
    late = orderings.epoch_indices(hybrid, 8, 80, 20, steps_per_epoch=4, batch_size=20)
    assert len(set(early.tolist())) == 10 and len(set(late.tolist())) == 80
    with pytest.raises(ValueError, match="orderings"):
        study.make_ordering("shuffled", 20)


#: Li's AUC of the authors' released ResNet-18 singular values, printed by
#: tests/upstream/li2022_resnet18_svd.py with the notebook's own `auc`
#: (alexlioralexli/noncontrastive-ssl@20b416e, plot_collapse.ipynb).
AUTHORS_AUC = {0.01: 0.609762, 0.05: 0.748032, 0.10: 0.844922, 0.20: 0.878715,
               0.50: 0.871419, 1.00: 0.857755}


def test_authors_singular_values_give_their_auc_and_the_data_size_trend(tmp_path):
    """External check of kc.metrics.auc and of Fig. 11's trend on the authors'
    own numbers: the centred singular values of SimSiam ResNet-18 ImageNet
    representations trained on 1-100% of the data. kc.metrics.auc (through a
    matrix with those singular values) reproduces the notebook's AUC to 1e-6;
    the large shares (≥ 10%) all collapse more than the small ones (the
    slides' "partial dimensional collapse for large subsets"), though the AUC
    peaks at 20% instead of rising to 100%."""
    with np.load(study.AUTHORS_SVD) as files:
        fractions, values = files["fractions"], files["singular_values"]
        assert "alexlioralexli/noncontrastive-ssl@20b416e" in str(files["source"])
    assert values.shape == (6, 512) and np.all(np.diff(values, axis=1) <= 0)
    aucs = {float(f): study.auc_of_singular_values(s) for f, s in zip(fractions, values)}
    for share, expected in AUTHORS_AUC.items():
        assert aucs[share] == pytest.approx(expected, abs=1e-6), share
        s = values[list(fractions).index(share)].astype(np.float64)
        assert aucs[share] == pytest.approx(np.mean(np.cumsum(s) / s.sum()), abs=1e-6)
    assert min(a for f, a in aucs.items() if f >= 0.1) > max(a for f, a in aucs.items()
                                                             if f < 0.1)
    assert max(aucs, key=aucs.get) == 0.2
    # The study's claim reads the same file and reaches the same verdict.
    harness = _harness.Study(str(tmp_path), "li2022_continual")
    study._authors_data_size(harness, study.AUTHORS_SVD, 0.1)
    (claim,) = harness.claims
    assert claim["verdict"] == "holds" and "peaks at 20%" in claim["measured"]
