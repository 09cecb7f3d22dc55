"""What every study shares: output directory, resumable units, claims, results.

A study is split into *units* (one training run each). :meth:`Study.unit`
computes a unit once and stores its JSON result under ``units/``; a study
started again with the same output directory reads finished units back
instead of recomputing them, provided the directory's ``configuration.json``
(:func:`check_configuration`) says they were computed under the same
configuration. Claims are collected as rows of the table a paper would print
and written, with figures, by :meth:`Study.finish`.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import platform
import re
import secrets
import sys
import time

import numpy as np

from keras_collapse import _cpu


HOLDS, DOES_NOT_HOLD, UNTESTABLE = "holds", "does not hold", "untestable here"
VERDICTS = (HOLDS, DOES_NOT_HOLD, UNTESTABLE)


def write_atomic(path, text):
    """Write `text` to `path` so a kill never leaves a half-written file.

    The file gets the permissions any new file gets (0666 less the umask),
    as `open(path, "w")` would give it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{secrets.token_hex(4)}")
    handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
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


#: TensorBoard's Scalars, Images and Histograms tabs select every run when it
#: opens only if there are at most this many (`maxNamesToEnableByDefault` of
#: its run selector, `tf-multi-checkbox`); with more they open empty.
TENSORBOARD_MAX_RUNS = 40
#: The run that a study's units past its run budget share, each unit's tags
#: under its own name (``<unit>/collapse/...``).
SHARED_RUN = "other_units"


#: Tag prefixes of the studies' `SpectrumLogger`s. TensorBoard draws every
#: run holding a tag on one chart, with one x axis: the toy studies log per
#: optimizer step (iteration), the image studies per epoch, each under its own.
PER_STEP, PER_EPOCH = "collapse_vs_iteration", "collapse_vs_epoch"


#: Beside `units/`: the configuration its units were computed under.
CONFIGURATION_FILE = "configuration.json"


class ConfigurationChanged(ValueError):
    """The output directory holds units computed under another configuration."""


def saved_results(output_dir):
    """What a study run into `output_dir` would read back, as a phrase
    (`"2 finished unit(s)"`), or `""`: its finished units (`units/*.json`;
    the tour's parts' `<part>/units/*.json`) and the Keras training backup of
    a paper-scale run (`backup/`).

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> saved_results(folder)
    ''
    >>> write_atomic(os.path.join(folder, "werank2023", "units", "k=0.1.json"), "{}")
    >>> saved_results(folder)
    '1 finished unit(s)'
    """
    units = glob.glob(os.path.join(output_dir, "units", "*.json")) + glob.glob(
        os.path.join(output_dir, "*", "units", "*.json"))
    backup = glob.glob(os.path.join(output_dir, "backup", "**", "*"), recursive=True)
    saved = [f"{len(units)} finished unit(s)"] if units else []
    saved += ["a training backup"] if any(os.path.isfile(path) for path in backup) else []
    return " and ".join(saved)


def _differences(recorded, current, where=""):
    """`["werank2023.steps = 50 there, 400 now", ...]` between two records."""
    lines = []
    for key in sorted(set(recorded) | set(current), key=str):
        old, new = recorded.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            lines += _differences(old, new, "" if key == "bindings" else f"{where}{key}.")
        elif old != new:
            lines.append(f"{where}{key} = {'(unset)' if old is None else old} there, "
                         f"{'(unset)' if new is None else new} now")
    return lines


def check_configuration(output_dir, configuration):
    """Record `configuration` in `output_dir`, unless the results it holds
    were computed under another one.

    A unit (or a training backup) is read back only when the configuration
    that produced it is the one asked for now, so a changed binding never
    passes old results off as new ones. Resuming with the same command (same
    bindings, same versions) finds the same record and reads every finished
    unit back.

    Args:
        output_dir: The study's output directory.
        configuration: A JSON-able dict identifying the run (its gin
            bindings in effect, seed, strategy, package versions).

    Raises:
        ConfigurationChanged: when `output_dir` holds saved results
            (:func:`saved_results`) and no record, or a record that differs;
            the message names each difference.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_configuration(folder, {"bindings": {"toy.steps": "50"}})
    >>> write_atomic(os.path.join(folder, "units", "a.json"), "{}")
    >>> check_configuration(folder, {"bindings": {"toy.steps": "50"}})  # resumed
    >>> try:
    ...     check_configuration(folder, {"bindings": {"toy.steps": "400"}})
    ... except ConfigurationChanged as error:
    ...     print(str(error).split(": ")[1])
    toy.steps = 50 there, 400 now. Give another --output_dir, or delete it to start afresh.
    """
    path = os.path.join(output_dir, CONFIGURATION_FILE)
    saved = saved_results(output_dir)
    if saved:
        recorded = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                recorded = json.load(stream)
        if recorded != configuration:
            changes = ("no record of the configuration they were computed under"
                       if recorded is None
                       else "; ".join(dict.fromkeys(_differences(recorded, configuration))))
            raise ConfigurationChanged(
                f"{output_dir} holds {saved} that this run would read back as its own, "
                f"computed under another configuration: {changes}. Give another "
                "--output_dir, or delete it to start afresh.")
    write_atomic(path, json.dumps(configuration, indent=1, sort_keys=True) + "\n")


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
        tensorboard_root: The directory holding the study's TensorBoard runs
            (:meth:`tensorboard_dir`). Defaults to `<output_dir>/tensorboard`.
        tensorboard_runs: How many runs the study may write there: its units
            get a run each while there is room for it and for the shared run
            `other_units`, where the later units write their tags under their
            own names. Defaults to `TENSORBOARD_MAX_RUNS - 1` (the last one
            is the `config` run).
    """

    def __init__(self, output_dir, name, seed=0, log=None, strategy=None,
                 tensorboard_root=None, tensorboard_runs=TENSORBOARD_MAX_RUNS - 1):
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
        self.tensorboard_root = os.path.abspath(
            tensorboard_root or os.path.join(self.output_dir, "tensorboard"))
        self.tensorboard_runs = int(tensorboard_runs)
        self._runs = set()  # the run directories handed out
        self._shared = None  # the unit writing into SHARED_RUN now
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
        """TensorBoard run directory for `key` (a unit, or a part of one).

        `<tensorboard_root>/<key>`, or, inside a unit past the study's run
        budget (`tensorboard_runs`), the shared run `<tensorboard_root>/other_units`,
        where :meth:`unit` puts the unit's tags under its name. So
        `tensorboard --logdir` on a study or on the tour opens with at most
        `TENSORBOARD_MAX_RUNS` runs, all selected, every unit's charts there.
        """
        path = os.path.join(self.tensorboard_root,
                            SHARED_RUN if self._shared is not None else _slug(key))
        self._runs.add(path)
        return path

    @property
    def tensorboard_runs_used(self):
        """How many TensorBoard runs the study has handed out (:meth:`tensorboard_dir`)."""
        return len(self._runs)

    @contextlib.contextmanager
    def _tensorboard_run(self, key):
        """Own runs for `key` while the budget leaves room for it and the shared
        run; else the shared run, with the unit's summaries under its name (a
        `tf.name_scope`: tags only, the computation is the same)."""
        own = os.path.join(self.tensorboard_root, _slug(key))
        if os.path.isdir(own) or len(self._runs) + 2 <= self.tensorboard_runs:
            yield
            return
        import tensorflow as tf

        self._shared = key
        try:
            with tf.name_scope(_slug(key)):
                yield
        finally:
            self._shared = None

    def progress(self, key):
        """A Keras callback logging unit `key`'s training progress and time
        left through :meth:`log`, at most every ~10 s
        (:class:`~keras_collapse.studies._progress.Progress`)."""
        from keras_collapse.studies import _progress

        return _progress.Progress(self.log, key)

    def model_path(self, key):
        """Where unit `key` saves its trained model (`models/<key>.keras`)."""
        return os.path.join(self.output_dir, "models", _slug(key) + ".keras")

    def unit(self, key, compute):
        """Return the JSON result of unit `key`, computing it only once.

        `compute()` must return a JSON-able dict (NumPy values are converted).
        """
        path = os.path.join(self.units_dir, _slug(key) + ".json")
        own_run = os.path.join(self.tensorboard_root, _slug(key))
        if os.path.isdir(own_run):  # written earlier: it counts against the budget
            self._runs.add(own_run)
        if os.path.exists(path):
            with open(path) as stream:
                self.log(f"{key}: finished earlier, read from {os.path.relpath(path)}")
                return json.load(stream)
        self.log(f"{key}: running")
        started = time.time()
        with self._tensorboard_run(key):
            result = to_jsonable(compute())
        write_atomic(path, json.dumps(result))
        self.log(f"{key}: done in {time.time() - started:.1f}s")
        return result

    def claim(self, claim, paper, measured, verdict, *, criterion="", setup="the paper's"):
        """Record one row of the results table.

        Args:
            claim: The paper's statement, in a few words.
            paper: Where the paper makes it (figure, table, theorem).
            measured: What this run measured, with the numbers the criterion reads.
            verdict: `True`/`HOLDS`, `False`/`DOES_NOT_HOLD`, or `UNTESTABLE`
                (the claim cannot be tested at this scale; `measured` then says
                what would test it).
            criterion: The measure, criterion and threshold as fixed in the
                study's `.gin` file before the full-size run (with a changed
                criterion, both outcomes are reported in `measured`).
            setup: `"the paper's"` where the set-up is the paper's (or its
                authors' code's), else what differs (e.g. "regime chosen after
                a search in which the claim held"); a "does not hold" is a
                finding only with the paper's set-up.
        """
        if verdict is True or verdict is False or isinstance(verdict, np.bool_):
            verdict = HOLDS if verdict else DOES_NOT_HOLD
        if verdict not in VERDICTS:
            raise ValueError(
                f"Invalid value for argument `verdict`. Expected True, False or one of "
                f"{VERDICTS}. Received: verdict={verdict!r}"
            )
        self.claims.append({
            "claim": claim, "paper": paper, "criterion": criterion, "measured": measured,
            "verdict": verdict, "holds": verdict == HOLDS, "setup": setup,
        })

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


def _escaped(value):
    """`value` as the text of a markdown table cell: `|` escaped (it would end
    the cell; `tour.full_size_claims` reads `\\|` back as text)."""
    return str(value).replace("|", "\\|")


def render_markdown(results):
    """The table a paper would print: claim, paper's figure, measured, holds."""
    lines = [f"# {results['study']}", ""]
    if results.get("command"):
        lines += ["Produced by:", "", "```", results["command"], "```", ""]
    lines += [
        "| claim | paper | criterion (fixed before the run) | measured | verdict | set-up |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["claims"]:
        cells = [_escaped(row.get(key, "")) for key in ("claim", "paper", "criterion", "measured")]
        verdict = row.get("verdict", HOLDS if row["holds"] else DOES_NOT_HOLD)
        cells.append(verdict if verdict == HOLDS else f"**{verdict}**")
        cells.append(_escaped(row.get("setup", "")))
        lines.append("| " + " | ".join(cells) + " |")
    for table in results["tables"]:
        lines += ["", f"## {table['title']}", ""]
        lines.append("| " + " | ".join(table["header"]) + " |")
        lines.append("|" + " --- |" * len(table["header"]))
        for row in table["rows"]:
            cells = [f"{v:.4g}" if isinstance(v, float) else _escaped(v) for v in row]
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
