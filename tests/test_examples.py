"""The scripts in examples/ run, at their `--tiny` size: in this process,
except the MirroredStrategy one (it configures devices before TensorFlow
starts, so it runs in its own process)."""

import os
import runpy
import subprocess
import sys

import numpy as np
import tensorflow as tf

from studytools import ROOT

EXAMPLES = os.path.join(ROOT, "examples")


def _main(name):
    return runpy.run_path(os.path.join(EXAMPLES, name))["main"]


def test_every_example_is_tested():
    tested = {"simclr_image_folder.py", "vicreg_werank.py", "report_saved_model.py",
              "mirrored_strategy.py"}
    assert set(n for n in os.listdir(EXAMPLES) if n.endswith(".py")) == tested


def test_simclr_on_an_image_folder(tmp_path, capsys):
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(40):
        image = rng.integers(0, 256, (30 + i % 3, 36, 3), dtype=np.uint8)
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(image))
    _main("simclr_image_folder.py")(["--tiny", "--images", str(tmp_path / "photos"),
                                     "--output_dir", str(tmp_path / "run")])
    printed = capsys.readouterr().out
    assert "representation: effective rank" in printed and "embedding: effective rank" in printed
    assert (tmp_path / "run" / "simclr.keras").stat().st_size > 0


def test_vicreg_with_werank_and_the_spectrum_logger(tmp_path):
    history = _main("vicreg_werank.py")(["--tiny", "--log_dir", str(tmp_path / "logs")])
    assert len(history.history["collapse/embedding/effective_rank"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))
    assert any((tmp_path / "logs").rglob("events.out.tfevents.*"))


def test_report_of_a_saved_model(tmp_path):
    reports = _main("report_saved_model.py")(["--tiny", "--output_dir", str(tmp_path)])
    assert set(reports) == {"representation", "embedding"}
    assert reports["representation"].num_samples == 200
    assert (tmp_path / "spectrum_embedding.png").stat().st_size > 0


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    completed = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "mirrored_strategy.py"), "--tiny"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 replicas" in completed.stdout and "final loss" in completed.stdout
