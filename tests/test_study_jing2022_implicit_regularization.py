"""Study jing2022_implicit_regularization (Jing et al. 2022, arXiv 2110.09348, Figs. 4-6)."""

import glob
import json

import keras
import numpy as np

import keras_collapse as kc
from studytools import check_artifacts, run_study
from keras_collapse.studies import _toy

SMALL = [
    "jing2022_implicit_regularization.depths = (1, 2)",
    "jing2022_implicit_regularization.steps = 200",
    "jing2022_implicit_regularization.num_samples = 500",
    "jing2022_implicit_regularization.probe_size = 200",
    "jing2022_implicit_regularization.record_every = 100",
]


def test_study_runs_small_and_writes_every_artifact(tmp_path):
    results = run_study("jing2022_implicit_regularization", tmp_path, SMALL)
    check_artifacts(tmp_path, results, 5, ("fig4_alignment.png", "fig5_singular_values.png", "fig6_depth_nonlinearity.png"))
    unit = json.loads((tmp_path / "units" / "L=2.json").read_text())
    assert np.asarray(unit["sv"]).shape == (3, 2, 16)
    assert np.asarray(unit["alignment_matrices"]).shape == (1, 16, 16)
    assert glob.glob(str(tmp_path / "tensorboard" / "L=2" / "events.*"))


def test_train_records_the_kernels_of_the_model():
    """The recorded singular values are those of the paper's W = Kᵀ of each layer."""
    model = _toy.linear_net(2, 4, init="glorot", seed=1)
    loss = kc.losses.InfoNCE(0.1, "dot", symmetric=False)
    data = np.random.default_rng(0).normal(size=(32, 4))
    history = _toy.train(_toy.pair_objective(model, loss), data, 0.01, 3,
                         keras.optimizers.SGD(0.0), record_every=3)
    kernel = model.layers[1].kernel.numpy()
    np.testing.assert_allclose(history["sv"][-1][1], np.linalg.svd(kernel, compute_uv=False),
                               rtol=1e-5)
    np.testing.assert_allclose(history["kernels"][0], model.layers[0].kernel.numpy().T)
