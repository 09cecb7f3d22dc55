"""Study jing2022_directclr (Jing et al. 2022, arXiv 2110.09348, Table 1 / Fig. 7b)."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from studytools import DIRECTCLR_SMALL, check_artifacts, run_study
from keras_collapse.studies import jing2022_directclr as study

SMALL = DIRECTCLR_SMALL

#: The verdicts at the SMALL size (4 steps, one seed, a 16-d representation,
#: d0 = 3) that were the same for experiment.seed 0, 1 and 2 (run again
#: 2026-12-07 after the merges of issues 22-26 changed the study's numerics,
#: the heads' BatchNorm epsilon and momentum among them); the other six
#: moved with the seed. After 4 steps every variant is near its shared
#: initialisation: the effective ranks of DirectCLR and of no projector differed
#: by -0.0, -0.1 and +0.0 (of 16), so "DirectCLR collapses less", robust in the
#: first choice of this set, is no longer asserted; the whole r beat r[:3] by
#: 20-29 points (all labels) and 3-8 points (one label per class) in every seed.
ROBUST = {
    "DirectCLR's r[d0:] carries information: the whole r beats r[:d0] alone (62.7 vs 47.9%)":
        "holds",
}


def unit_of(tmp_path):
    return json.loads((tmp_path / "units" / "DirectCLR_seed=0.json").read_text())


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("jing2022_directclr", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 7, ("representation_spectrum.png", "linear_probe.png"))
    verdicts = {c["claim"]: c["verdict"] for c in results["claims"]}
    assert {claim: verdicts[claim] for claim in ROBUST} == ROBUST
    table = results["tables"][0]
    assert [row[1] for row in table["rows"]] == list(study.VARIANTS) + [
        "probe on r[:3] only", "raw pixels (no training)"]
    assert table["header"][2:5] == ["probe acc., all labels (%)",
                                    "probe acc., 2 label(s) per class (%)",
                                    "probe acc., 1 label(s) per class (%)"]
    unit = unit_of(tmp_path)
    assert set(unit["probes"]) == set(unit["subvector_probes"]) == {"all", "2", "1"}
    assert all(0.0 <= v <= 1.0 for v in [*unit["probes"].values(),
                                         *unit["subvector_probes"].values()])
    # Every accuracy claim gives each probe's verdict; the 1-label probe decides.
    accuracy = [c for c in results["claims"] if c["criterion"].startswith("1 label(s)")]
    assert len(accuracy) == 5
    assert all(c["measured"].count("points (larger std") == 3 for c in accuracy)
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert glob.glob(str(tmp_path / "tensorboard" / "DirectCLR_seed=0" / "events.out.tfevents.*"))
    assert unit["representation_dim"] == 16
    assert len(unit["singular_values"]) == 16
    # The saved model opens without the study code and reports its spectrum.
    script = (
        "import sys, keras, numpy as np, keras_collapse as kc\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "x = kc.data.digits()[0][:200]\n"
        "report = kc.metrics.spectrum_report(model, x, output='representation')\n"
        "assert 'keras_collapse.studies' not in sys.modules\n"
        "print(len(report.eigenvalues), report.effective_rank > 1)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "models" / "DirectCLR_seed=0.keras")],
                         capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["16", "True"]
    # A second run reads every unit back instead of training again.
    before = os.path.getmtime(tmp_path / "units" / "DirectCLR_seed=0.json")
    run_study("jing2022_directclr", tmp_path, SMALL)
    assert os.path.getmtime(tmp_path / "units" / "DirectCLR_seed=0.json") == before


def test_heads_of_the_four_variants():
    """The authors' heads (directclr/main.py): 2-layer Dense → BN → ReLU →
    Dense → BN, 1-layer Dense, no biases, none; DirectCLR's r[:d0], normalised."""
    x = np.random.default_rng(0).normal(size=(3, 16)).astype("float32")
    assert study.make_head("no projector", 16, 8, 32, 4) is None
    two = study.make_head("2-layer nonlinear projector", 16, 8, 32, 4)
    assert two(x).shape == (3, 8) and two.hidden_dims == (32,) and two.final_batch_norm
    linear = study.make_head("1-layer linear projector", 16, 8, 32, 4)
    assert linear(x).shape == (3, 8) and not linear.hidden_dims
    assert not any(getattr(layer, "use_bias", False) for layer in (*two.blocks, *linear.blocks))
    direct = study.make_head("DirectCLR", 16, 8, 32, 4)(x).numpy()
    expected = x[:, :4] / np.linalg.norm(x[:, :4], axis=1, keepdims=True)
    np.testing.assert_allclose(direct, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="directclr_dim"):
        study.make_head("DirectCLR", 16, 8, 32, 17)
    with pytest.raises(ValueError, match="variant"):
        study.make_head("BYOL", 16, 8, 32, 4)
