"""Small run of the ziyin2023_landscape study through the CLI (arXiv 2210.00638)."""

import glob
import json
import os

from keras_collapse import cli

GIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gin",
                   "ziyin2023_landscape.gin")
FIGURES = ("phase_transition.png", "curvature.png", "bias_normalization.png", "imbalance.png")


def test_small_study_produces_all_artifacts(tmp_path):
    out = str(tmp_path)
    cli.main([
        "run", GIN, "--output_dir", out,
        "--gin_param", "ziyin2023_landscape.losses = ('info_nce', 'nt_xent', 'spectral_contrastive')",
        "--gin_param", "ziyin2023_landscape.data_variances = (1.0, 0.25, 0.0625, 0.0)",
        "--gin_param", "ziyin2023_landscape.augmentation_strengths = (0.5,)",
        "--gin_param", "ziyin2023_landscape.weight_decays = (0.0, 0.35)",
        "--gin_param", "ziyin2023_landscape.minority_fractions = (0.1,)",
        "--gin_param", "ziyin2023_landscape.steps = 150",
        "--gin_param", "ziyin2023_landscape.learning_rate = 0.03",
        "--gin_param", "ziyin2023_landscape.pool_size = 2000",
        "--gin_param", "ziyin2023_landscape.curvature_batches = 2",
        "--gin_param", "ziyin2023_landscape.bias_output_dim = 2",
        "--gin_param", "ziyin2023_landscape.log_every = 50",
    ])
    with open(os.path.join(out, "results.json")) as stream:
        results = json.load(stream)
    assert len(results["claims"]) == 3 + 4  # one per loss + augmentation, wd/norm, bias, imbalance
    for claim in results["claims"]:
        assert set(claim) == {"claim", "paper", "measured", "holds"}
        assert isinstance(claim["holds"], bool)
    rates = results["measurements"]["agreement_rate"]
    assert set(rates) == {"info_nce", "nt_xent", "spectral_contrastive"}
    assert all(0.0 <= r <= 1.0 for r in rates.values())
    for name in ("results.md", "operative_config.gin") + FIGURES:
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert glob.glob(os.path.join(out, "tensorboard", "sweep_*", "events.out.tfevents.*"))
    assert "ziyin2023_landscape" in open(os.path.join(out, "results.md")).read()
