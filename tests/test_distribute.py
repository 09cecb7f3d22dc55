"""Objectives under tf.distribute.MirroredStrategy on two logical CPUs.

Each objective must give the same loss and the same gradients summed over the
replicas as on one device with the concatenated global batch (global
negatives, global batch statistics, correct scaling), and `fit` must give the
same weights.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def mirrored_results():
    completed = subprocess.run(
        [sys.executable, os.path.join(HERE, "_mirrored_check.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(HERE),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


@pytest.mark.parametrize(
    "name",
    ["info_nce_dot", "info_nce_gaussian", "nt_xent", "spectral", "barlow_twins",
     "vicreg", "simsiam", "byol"],
)
def test_loss_and_gradients_match_global_batch(mirrored_results, name):
    result = mirrored_results["losses"][name]
    np.testing.assert_allclose(result["mirrored"], result["single"], rtol=1e-5)
    assert result["grad_rel_err"] < 1e-5


@pytest.mark.parametrize("name", ["nt_xent", "vicreg", "byol"])
def test_fit_gives_same_weights(mirrored_results, name):
    """Two epochs of `fit` (synchronised BatchNorm head; BYOL with its EMA target).

    Differences are relative to how far the weights moved. Synchronised
    BatchNorm computes the variance as E[x²] − E[x]² across replicas, which
    differs from the one-device moments by float32 round-off; VICReg's
    large coefficients amplify that to ~1e-5 — hence 1e-4.
    """
    assert mirrored_results["fit"][name] < 1e-4


def test_global_batch_is_identity_outside_a_strategy():
    x = tf.reshape(tf.range(6.0), (3, 2))
    gathered, offset = kc.distribute.global_batch(x)
    np.testing.assert_array_equal(gathered.numpy(), x.numpy())
    assert int(offset) == 0
    assert kc.distribute.num_replicas() == 1
