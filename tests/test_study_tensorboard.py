"""The studies' TensorBoard layout and progress lines (studies/_harness.py, _progress.py)."""

import glob
import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from keras_collapse.studies import _harness, _progress, tour

#: Units per part of a tour-like run (the tour of 2026-12-07 wrote 4, 4, 14,
#: 18, 4 and 8 runs: 52 with its config run, past TensorBoard's 40).
TOUR_UNITS = {"jing_a": 4, "jing_b": 4, "werank": 14, "ziyin": 18, "directclr": 4, "li": 8}


def _write(log_dir, value):
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=0):
        tf.summary.scalar("collapse/x", float(value))
    writer.close()
    return {"x": value}


def _part(name, units):
    def part(study):
        for index in range(units):
            key = f"unit {index}/seed=0"
            study.unit(key, lambda key=key, index=index: _write(study.tensorboard_dir(key), index))
    part.__name__ = name
    return part


def _runs(root):
    """{run directory relative to `root`: {tag: value}}."""
    runs = {}
    for path in sorted({os.path.dirname(p) for p in glob.glob(
            os.path.join(root, "**", "events.out.tfevents.*"), recursive=True)}):
        acc = event_accumulator.EventAccumulator(path)
        acc.Reload()
        runs[os.path.relpath(path, root)] = {
            tag: float(tf.make_ndarray(acc.Tensors(tag)[0].tensor_proto))
            for tag in acc.Tags()["tensors"]}
    return runs


def test_tour_layout_fits_tensorboards_default_selection(tmp_path):
    """`tensorboard --logdir <tour>` finds at most 40 runs (so it selects them
    all), named `tensorboard/<part>/<unit>`; units past a part's share write
    into `<part>/other_units` under their own name; every unit's data is there."""
    study = _harness.Study(str(tmp_path), "tour", log=lambda line: None)
    tour.tour(study, parts=[_part(name, units) for name, units in TOUR_UNITS.items()])
    runs = _runs(str(tmp_path))
    assert len(runs) <= _harness.TENSORBOARD_MAX_RUNS - 1  # and the config run
    assert all(run.split(os.sep)[:2] == ["tensorboard", run.split(os.sep)[1]]
               and run.split(os.sep)[1] in TOUR_UNITS for run in runs), runs
    found = {}
    for run, tags in runs.items():
        _, part, name = run.split(os.sep)
        for tag, value in tags.items():
            unit = name if name != _harness.SHARED_RUN else tag.split("/")[0]
            found[part, unit] = value
    assert found == {(part, f"unit_{i}_seed=0"): i
                     for part, units in TOUR_UNITS.items() for i in range(units)}
    # Small parts keep a run per unit; the large ones their first units.
    assert "tensorboard/jing_a/unit_3_seed=0".replace("/", os.sep) in runs
    assert "tensorboard/werank/unit_0_seed=0".replace("/", os.sep) in runs
    assert "tensorboard/ziyin/other_units".replace("/", os.sep) in runs


def test_a_resumed_study_keeps_its_runs(tmp_path):
    """Units read back count their runs, so a resumed study writes the same layout."""
    layouts = []
    for _ in range(2):
        study = _harness.Study(str(tmp_path), "s", log=lambda line: None, tensorboard_runs=4)
        _part("s", 3)(study)
        study.unit("late", lambda: _write(study.tensorboard_dir("late"), 9))
        layouts.append(_runs(study.tensorboard_root))
        os.remove(os.path.join(study.units_dir, "late.json"))  # computed again next time
    assert layouts[0] == layouts[1]
    assert sorted(layouts[0]) == ["other_units", "unit_0_seed=0", "unit_1_seed=0",
                                  "unit_2_seed=0"]
    assert layouts[0]["other_units"] == {"late/collapse/x": 9.0}


def test_progress_lines_go_through_the_study_log(tmp_path):
    lines = []
    study = _harness.Study(str(tmp_path), "werank2023", log=lines.append)
    assert study.progress("k").every_seconds >= 10  # quiet in short runs and tests
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=2)
    x = np.zeros((16, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0,
              callbacks=[study.progress("infonce/seed=0"),
                         _progress.Progress(study.log, "infonce/seed=0", every_seconds=0)])
    assert len(lines) == 2
    assert lines[0].startswith("[werank2023 ")
    assert lines[0].split("] ")[1].startswith("infonce/seed=0: 2/4 steps, ~")
    assert lines[1].split("] ")[1] == "infonce/seed=0: 4/4 steps, ~0s left"


def test_a_resumed_run_times_only_its_own_steps(monkeypatch):
    """Resumed at epoch 2 of 2 (BackupAndRestore, initial_epoch), 5 steps in
    5 s: 5 steps left take ~5 s, not the 5/15·5 ≈ 2 s of counting the
    first epoch's 10 steps as this run's."""
    clock = iter([0.0, 5.0])
    monkeypatch.setattr(_progress.time, "monotonic", lambda: next(clock))
    lines = []
    progress = _progress.Progress(lines.append, "pretrain", every_seconds=0)
    progress.set_params({"epochs": 2, "steps": 10})
    progress.on_train_begin()
    progress.on_epoch_begin(1)
    progress.on_train_batch_end(4)
    assert lines == ["pretrain: epoch 2/2, 15/20 steps, ~5s left"]
