"""Two worker processes on localhost (TF_CONFIG on loopback ports), for the
MultiWorkerMirroredStrategy tests."""

import json
import os
import socket
import subprocess
import time

import pytest
from subprocesses import TIMEOUT_S, timed_out


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_two_workers(command_of, cwd=None, check=True):
    """Start worker 0 and 1 and wait for both; returns their outputs.

    With `check`, each must exit with status 0. Both must end within
    `TIMEOUT_S` (together), else the test fails naming each worker's step.
    """
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes, outputs = [], []
    try:
        for index in range(2):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            processes.append(subprocess.Popen(
                command_of(index), cwd=cwd, env={**env, "TF_CONFIG": json.dumps(config)},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + TIMEOUT_S
        for process in processes:
            try:
                output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _fail_timed_out(processes, outputs, command_of)
            if check:
                assert process.returncode == 0, output.decode()[-3000:]
            outputs.append(output.decode())
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


def _fail_timed_out(processes, outputs, command_of):
    """Stop the workers still running and fail, naming the step each was in
    (`outputs`: those of the workers that ended)."""
    lines = []
    for index, process in enumerate(processes):
        if index < len(outputs):
            lines.append(f"worker {index} ended (status {process.returncode})")
            continue
        process.kill()
        output, _ = process.communicate()
        lines.append(f"worker {index}: " + timed_out(command_of(index), TIMEOUT_S, output))
    pytest.fail("\n".join(lines), pytrace=False)
