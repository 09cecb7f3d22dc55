"""Two worker processes on localhost under MultiWorkerMirroredStrategy.

The workers (TF_CONFIG on loopback ports, bounded in time, killed at the end)
train the same model as a single process; the chief's weights must match.
With DATA sharding, worker i reads every other per-replica slice of the
re-batched data, so each step's global batch is the single-process batch.
"""

import json
import os
import sys

import numpy as np
from studytools import DIRECTCLR_SMALL
from subprocesses import run
from workers import run_two_workers

SCRIPT = os.path.join(os.path.dirname(__file__), "_multi_worker_check.py")


def _weights(path):
    with np.load(path) as data:
        return [data[key] for key in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def test_two_workers_match_single_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    single = tmp_path / "single.npz"
    completed = run([sys.executable, SCRIPT, str(single)], env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]

    run_two_workers(lambda index: [sys.executable, SCRIPT, str(tmp_path / f"worker{index}.npz")])

    assert not (tmp_path / "worker1.npz").exists(), "only the chief writes"
    for expected, got in zip(_weights(single), _weights(tmp_path / "worker0.npz"), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _study_command(output_dir, strategy):
    command = [sys.executable, "-m", "keras_collapse.cli", "run", "gin/jing2022_directclr.gin",
               "--output_dir", str(output_dir), "--gin_param", f"experiment.strategy = '{strategy}'"]
    for binding in DIRECTCLR_SMALL:
        command += ["--gin_param", binding]
    return command


def test_study_under_two_workers_matches_single_process(tmp_path):
    """A short DirectCLR study under `experiment.strategy = 'multi_worker'`:
    it completes, only the chief writes results, and every run's training loss
    and representation spectrum match the single-process study."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    completed = run(_study_command(tmp_path / "single", "default"), cwd=root, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    run_two_workers(lambda index: _study_command(tmp_path / "multi", "multi_worker"), cwd=root)

    # The chief writes the results; the other worker keeps its own copy apart.
    assert (tmp_path / "multi" / "results.json").exists()
    assert (tmp_path / "multi" / "workers" / "worker-1" / "units").is_dir()
    assert not (tmp_path / "multi" / "workers" / "worker-0").exists()
    single_units = sorted((tmp_path / "single" / "units").glob("*.json"))
    assert len(single_units) == 4
    for path in single_units:
        one = json.loads(path.read_text())
        two = json.loads((tmp_path / "multi" / "units" / path.name).read_text())
        np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-4, err_msg=path.name)
        np.testing.assert_allclose(two["eigenvalues"], one["eigenvalues"], rtol=1e-3, atol=1e-7,
                                   err_msg=path.name)
