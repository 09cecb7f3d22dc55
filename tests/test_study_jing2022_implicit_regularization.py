"""Study jing2022_implicit_regularization (Jing et al. 2022, arXiv 2110.09348, Figs. 4-6).

The study runs at a small size for experiment.seed 0, 1 and 2; every verdict
that came out the same in seeds 0-6 at this size is asserted for all three
(studies/results/README.md counts them).
"""

import glob
import json

import keras
import numpy as np
import pytest

import keras_collapse as kc
from studytools import assert_verdict, check_artifacts, run_seeds
from keras_collapse.studies import _toy

SMALL = [
    "jing2022_implicit_regularization.depths = (1, 2)",
    "jing2022_implicit_regularization.steps = 1000",
    "jing2022_implicit_regularization.num_samples = 1000",
    "jing2022_implicit_regularization.probe_size = 200",
    "jing2022_implicit_regularization.record_every = 250",
]
SEEDS = (0, 1, 2)
# Claim prefix -> the verdict it had in seeds 0-6 at SMALL.
ROBUST = {
    "The alignment matrix A = V2ᵀU1 converges to the identity": "does not hold",
    "(weaker reading) W2's input singular subspaces align": "holds",
    "The smallest singular values of W1, W2 grow slowest": "holds",
    "More linear layers collapse more embedding dimensions": "holds",
    "A nonlinearity between the layers gives a similar collapse": "does not hold",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return run_seeds("jing2022_implicit_regularization", tmp_path_factory, SMALL, SEEDS)


def test_study_runs_small_and_writes_every_artifact(runs):
    path, results = runs[0]
    check_artifacts(path, results, 5, ("fig4_alignment.png", "fig5_singular_values.png",
                                       "fig6_depth_nonlinearity.png"))
    unit = json.loads((path / "units" / "L=2.json").read_text())
    assert np.asarray(unit["sv"]).shape == (5, 2, 16)
    assert np.asarray(unit["alignment_matrices"]).shape == (1, 16, 16)
    assert glob.glob(str(path / "tensorboard" / "L=2" / "events.*"))


@pytest.mark.parametrize("prefix", list(ROBUST))
def test_robust_verdicts_in_three_seeds(runs, prefix):
    assert_verdict(runs, prefix, ROBUST[prefix])


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
