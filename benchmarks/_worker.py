"""The step-worker protocol of bench_torch (standard library only).

A worker is a process that built its model and answers, one line each:

* at start, after its first (warm-up) unit: ``{"ready": true, ...facts}`` with
  ``setup_s`` (model built), ``first_s`` (the first unit, tracing or XLA
  compilation included) and ``max_rss_mib`` (peak resident memory so far);
* to ``steps N`` on stdin: ``{"wall_s", "cpu_s", "loss"}``, seconds per step
  (wall clock, and the process's CPU time: all its threads) over N steps;
* to ``quit`` or end of input: it exits.

The driver (bench_torch) keeps every contender's worker alive and sends
``steps N`` to one at a time, so that exactly one of them computes at any
moment while their units interleave.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(doc, flag, make, facts, argv=None):
    """A worker's ``main``: the shared arguments (``--task``, ``--batch``,
    ``--image``) and the boolean ``flag``; ``make(args) -> run_steps`` builds
    the model (timed as ``setup_s``), then :func:`serve` with ``facts()``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--task", choices=("ssl", "supervised"), required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--image", type=int, default=32)
    parser.add_argument(flag, action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    run_steps = make(args)
    serve(run_steps, time.perf_counter() - start, facts(args))


def serve(run_steps, setup_s, facts, warmup_steps=2, stdin=None, stdout=None):
    """Answer the protocol above.

    Args:
        run_steps: ``run_steps(n) -> (wall_s, cpu_s, loss)``: n training
            steps, with their total wall and CPU seconds (the caller's own
            timer, so that what is timed is the steps only).
        setup_s: Seconds the model took to build.
        facts: More keys for the ready line (framework, threads, ...).
        warmup_steps: Steps of the first, untimed unit.
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    start = time.perf_counter()
    run_steps(warmup_steps)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    stdout.write(json.dumps({"ready": True, "setup_s": setup_s,
                             "first_s": time.perf_counter() - start, "max_rss_mib": peak,
                             **facts}) + "\n")
    stdout.flush()
    for line in stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        steps = int(command[1])
        wall, cpu, loss = run_steps(steps)
        stdout.write(json.dumps({"wall_s": wall / steps, "cpu_s": cpu / steps,
                                 "loss": float(loss)}) + "\n")
        stdout.flush()
