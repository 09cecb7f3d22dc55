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


def unit_of(tmp_path):
    return json.loads((tmp_path / "units" / "DirectCLR_seed=0.json").read_text())


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("jing2022_directclr", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 4, ("representation_spectrum.png", "linear_probe.png"))
    table = results["tables"][0]
    assert [row[1] for row in table["rows"]] == list(study.VARIANTS) + ["raw pixels (no training)"]
    assert table["header"][3].startswith("probe acc., 1 label(s) per class")
    assert 0.0 <= unit_of(tmp_path)["few_label_accuracy"] <= 1.0
    settings = next(t for t in results["tables"] if t["title"].startswith("Settings"))
    assert settings["header"] == ["setting", "paper", "this run", "why"]
    assert glob.glob(str(tmp_path / "tensorboard" / "DirectCLR_seed=0" / "events.out.tfevents.*"))
    unit = json.loads((tmp_path / "units" / "DirectCLR_seed=0.json").read_text())
    assert unit["representation_dim"] == 16
    assert len(unit["singular_values"]) == 16
    assert 0.0 <= unit["accuracy"] <= 1.0 and 0.0 <= unit["subvector_accuracy"] <= 1.0
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
    x = np.random.default_rng(0).normal(size=(3, 16)).astype("float32")
    assert study.make_head("no projector", 16, 8, 32, 4) is None
    assert study.make_head("2-layer nonlinear projector", 16, 8, 32, 4)(x).shape == (3, 8)
    linear = study.make_head("1-layer linear projector", 16, 8, 32, 4)
    assert linear(x).shape == (3, 8) and not linear.hidden_dims
    direct = study.make_head("DirectCLR", 16, 8, 32, 4)(x).numpy()
    expected = x[:, :4] / np.linalg.norm(x[:, :4], axis=1, keepdims=True)
    np.testing.assert_allclose(direct, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="directclr_dim"):
        study.make_head("DirectCLR", 16, 8, 32, 17)
    with pytest.raises(ValueError, match="variant"):
        study.make_head("BYOL", 16, 8, 32, 4)



