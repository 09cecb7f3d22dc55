"""Two worker processes on localhost under MultiWorkerMirroredStrategy.

The workers (TF_CONFIG on loopback ports, bounded in time, killed at the end)
train the same model as a single process; the chief's weights must match.
With DATA sharding, worker i reads every other per-replica slice of the
re-batched data, so each step's global batch is the single-process batch.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np

SCRIPT = os.path.join(os.path.dirname(__file__), "_multi_worker_check.py")
TIMEOUT_S = 240


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _weights(path):
    with np.load(path) as data:
        return [data[key] for key in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def test_two_workers_match_single_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    single = tmp_path / "single.npz"
    subprocess.run([sys.executable, SCRIPT, str(single)], env=env, check=True, timeout=TIMEOUT_S)

    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    try:
        for index in range(2):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            processes.append(
                subprocess.Popen(
                    [sys.executable, SCRIPT, str(tmp_path / f"worker{index}.npz")],
                    env={**env, "TF_CONFIG": json.dumps(config)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            assert process.returncode == 0, output.decode()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert not (tmp_path / "worker1.npz").exists(), "only the chief writes"
    for expected, got in zip(_weights(single), _weights(tmp_path / "worker0.npz"), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
