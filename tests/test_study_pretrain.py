"""The paper-scale configs (gin/paper_scale/*.gin) run for a few steps on
`tfds.testing.mock_data` at a tiny image size, so none of them can rot; and
the pretrain protocol resumes where Keras' BackupAndRestore left off, and
ends with the offline linear evaluation of the saved encoder when bound.

Each config keeps its own objective, heads, optimizer, schedule, orderings
and augmentations; only sizes change here (images 16×16, batch 8, 2 epochs
of 2 steps, 16 examples, kNN on 16 / 8 images, float32 instead of the
configs' mixed precision: float16 convolutions on this CPU are emulated and
20× slower; mixed precision through a ResNet is tested in test_encoders.py).
"""

import glob
import json
import os

import gin
import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_collapse import studies
from keras_collapse.cli import paper_scale_configs
from keras_collapse.studies import pretrain as pretrain_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "gin", "paper_scale", "[!_]*.gin")))
TINY = [
    "pretrain.epochs = 2", "pretrain.steps_per_epoch = 2", "pretrain.batch_size = 8",
    "pretrain.max_examples = 16", "pretrain.knn_max_train_examples = 16",
    "pretrain.knn_max_test_examples = 8", "pretrain.knn_k = 5", "pretrain.shuffle_buffer = 16",
    "pretrain.policy = None", "encoders.resnet.input_shape = (16, 16, 3)",
    # the offline linear evaluation after training: off (it reloads and
    # retraces the encoder), but one epoch with crops of 16 where a test
    # turns it on
    "pretrain.linear_evaluation = None",
    "evaluation.linear_evaluation.epochs = 1", "evaluation.linear_evaluation.batch_size = 8",
    "probe/data.RandomResizedCrop.size = 16",
]


def tiny_bindings(path):
    with open(path) as stream:
        text = stream.read()
    bindings = list(TINY)
    if "_imagenet_resnet.gin" in text:
        bindings += ["train/data.CenterCrop.size = 20", "train/data.CenterCrop.resize = 20",
                     "eval/data.CenterCrop.size = 16", "eval/data.CenterCrop.resize = 18"]
    else:  # CIFAR's 32×32 test images: crop the centre 16×16 for the encoder
        bindings += ["pretrain.eval_preprocess = @data.CenterCrop()", "data.CenterCrop.size = 16"]
    # Views at 16×16 whichever augmentation the config builds (a binding of
    # an unused configurable is harmless; an explicit argument wins).
    return bindings + [f"data.{name}.size = 16"
                       for name in ("simclr_augment", "byol_augment", "RandomResizedCrop")]


def run(path, output_dir, extra=()):
    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([path], tiny_bindings(path) + list(extra),
                                            skip_unknown=False)
        with tfds.testing.mock_data(num_examples=16):
            return studies.experiment(output_dir=str(output_dir))
    finally:
        gin.clear_config()


def test_every_config_is_listed_with_its_reference():
    listed = paper_scale_configs()
    assert len(CONFIGS) == 9 and len(listed) == 9
    for path in CONFIGS:
        with open(path) as stream:
            text = stream.read()
        assert "Reference" in text or "reference" in text, path
        assert "pretrain.reference = " in text, path


def test_list_shows_each_configs_opening_clause_whole(capsys):
    """`keras-collapse list` gives each config's header up to the end of a
    sentence or of its `recipe (source)` (it printed the first line, cut
    mid-sentence: "… on CIFAR-10,")."""
    for name, summary in paper_scale_configs().items():
        assert summary.endswith((".", ")")), (name, summary)
        assert summary.count("(") == summary.count(")") and len(summary) < 300, (name, summary)
    assert paper_scale_configs()["paper_scale/cifar10_barlow_twins"] == (
        "Barlow Twins (Zbontar et al. 2021, arXiv 2103.03230) on CIFAR-10: the run behind "
        "solo-learn's 92.10 (online linear top-1), vturrisi/solo-learn @ fca55e3 (2021-07-09)")
    from keras_collapse import cli

    assert cli.main(["list"]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    for summary in paper_scale_configs().values():
        assert summary in listed


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_runs_a_few_steps_on_mock_data(path, tmp_path):
    results = run(path, tmp_path)
    measured = results["measurements"]
    assert measured["epochs_run"] == 2
    assert 0.0 <= measured["final_knn_accuracy"] <= 1.0
    with open(tmp_path / "history.csv") as stream:
        assert len(stream.read().strip().splitlines()) == 3  # header + 2 epochs
    assert os.path.exists(tmp_path / "models" / "pretrain.keras")
    assert os.path.exists(tmp_path / "curves.png")
    config = (tmp_path / "operative_config.gin").read_text()
    assert "pretrain.reference" in config


def test_the_offline_linear_evaluation_follows_training(tmp_path):
    """Li et al.'s Table 2 config with its linear evaluation (main_lincls.py's
    recipe: a LARS probe bound in a gin scope; one epoch here) on ImageNet's
    mock: on the encoder just trained, and, in a run resumed after training
    (its unit read back), on the encoder of the saved model; the top-1 is
    measured and tabled."""
    path = os.path.join(ROOT, "gin", "paper_scale", "li2022_table2.gin")
    evaluate = ["pretrain.linear_evaluation = @evaluation.linear_evaluation"]
    first = run(path, tmp_path, evaluate)["measurements"]["linear_evaluation_accuracy"]
    assert 0.0 <= first <= 1.0
    unit = tmp_path / "units" / "linear_evaluation.json"
    assert len(json.loads(unit.read_text())["history"]["loss"]) == 1
    assert "offline linear evaluation" in (tmp_path / "results.md").read_text()
    unit.unlink()
    again = run(path, tmp_path, evaluate)["measurements"]
    assert again["epochs_run"] == 2 and 0.0 <= again["linear_evaluation_accuracy"] <= 1.0
    assert unit.exists()


def test_a_killed_run_resumes_at_its_epoch_in_the_ordering(tmp_path):
    """BackupAndRestore's metadata sets the epoch the data pipeline starts at:
    a single-pass run resumed at epoch 1 reads epoch 1's chunk, and fit runs
    only the remaining epoch."""
    path = os.path.join(ROOT, "gin", "paper_scale", "li2022_single_pass_moco_byol.gin")
    # What the killed run wrote at its start, before its backup: the record of
    # its configuration (without it the backup would not be read back).
    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([path], tiny_bindings(path), skip_unknown=False)
        studies.check_configuration(
            str(tmp_path), studies.configuration("pretrain", 0, "default", False, 1))
    finally:
        gin.clear_config()
    backup = tmp_path / "backup"
    os.makedirs(backup)
    assert pretrain_module._resume_epoch(str(backup)) == 0
    with open(backup / "training_metadata.json", "w") as stream:
        json.dump({"epoch": 1, "batch": -1}, stream)
    assert pretrain_module._resume_epoch(str(backup)) == 1
    results = run(path, tmp_path)
    assert results["measurements"]["epochs_run"] == 1
    unit = json.loads((tmp_path / "units" / "pretrain.json").read_text())
    assert unit["initial_epoch"] == 1
    assert np.isfinite(unit["history"]["loss"][0])
