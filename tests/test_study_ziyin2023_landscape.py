"""Small run of the ziyin2023_landscape study through the CLI (arXiv 2210.00638)."""

import glob
import os

from studytools import check_artifacts, run_study

FIGURES = ("phase_transition.png", "curvature.png", "bias_normalization.png", "imbalance.png")


SMALL = [
    "ziyin2023_landscape.losses = ('info_nce', 'nt_xent', 'spectral_contrastive')",
    "ziyin2023_landscape.data_variances = (1.0, 0.25, 0.0625, 0.0)",
    "ziyin2023_landscape.augmentation_strengths = (0.5,)",
    "ziyin2023_landscape.weight_decays = (0.0, 0.35)",
    "ziyin2023_landscape.minority_fractions = (0.1,)",
    "ziyin2023_landscape.steps = 150",
    "ziyin2023_landscape.learning_rate = 0.03",
    "ziyin2023_landscape.pool_size = 2000",
    "ziyin2023_landscape.curvature_batches = 2",
    "ziyin2023_landscape.bias_output_dim = 2",
    "ziyin2023_landscape.log_every = 50",
]


def test_small_study_produces_all_artifacts(tmp_path):
    out = str(tmp_path)
    results = run_study("ziyin2023_landscape", tmp_path, SMALL)
    # one claim per loss + augmentation, wd/norm, bias, imbalance
    check_artifacts(tmp_path, results, 3 + 4, FIGURES)
    rates = results["measurements"]["agreement_rate"]
    assert set(rates) == {"info_nce", "nt_xent", "spectral_contrastive"}
    assert all(0.0 <= r <= 1.0 for r in rates.values())
    assert glob.glob(os.path.join(out, "tensorboard", "sweep_*", "events.out.tfevents.*"))
    assert "ziyin2023_landscape" in open(os.path.join(out, "results.md")).read()
