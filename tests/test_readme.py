"""The README runs as written: its API tour (the ```python blocks, in order)
and its quick start on a folder of images, followed by `keras-collapse report`."""

import json
import os
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_collapse import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_START = "<!-- quickstart: images -->"


def _blocks():
    """`[(marker or "", code)]` of the README's ```python blocks, in order."""
    with open(os.path.join(ROOT, "README.md")) as stream:
        return re.findall(r"(<!-- [^>]* -->\n)?```python\n(.*?)```", stream.read(), flags=re.S)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    """Every block but the quick start (run on its image folder below)."""
    blocks = [code for marker, code in _blocks() if marker.strip() != QUICK_START]
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "runs" / "readme" / "spectrum.png").stat().st_size > 0
    assert namespace["probe"].accuracy > 0.5


def write_pngs(directory, count, size):
    """`count` random RGB PNGs of `size` in two class folders."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = directory / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        tf.io.write_file(str(folder / f"{i:03d}.png"), tf.io.encode_png(image))


def test_quick_start_trains_on_a_folder_of_pngs_and_reports_it(tmp_path, monkeypatch, capsys):
    """The README's quick start on a folder of PNGs it did not make (of a size
    other than the one it asks for), then `keras-collapse report` on the saved
    SiameseModel and on a plain Keras classifier."""
    (code,) = [code for marker, code in _blocks() if marker.strip() == QUICK_START]
    monkeypatch.chdir(tmp_path)
    write_pngs(tmp_path / "my_images", 128, (48, 40))
    namespace = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    history = namespace["model"].history.history["loss"]
    assert len(history) == 2 and np.all(np.isfinite(history))

    assert cli.main(["report", "simclr.keras", "--images", "my_images"]) == 0
    printed = capsys.readouterr().out
    assert "128 images from my_images, centre-cropped and resized to 32×32" in printed
    assert "(encoder output)" in printed and "(head output)" in printed
    result = json.loads((tmp_path / "collapse_report" / "report.json").read_text())
    outputs = result["models"]["A"]["outputs"]
    assert [len(outputs[k]["eigenvalues"]) for k in ("representation", "embedding")] == [64, 64]
    assert (tmp_path / "collapse_report" / "spectrum_embedding.png").stat().st_size > 0

    classifier = keras.Sequential([
        keras.Input((24, 24, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, name="logits")])
    classifier.save("classifier.keras")
    assert cli.main(["report", "classifier.keras", "--images", "my_images",
                     "--output_dir", "classifier_report"]) == 0
    printed = capsys.readouterr().out
    assert "resized to 24×24, pixel values in [0, 255]" in printed
    assert "(input of final Dense 'logits')" in printed
    outputs = json.loads((tmp_path / "classifier_report" / "report.json").read_text())[
        "models"]["A"]["outputs"]
    assert [len(outputs[k]["eigenvalues"]) for k in ("features", "output")] == [8, 2]
