"""What every study shares: output directory, resumable units, claims, results.

A study is split into *units* (one training run each). :meth:`Study.unit`
computes a unit once and stores its JSON result under ``units/``; a study
started again with the same output directory reads finished units back
instead of recomputing them. Claims are collected as rows of the table a paper
would print and written, with figures, by :meth:`Study.finish`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time

import numpy as np

from keras_collapse import _cpu


def write_atomic(path, text):
    """Write `text` to `path` so a kill never leaves a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


def to_jsonable(value):
    """NumPy/TF scalars and arrays → plain JSON types (NaN/inf → None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def factory_name(factory):
    """``"convnet"``: the name of a class, function, ``functools.partial`` or gin
    reference that builds a library object."""
    return (getattr(factory, "__name__", None)
            or getattr(getattr(factory, "func", None), "__name__", None) or str(factory))


def describe_optimizer(factory):
    """``"SGD, lr 0.001"`` for an optimizer factory (a class or partial)."""
    optimizer = factory()
    rate = optimizer.learning_rate
    rate = float(rate.numpy()) if hasattr(rate, "numpy") else rate
    return f"{type(optimizer).__name__}, lr {rate:g}"


def _slug(key):
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)


class Study:
    """Output directory, resumable units, claims and figures of one study run.

    Args:
        output_dir: Directory receiving every artifact.
        name: The study's name (as in `keras-collapse list`).
        seed: The run's seed (recorded with the results).
        log: Callable receiving progress lines. Defaults to printing.
        strategy: The `tf.distribute.Strategy` studies build their Keras
            models under (`with study.strategy.scope(): ...`). Defaults to
            `None`: TensorFlow's default strategy.
    """

    def __init__(self, output_dir, name, seed=0, log=None, strategy=None):
        self.output_dir = os.path.abspath(output_dir)
        self.name = name
        self.seed = seed
        self.strategy = strategy
        self.claims = []
        self.figures = []
        self.tables = []
        self.measurements = {}
        self._log = log or (lambda line: print(line, flush=True))
        self._start = time.time()
        os.makedirs(self.units_dir, exist_ok=True)

    def scope(self):
        """`strategy.scope()` of the study's distribution strategy."""
        import tensorflow as tf

        return (self.strategy or tf.distribute.get_strategy()).scope()

    @property
    def units_dir(self):
        return os.path.join(self.output_dir, "units")

    def log(self, message):
        """Print a timestamped progress line."""
        elapsed = time.time() - self._start
        self._log(f"[{self.name} {elapsed:7.1f}s] {message}")

    def tensorboard_dir(self, key):
        """TensorBoard log directory for unit `key`."""
        return os.path.join(self.output_dir, "tensorboard", _slug(key))

    def model_path(self, key):
        """Where unit `key` saves its trained model (`models/<key>.keras`)."""
        return os.path.join(self.output_dir, "models", _slug(key) + ".keras")

    def unit(self, key, compute):
        """Return the JSON result of unit `key`, computing it only once.

        `compute()` must return a JSON-able dict (NumPy values are converted).
        """
        path = os.path.join(self.units_dir, _slug(key) + ".json")
        if os.path.exists(path):
            with open(path) as stream:
                self.log(f"{key}: finished earlier, read from {os.path.relpath(path)}")
                return json.load(stream)
        self.log(f"{key}: running")
        started = time.time()
        result = to_jsonable(compute())
        write_atomic(path, json.dumps(result))
        self.log(f"{key}: done in {time.time() - started:.1f}s")
        return result

    def claim(self, claim, paper, measured, holds):
        """Record one row: the paper's claim, its figure/table, what we measured."""
        self.claims.append(
            {"claim": claim, "paper": paper, "measured": measured, "holds": bool(holds)}
        )

    def table(self, title, header, rows):
        """Record a results table (e.g. the Table 1 analogue) for results.md."""
        self.tables.append({"title": title, "header": list(header), "rows": to_jsonable(rows)})

    def figure(self, figure, filename, caption):
        """Save a matplotlib figure as PNG in the output directory."""
        path = os.path.join(self.output_dir, filename)
        figure.savefig(path, dpi=110, bbox_inches="tight")
        self.figures.append({"file": filename, "caption": caption})
        return path

    def finish(self, operative_config="", command=""):
        """Write results.json and results.md atomically; return the results dict."""
        results = {
            "study": self.name,
            "seed": self.seed,
            "claims": self.claims,
            "tables": self.tables,
            "figures": self.figures,
            "measurements": to_jsonable(self.measurements),
            "environment": _environment(),
            "command": command,
        }
        write_atomic(os.path.join(self.output_dir, "results.json"), json.dumps(results, indent=2))
        write_atomic(os.path.join(self.output_dir, "results.md"), render_markdown(results))
        if operative_config:
            write_atomic(os.path.join(self.output_dir, "operative_config.gin"), operative_config)
        return results


def _environment():
    import keras
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "onednn": _cpu.onednn_enabled(),  # TensorFlow's oneDNN CPU kernels (keras_collapse/_cpu.py)
        "date": datetime.date.today().isoformat(),
    }


def render_markdown(results):
    """The table a paper would print: claim, paper's figure, measured, holds."""
    lines = [f"# {results['study']}", ""]
    if results.get("command"):
        lines += ["Produced by:", "", "```", results["command"], "```", ""]
    lines += [
        "| claim | paper | measured | holds |",
        "| --- | --- | --- | --- |",
    ]
    for row in results["claims"]:
        measured = str(row["measured"]).replace("|", "\\|")
        lines.append(
            f"| {row['claim']} | {row['paper']} | {measured} | "
            f"{'yes' if row['holds'] else '**no**'} |"
        )
    for table in results["tables"]:
        lines += ["", f"## {table['title']}", ""]
        lines.append("| " + " | ".join(table["header"]) + " |")
        lines.append("|" + " --- |" * len(table["header"]))
        for row in table["rows"]:
            cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
            lines.append("| " + " | ".join(cells) + " |")
    if results["figures"]:
        lines += ["", "## Figures", ""]
        for fig in results["figures"]:
            lines.append(f"- `{fig['file']}`: {fig['caption']}")
    env = results["environment"]
    lines += [
        "",
        f"Seed {results['seed']}; TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
        f"Python {env['python']}, {env['date']}.",
        "",
    ]
    return "\n".join(lines)
