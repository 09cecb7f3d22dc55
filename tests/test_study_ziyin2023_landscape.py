"""Small run of the ziyin2023_landscape study through the CLI (arXiv 2210.00638)."""

import glob
import os

import numpy as np
import pytest

from keras_collapse import theory
from studytools import check_artifacts, run_study

SMALL = [
    "ziyin2023_landscape.steps = 300",
    "ziyin2023_landscape.sweep_num_samples = 200",
    "ziyin2023_landscape.noise_variances = (2.0, 10.0)",
    "ziyin2023_landscape.dataset_sizes = (60, 130)",
    "ziyin2023_landscape.normalized_noise_variances = (0.01, 0.1)",
    "ziyin2023_landscape.weight_decays = (0.6,)",
    "ziyin2023_landscape.curvature_batches = 16",
    "ziyin2023_landscape.spectrum_every = 100",
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("ziyin")
    return out, run_study("ziyin2023_landscape", out, SMALL)


def test_small_study_produces_all_artifacts(small):
    out, results = small
    check_artifacts(out, results, 7, ("experiments.png",))
    assert glob.glob(os.path.join(out, "tensorboard", "infonce_*", "events.out.tfevents.*"))
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert any(row[0] == "optimizer" and "6e-4" in row[1] and "Adam, lr 0.0006" in row[2]
               for row in settings["rows"])


def test_robust_verdicts(small):
    """What holds at any size: a bias cannot move an unnormalised InfoNCE (the
    loss only sees differences), and the curvature at the origin does not move
    with α the way B = A0 − (1 − α)C/N says (the anchor's negatives pay the
    augmentation noise back; common noise draws make this exact enough)."""
    _, results = small
    bias = next(c for c in results["claims"] if c["claim"].startswith("Without normalisation"))
    assert bias["holds"]
    shift = results["measurements"]["curvature_shift"]
    assert abs(shift["measured"] - shift["ours"]) < 0.1 * shift["paper"]
    curvature = next(c for c in results["claims"] if "curvature at the origin" in c["claim"])
    assert not curvature["holds"]


def test_paper_b_and_stationary_point_by_hand():
    """b = a − (1 − α)c/N; eigenvalues (b − γ)/(2 s²); the κ → ∞ rule (hand-derived)."""
    b = theory.weighted_info_nce_b([1.0, 0.25], 25.0, 100, positive_weight=0.1)
    np.testing.assert_allclose(b, [1.0 - 0.225, 0.25 - 0.225])
    np.testing.assert_allclose(theory.stationary_eigenvalues([1.0, 0.5], [2.0, 1.0], 0.5),
                               [0.5 / 8.0, 0.0])
    # λ = b/s = [0.9, 0.5]: mean 0.7; 0.5 + 2c/2 = 0.6 < 0.7 drops the second
    # for c = 0.1, while c = 0.3 keeps both (0.5 + 0.3 > 0.7).
    assert theory.normalized_survivors([0.9, 0.5], 1.0, norm=0.1).tolist() == [True, False]
    assert theory.normalized_survivors([0.9, 0.5], 1.0, norm=0.3).tolist() == [True, True]
    with pytest.raises(ValueError, match="argument `num_samples`"):
        theory.weighted_info_nce_b([1.0], 1.0, 0)
