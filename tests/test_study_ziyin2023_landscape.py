"""Small runs of the ziyin2023_landscape study through the CLI (arXiv 2210.00638).

Seed 0 runs every experiment at a small size (every artifact is checked);
seeds 1 and 2 run the experiments whose verdicts do not depend on how long
training runs (ROBUST_EXPERIMENTS, without the reported-only trained runs of
complete_collapse), and their verdicts, the same in seeds 0-6
at this size, are asserted for seeds 0-2. The verdicts of the trained
experiments, the same in seeds 0-3 at this size, are asserted for seed 0 (a
run of all seven experiments costs minutes); at 300 iterations they read
unconverged runs, so they guard the code path, and the full-size verdicts are
in studies/results/ziyin2023_landscape.md.
"""

import glob
import os

import numpy as np
import pytest

from keras_collapse import theory
from studytools import assert_verdict, check_artifacts, run_seeds

SMALL = [
    "ziyin2023_landscape.steps = 300",
    "ziyin2023_landscape.sweep_num_samples = 200",
    "ziyin2023_landscape.noise_variances = (10.0,)",
    "ziyin2023_landscape.dataset_sizes = (60,)",
    "ziyin2023_landscape.normalized_noise_variances = (0.1,)",
    "ziyin2023_landscape.weight_decays = (0.6,)",
    # σ² of the bias runs = exp. 3's, so those runs are shared (units).
    "ziyin2023_landscape.weight_decay_noise_variance = 0.1",
    "ziyin2023_landscape.curvature_batches = 16",
    "ziyin2023_landscape.spectrum_every = 100",
]
ROBUST_EXPERIMENTS = ("curvature", "bias", "complete_collapse")
# Claim prefix -> the verdict it had in seeds 0-6 at SMALL.
ROBUST = {
    "The weighted InfoNCE's curvature at the origin is −2B with B = A0 − (1 − α)C/N: "
    "lowering α from 1 raises it by 2(1 − α)σ²/N (the loss as written)": "does not hold",
    "The weighted InfoNCE's curvature at the origin is −2B with B = A0 − (1 − α)C/N: "
    "lowering α from 1 raises it by 2(1 − α)σ²/N (denominator padded": "holds",
    "Without normalisation a bias has no effect": "holds",
    "With normalisation a bias makes complete collapse possible": "untestable here",
}
# Claim prefix -> the verdict it had in seeds 0-3 at SMALL (seed 0 runs them). Not
# asserted, having differed between those seeds: "never reach zero", "b/(2s²)"
# and the critical dataset size with the padded denominator.
ROBUST_SEED0 = {
    "Weighted InfoNCE (α = 0.1, σ = 5) collapses below the critical dataset size given by "
    "B = A0 − (1 − α)C/N, and not above it (the loss as written)": "does not hold",
    "With normalisation InfoNCE collapses directions at a noise variance far below": "does not hold",
    "Weight decay γ collapses exactly the directions with b_i ≤ γ": "holds",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    subset = [f"ziyin2023_landscape.experiments = {ROBUST_EXPERIMENTS}",
              "ziyin2023_landscape.complete_collapse_training = False"]
    return run_seeds("ziyin2023_landscape", tmp_path_factory, SMALL,
                     extra=lambda seed: [] if seed == 0 else subset)


def test_small_study_produces_all_artifacts(runs):
    out, results = runs[0]
    check_artifacts(out, results, 10, ("infonce.png", "weighted.png", "normalisation.png",
                                       "weight_decay.png"))
    assert glob.glob(os.path.join(out, "tensorboard", "infonce_*", "events.out.tfevents.*"))
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert any(row[0] == "optimizer" and "6e-4" in row[1] and "Adam, lr 0.0006" in row[2]
               for row in settings["rows"])


@pytest.mark.parametrize("prefix", list(ROBUST))
def test_robust_verdicts_in_three_seeds(runs, prefix):
    """The curvature along α follows the paper's B only with the padded
    denominator; a bias cannot move an unnormalised InfoNCE; the curvature at
    the trivial solution cannot be signed with 16 noise draws."""
    assert_verdict(runs, prefix, ROBUST[prefix])


@pytest.mark.parametrize("prefix", list(ROBUST_SEED0))
def test_robust_verdicts_of_the_trained_experiments_in_seed_0(runs, prefix):
    assert_verdict({0: runs[0]}, prefix, ROBUST_SEED0[prefix])


def test_curvature_shift_is_the_expansion_of_each_partition(runs):
    """Common noise draws make the measured shift κ(α) − κ(1) match each
    partition's second-order expansion (theory.weighted_info_nce_b)."""
    for _, results in runs.values():
        shift = results["measurements"]["curvature_shift"]
        assert abs(shift["padded"] - shift["paper"]) < 0.1 * shift["paper"]
        assert abs(shift["measured"] - shift["ours"]) < 0.1 * shift["paper"]


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
