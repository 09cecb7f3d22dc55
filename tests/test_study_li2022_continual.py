"""Study li2022_continual (Li et al. 2022, arXiv 2209.15007, Table 2, Figs 11/12/14)."""

import glob
import json

import numpy as np
import pytest
from scipy import stats

from studytools import LI2022_SMALL, check_artifacts, run_study
from keras_collapse.data import orderings
from keras_collapse.studies import li2022_continual as study

SMALL = LI2022_SMALL


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("li2022_continual", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 7, ("auc_over_training.png", "cumulative_explained_variance.png"))
    assert [row[0] for row in results["tables"][0]["rows"]] == [
        "multiple pass", "cumulative", "single pass", "hybrid"]
    unit = json.loads((tmp_path / "units" / "narrow_hybrid_seed=0.json").read_text())
    assert len(unit["auc_history"]) == 2  # one AUC per epoch from SpectrumLogger
    assert unit["representation_dim"] == 8
    wide = json.loads((tmp_path / "units" / "wide_hybrid_seed=0.json").read_text())
    assert wide["representation_dim"] == 8  # one representation size for both widths
    # Li et al.'s MoCo v3 / BYOL comparison: both trained, beside SimSiam's runs
    compare = next(t for t in results["tables"] if t["title"].startswith("Single vs multiple"))
    assert [row[0] for row in compare["rows"]] == ["SimSiam", "moco_v3", "byol"]
    moco = json.loads((tmp_path / "units" / "narrow_single_pass_moco_v3_seed=0.json").read_text())
    assert np.isfinite(moco["final_loss"]) and 0.0 <= moco["accuracy"] <= 1.0
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert glob.glob(str(tmp_path / "tensorboard" / "wide_single_pass_seed=0" / "events.*"))


#: The study's own encoders (conv, base width 2 vs 32, one 32-d representation),
#: heads and recipe at 200 steps, multiple pass only (about 35 s).
LI2022_WIDTH = [
    "li2022_continual.orderings = ('multi_pass',)",
    "li2022_continual.comparison_losses = {}",
    "li2022_continual.epochs = 20",
    "li2022_continual.steps_per_epoch = 10",
]


def test_narrow_encoder_collapses_more_than_wide_at_a_small_size(tmp_path):
    """Li et al.'s Table 1 / Fig. 11 direction, as a number that can fail.

    At this size (200 steps) the gap of mean normalised AUC (narrow - wide) was
    0.042-0.060 in all 5 seed bases tried, 3 seeds each, and 0.047-0.068 at 400
    steps (studies/results/li2022_continual_regime_search.md, section 4); the
    4·width representations the study used before gave -0.10 at full size. The
    study's own rule (gap above the larger seed std) held in 7 of those 8 runs,
    so it is reported, not asserted. Op determinism is on, so this seed base
    gives the same units on every run on one machine (gap 0.055 there); other
    CPUs move them in the third digit, well inside the 0.02 margin.
    """
    results = run_study("li2022_continual", tmp_path, LI2022_WIDTH)
    # Claims on orderings that were not run are not made: width and Fig. 12 remain.
    check_artifacts(tmp_path, results, 2, ("auc_over_training.png",))
    assert results["claims"][0]["claim"].startswith(
        "The narrow encoder collapses more than the wide one")
    assert [row[0] for row in results["tables"][0]["rows"]] == ["multiple pass"]
    nauc = {enc: [json.loads((tmp_path / "units" / f"{enc}_multi_pass_seed={s}.json")
                             .read_text())["normalized_auc"] for s in range(3)]
            for enc in ("narrow", "wide")}
    gap = np.mean(nauc["narrow"]) - np.mean(nauc["wide"])
    assert gap > 0.02, nauc
    # The claim's text carries the same means the units hold.
    assert f"{np.mean(nauc['narrow']):.3g} ± " in results["claims"][0]["measured"]


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
