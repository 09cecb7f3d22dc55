"""Whole training steps against PyTorch on the same CPU: a CIFAR ResNet-18
SimCLR step and a supervised step, keras_collapse's ``fit`` against a plain
PyTorch eager loop.

    python -m benchmarks.run --only bench_torch      # updates these rows of BENCHMARKS.md

Contenders (each its own process: ``benchmarks/kc_step.py``,
``benchmarks/torch_step.py``, the same model, objective and optimizer):

* **kc default**: the path the package takes by default where it controls
  start-up (the ``keras-collapse`` command: ``keras_collapse/_cpu.py`` turns
  TensorFlow's oneDNN kernels on), ``jit_compile=False``;
* **kc oneDNN off**: ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's own default on
  CPUs without AVX-512 (what a library user there gets without setting it);
* **kc XLA**: the default with ``compile(jit_compile=True)``; its compilation
  (the first unit) is reported apart, with the steps after which it pays;
* **torch eager**, **torch channels_last** (the model and inputs in
  ``torch.channels_last``), from a virtual environment this benchmark creates
  with ``pip install torch==2.13.0 numpy`` (``$KC_BENCH_TORCH_PYTHON`` names another
  interpreter with torch instead; none at the tiny size unless it is set).

All workers start one after the other and stay alive; then, rep after rep,
each in turn (rotated) runs a unit of steps while the others wait on their
input, so exactly one process computes at a time. A ratio is the median over
reps of the per-rep ratio of wall seconds per step; CPU seconds (the
process's, all threads) are in the detail.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from benchmarks import _timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_VERSION = "2.13.0"
VENV = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                    "keras_collapse", f"bench-torch-{TORCH_VERSION}")

KC = ("kc default", "kc oneDNN off", "kc XLA")
# tiny (the test suite): the default path only, in worker processes as at full
# size; quick: every contender at batch 32, a check on a loaded machine.
SIZES = {
    "tiny": dict(batch=2, image=8, steps=1, reps=1, kc=KC[:1]),
    "quick": dict(batch=32, image=32, steps=1, reps=3, kc=KC),
    "full": dict(batch=128, image=32, steps=3, reps=5, kc=KC),
}
TASKS = {"ssl": "SimCLR step", "supervised": "supervised step"}
TARGETS = {("ssl", "kc default"): 1.0}
SUPERVISED = "kc default, supervised step"
SSL_OVER_SUPERVISED = 2.2


def torch_python(create: bool):
    """An interpreter with torch: ``$KC_BENCH_TORCH_PYTHON``, else the venv
    under the cache (created with pip when ``create``), else ``None``."""
    if os.environ.get("KC_BENCH_TORCH_PYTHON"):
        return os.environ["KC_BENCH_TORCH_PYTHON"]
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python) and create:
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"torch=={TORCH_VERSION}",
                        "numpy"], check=True)
    return python if os.path.exists(python) else None


def _environment(onednn):
    """This process's environment with oneDNN as the contender needs it."""
    from keras_collapse import _cpu

    env = {k: v for k, v in os.environ.items() if k != _cpu.ONEDNN}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return _cpu.prefer_onednn(env) if onednn == "default" else {**env, _cpu.ONEDNN: onednn}


def contenders(cfg, task, torch):
    """``{name: (command, environment)}`` for one task."""
    args = ["--task", task, "--batch", str(cfg["batch"]), "--image", str(cfg["image"])]
    kc = [sys.executable, "-m", "benchmarks.kc_step", *args]
    out = {"kc default": (kc, _environment("default")),
           "kc oneDNN off": (kc, _environment("0")),
           "kc XLA": (kc + ["--jit"], _environment("default"))}
    out = {name: out[name] for name in cfg["kc"]}
    if task == "ssl":  # the supervised step interleaved with the SimCLR step, for their ratio
        supervised = ["--task", "supervised", *args[2:]]
        out[SUPERVISED] = ([*kc[:3], *supervised], _environment("default"))
    if torch:
        out["torch eager"] = ([torch, "-m", "benchmarks.torch_step", *args], dict(os.environ))
        out["torch channels_last"] = (out["torch eager"][0] + ["--channels-last"],
                                      dict(os.environ))
    return out


class Worker:
    """One contender's process (``benchmarks/_worker.py``'s protocol)."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.ready = self._answer()

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.args} exited "
                               f"(return code {self.process.wait()})")
        return json.loads(line)

    def steps(self, n):
        self.process.stdin.write(f"steps {n}\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=120)


def _log(message):
    print(f"[bench_torch] {message}", file=sys.stderr, flush=True)


def measure(cfg, task, torch):
    """``(ready facts, {name: [per-rep {"wall_s", "cpu_s"}]})`` for one task."""
    workers = {}
    try:
        for name, (command, env) in contenders(cfg, task, torch).items():
            workers[name] = Worker(command, env)
            _log(f"{task}, {name}: ready {workers[name].ready}")
        results = {name: [] for name in workers}
        names = list(workers)
        for rep in range(cfg["reps"]):
            k = rep % len(names)
            for name in names[k:] + names[:k]:
                results[name].append(workers[name].steps(cfg["steps"]))
                _log(f"{task}, {name}, rep {rep + 1}: {results[name][-1]}")
        return {name: w.ready for name, w in workers.items()}, results
    finally:
        for worker in workers.values():
            worker.close()


def _ratio(results, num, den, key="wall_s"):
    return statistics.median(a[key] / b[key] for a, b in zip(results[num], results[den]))


def _median(results, name, key="wall_s"):
    return statistics.median(r[key] for r in results[name])


def _xla_note(ready, results):
    """Compile time of XLA's first unit and the steps after which it pays."""
    extra = ready["kc XLA"]["first_s"] - ready["kc default"]["first_s"]
    saved = _median(results, "kc default") - _median(results, "kc XLA")
    if saved <= 0:
        pays = "never pays (slower per step)"
    elif extra <= 0:
        pays = "no compilation cost measurable in this run"
    else:
        pays = f"pays after {extra / saved:.0f} steps"
    return (f"XLA's first unit (2 steps, compilation included) "
            f"{ready['kc XLA']['first_s']:.1f} s vs {ready['kc default']['first_s']:.1f} s "
            f"without: {pays}")


def rows_for(task, cfg, ready, results):
    reference = "torch eager" if "torch eager" in results else "kc default"
    label = TASKS[task]
    rows = []
    for name in results:
        if name in (reference, SUPERVISED):
            continue
        detail = (f"batch {cfg['batch']}{' × 2 views' if task == 'ssl' else ''}, "
                  f"{cfg['image']}×{cfg['image']}: {name} {_timing.ms(_median(results, name))}"
                  f" vs {reference} {_timing.ms(_median(results, reference))} per step, wall "
                  f"(CPU {_timing.ms(_median(results, name, 'cpu_s'))} vs "
                  f"{_timing.ms(_median(results, reference, 'cpu_s'))}; CPU-time ratio "
                  f"{_ratio(results, name, reference, 'cpu_s'):.2f}); "
                  f"{cfg['reps']} interleaved units of {cfg['steps']} steps; "
                  f"oneDNN {'on' if ready[name].get('onednn', True) else 'off'}")
        if name == "kc XLA" and "kc default" in results:
            detail += "; " + _xla_note(ready, results)
        rows.append({"group": "torch", "name": f"{label}, {name} / {reference}",
                     "ratio": _ratio(results, name, reference),
                     "target": TARGETS.get((task, name)) if reference == "torch eager" else None,
                     "detail": detail})
    return rows


def _ssl_over_supervised(measured):
    """The SimCLR step over the supervised step, kc default: both measured
    interleaved in the SimCLR session (torch eager's ratio, from the two
    sessions' medians, beside it)."""
    results = measured["ssl"][1]
    torch = ""
    if "torch eager" in results:
        other = measured["supervised"][1]
        wall, cpu = (_median(results, "torch eager", key) / _median(other, "torch eager", key)
                     for key in ("wall_s", "cpu_s"))
        torch = f"; torch eager {wall:.2f} (CPU time {cpu:.2f}; medians of the two sessions)"
    facts = measured["ssl"][0]
    return {
        "group": "torch", "name": "SimCLR step / supervised step, kc default",
        "ratio": _ratio(results, "kc default", SUPERVISED), "target": SSL_OVER_SUPERVISED,
        "detail": f"{_timing.ms(_median(results, 'kc default'))} vs "
                  f"{_timing.ms(_median(results, SUPERVISED))} per step, interleaved "
                  f"(CPU-time ratio {_ratio(results, 'kc default', SUPERVISED, 'cpu_s'):.2f}): "
                  "two views of the batch, the projection head and NT-Xent against one view "
                  f"and a Dense(10){torch}; "
                  + ", ".join(f"{name}: {fact.get('framework')}, peak RSS "
                              f"{fact.get('max_rss_mib', 0):.0f} MiB"
                              for name, fact in facts.items())}


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"tiny", "quick", "full"}``."""
    cfg = SIZES[size]
    torch = torch_python(create=size != "tiny")
    measured = {task: measure(cfg, task, torch) for task in TASKS}
    rows = []
    for task, (ready, results) in measured.items():
        rows += rows_for(task, cfg, ready, results)
    return rows + [_ssl_over_supervised(measured)]


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "tiny"):
        print(row)
