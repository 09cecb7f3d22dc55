"""Shared timing helpers: interleaved repetitions, medians, machine facts.

The machine is shared and noisy, so every comparison times its contenders
*interleaved* (rep 1: A, B, C; rep 2: B, C, A; ...), after warm-up calls, and
reports medians. A ratio is the median of the per-repetition ratios (each
measured seconds apart, so slow phases of the machine cancel).
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import statistics
import time


def block(result):
    """Wait for TF results (``.numpy()`` on the first tensor found)."""
    import tensorflow as tf

    for leaf in tf.nest.flatten(result):
        if hasattr(leaf, "numpy"):
            leaf.numpy()
            break
    return result


def interleaved(fns: dict, reps: int, warmup: int = 1, inner: int = 1,
                min_rep_s: float = 0.0) -> dict:
    """Time each callable ``reps`` times, interleaved and rotated.

    Args:
        fns: ``{name: fn}``; ``fn()`` must block until its work is done.
        reps: Timed repetitions per callable.
        warmup: Untimed calls per callable first (tracing, caches).
        inner: Consecutive calls per timed repetition (time divided by them).
        min_rep_s: If > 0, each callable gets as many consecutive calls per
            repetition as fill this many seconds (at least ``inner``), from
            its last warm-up call: the steady state of a loop that calls it
            every step, rather than one call right after the other
            contenders' (cold caches and freshly mapped buffers).

    Returns:
        ``{name: [seconds per call, one per rep]}`` in rep order.
    """
    names = list(fns)
    last = {}
    for _ in range(warmup):
        for name in names:
            start = time.perf_counter()
            fns[name]()
            last[name] = time.perf_counter() - start
    calls = dict.fromkeys(names, inner)
    if min_rep_s > 0 and last:
        calls = {name: max(inner, math.ceil(min_rep_s / max(last[name], 1e-6))) for name in names}
    times = {name: [] for name in names}
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            for _ in range(calls[name]):
                fns[name]()
            times[name].append((time.perf_counter() - start) / calls[name])
    return times


def self_timed(fns: dict, reps: int, warmup: int = 1) -> dict:
    """:func:`interleaved` for callables that return their own seconds.

    For work that must time itself from inside (a fit epoch without fit's
    per-call setup, a whole training run): ``{name: [seconds, one per rep]}``
    with the warm-up calls' own figures dropped.
    """
    measured = {name: [] for name in fns}
    interleaved({k: (lambda k=k, f=f: measured[k].append(f())) for k, f in fns.items()},
                reps=reps, warmup=warmup)
    return {name: values[warmup:] for name, values in measured.items()}


def median(values):
    return statistics.median(values)


def paired_ratio(times: dict, num: str, den: str) -> float:
    """Median over repetitions of ``times[num][r] / times[den][r]``."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:.2f} ms"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The CPU features that decide TensorFlow's and PyTorch's kernels here.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_flags() -> str:
    """Which of :data:`SIMD_FLAGS` /proc/cpuinfo lists (e.g. "avx2 fma")."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return " ".join(flag for flag in SIMD_FLAGS if flag in present) or "none"
    except OSError:
        pass
    return "unknown"


def machine() -> dict:
    """CPU model and flags, cores, TF/Keras versions (oneDNN on or off in
    this process), devices, date."""
    import keras
    import tensorflow as tf

    from keras_collapse import _cpu

    gpus = tf.config.list_physical_devices("GPU")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": cores,
        "gpus": ", ".join(g.name for g in gpus) or "none",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "onednn": {True: "on", False: "off"}.get(_cpu.onednn_enabled(), "unknown")
        + f" in this process, {_cpu.ONEDNN}={os.environ.get(_cpu.ONEDNN, 'unset')}",
        "keras": keras.__version__,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "load": load,
    }
