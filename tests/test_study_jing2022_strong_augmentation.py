"""Study jing2022_strong_augmentation (Jing et al. 2022, arXiv 2110.09348, Fig. 3, Theorem 1)."""

import glob
import json

import numpy as np

from studytools import check_artifacts, run_study
from keras_collapse.studies import _toy

SMALL = [
    "jing2022_strong_augmentation.noise_stds = (0.5, 3.0)",
    "jing2022_strong_augmentation.steps = 200",
    "jing2022_strong_augmentation.num_samples = 500",
    "jing2022_strong_augmentation.probe_size = 200",
    "jing2022_strong_augmentation.x_samples = 64",
    "jing2022_strong_augmentation.record_every = 50",
]


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("jing2022_strong_augmentation", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 5, ("fig3_spectra_over_training.png", "x_eigenvalues.png"))
    assert [row[0] for row in results["tables"][0]["rows"]] == [0.5, 3.0]
    unit = json.loads((tmp_path / "units" / "k=3.0.json").read_text())
    assert unit["history"]["step"] == [0, 50, 100, 150, 200]
    assert np.asarray(unit["history"]["sv"]).shape == (5, 1, 16)
    assert glob.glob(str(tmp_path / "tensorboard" / "k=3.0" / "events.*"))


def test_authors_kernel_has_the_exponential_spectrum():
    kernel = _toy.authors_kernel(16, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.svd(kernel, compute_uv=False),
                               np.exp(-0.35 * np.arange(16)), rtol=1e-5)


def test_noise_std_is_block_diagonal():
    np.testing.assert_allclose(_toy.noise_std(4, 2, 1.5), [0.0, 0.0, 1.5, 1.5])
