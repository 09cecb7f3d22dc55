"""Two worker processes on localhost (TF_CONFIG on loopback ports), for the
MultiWorkerMirroredStrategy tests."""

import json
import os
import socket
import subprocess

TIMEOUT_S = 240


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

    With `check`, each must exit with status 0.
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
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            if check:
                assert process.returncode == 0, output.decode()[-3000:]
            outputs.append(output.decode())
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs
