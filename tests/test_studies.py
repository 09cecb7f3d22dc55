"""What every study shares: gin files, the CLI, resuming and reproducibility."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import gin
import pytest

from keras_collapse import studies
import studytools
from keras_collapse import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN_FILES = sorted(glob.glob(os.path.join(ROOT, "gin", "*.gin")))

# A strong-augmentation run small enough for a few seconds: two units (k values).
SMALL = [
    "jing2022_strong_augmentation.noise_stds = (0.5, 3.0)",
    "jing2022_strong_augmentation.steps = 300",
    "jing2022_strong_augmentation.num_samples = 500",
    "jing2022_strong_augmentation.probe_size = 200",
    "jing2022_strong_augmentation.x_samples = 64",
    "jing2022_strong_augmentation.record_every = 50",
]


def _argv(output_dir, extra=()):
    return studytools.argv("jing2022_strong_augmentation", output_dir, [*SMALL, *extra])


def _comparable(path):
    """results.json without what legitimately differs between runs."""
    results = json.loads((path / "results.json").read_text())
    for key in ("environment", "command"):
        results.pop(key)
    return results


def test_every_study_has_a_gin_file_and_a_description():
    names = {os.path.basename(p)[: -len(".gin")] for p in GIN_FILES}
    assert set(studies.available()) == set(studies.STUDY_NAMES)
    assert names == set(studies.STUDY_NAMES)
    for name, line in studies.describe().items():
        assert line, f"{name} has no one-line description"


@pytest.mark.parametrize("path", GIN_FILES, ids=os.path.basename)
def test_gin_file_parses_with_unknown_bindings_refused(path):
    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([path], [], finalize_config=False, skip_unknown=False)
        assert gin.query_parameter("experiment.study") is not None
        studies.check_bindings()  # every shipped binding has its parameter's type
    finally:
        gin.clear_config()
    with open(path) as stream:
        text = stream.read()
    header = text.split("\n\n")[0]
    assert header.startswith("# ") and "arXiv" in header, "opens with a comment naming the paper"


def test_library_objects_are_gin_configurables_a_binding_can_swap():
    """Objectives, data, optimizers and schedules are registered; a scoped
    binding builds the configured object (what the study .gin files rely on)."""
    import keras

    import keras_collapse as kc

    studies.load_all()
    for name in ("losses.InfoNCE", "losses.BYOL", "regularizers.WERank", "layers.ProjectionHead",
                 "models.SiameseModel", "data.two_views", "data.synthetic_gaussian",
                 "data.isotropic_noise", "data.SinglePass", "optimizers.SGD", "optimizers.AdamW",
                 "schedules.CosineDecay", "regularizers.L2"):
        assert gin.get_configurable(name) is not None, name
    gin.clear_config()
    try:
        gin.parse_config(["probe/losses.InfoNCE.temperature = 0.3",
                          "probe/losses.InfoNCE.similarity = 'gaussian'",
                          "probe/optimizers.SGD.learning_rate = 0.02"])
        with gin.config_scope("probe"):
            loss = gin.get_configurable("losses.InfoNCE")()
            optimizer = gin.get_configurable("optimizers.SGD")()
        assert isinstance(loss, kc.losses.InfoNCE) and loss.temperature == 0.3
        assert loss.similarity == "gaussian"
        assert isinstance(optimizer, keras.optimizers.SGD)
        assert abs(float(optimizer.learning_rate.numpy()) - 0.02) < 1e-7
    finally:
        gin.clear_config()


def test_list_names_every_study(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in studies.STUDY_NAMES:
        assert name in out


def test_misspelt_binding_is_named(tmp_path):
    with pytest.raises(SystemExit, match="jing2022_strong_augmentaton"):
        cli.main(_argv(tmp_path, ["jing2022_strong_augmentaton.steps = 3"]))
    with pytest.raises(SystemExit, match="stepz"):
        cli.main(_argv(tmp_path, ["jing2022_strong_augmentation.stepz = 3"]))


def test_unknown_study_is_named(tmp_path):
    with pytest.raises(SystemExit, match="no such gin file or study: 'jing2099'"):
        cli.main(["run", "jing2099", "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="Unknown study 'jing2099'"):
        studies.load("jing2099")


def test_same_seed_gives_identical_results(tmp_path):
    assert cli.main(_argv(tmp_path / "a")) == 0
    assert cli.main(_argv(tmp_path / "b")) == 0
    assert _comparable(tmp_path / "a") == _comparable(tmp_path / "b")
    assert cli.main(_argv(tmp_path / "c", ["experiment.seed = 1"])) == 0
    assert _comparable(tmp_path / "c") != _comparable(tmp_path / "a")
    config = (tmp_path / "a" / "operative_config.gin").read_text()
    assert "jing2022_strong_augmentation.steps = 300" in config


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("whole")
    assert cli.main(_argv(path)) == 0
    return _comparable(path)


@pytest.mark.parametrize(
    "signum, after",
    [
        (signal.SIGTERM, "k=0.5: running"),  # in the middle of the first run
        (signal.SIGKILL, "k=0.5: done"),     # between the two runs
        (signal.SIGKILL, "k=3.0: running"),  # in the middle of the second run
    ],
    ids=["sigterm-first-unit", "sigkill-between-units", "sigkill-second-unit"],
)
def test_killed_study_resumes_to_the_same_results(tmp_path, uninterrupted, signum, after):
    """Kill the run when its progress line says `after`, start it again with
    the same output directory: finished units are read back, the one in
    progress is redone, and the results equal an uninterrupted run's."""
    command = [sys.executable, "-u", "-m", "keras_collapse.cli", *_argv(tmp_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.time() + 240
        for line in process.stdout:
            if after in line or time.time() > deadline:
                break
        assert after in line, "progress line never printed"
        process.send_signal(signum)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    assert not (tmp_path / "results.json").exists()
    units = tmp_path / "units"
    finished = sorted(os.listdir(units))
    for name in finished:  # atomic writes: no half-written or temporary files
        assert name.endswith(".json") and not name.startswith(".tmp")
        json.loads((units / name).read_text())

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("finished earlier") == len(finished)
    assert _comparable(tmp_path) == uninterrupted


def test_a_changed_binding_never_reads_back_units_of_the_old_one(tmp_path):
    """The same output directory with `steps` changed: the run stops before
    anything is trained or written, naming the binding that changed (old
    units would otherwise be read back under the new label); the same
    command as before still reads every unit back."""
    steps = "jing2022_strong_augmentation.steps = {}"
    assert cli.main(_argv(tmp_path, [steps.format(50)])) == 0
    before = {path.name: path.read_text() for path in (tmp_path / "units").iterdir()}
    results = (tmp_path / "results.json").read_text()
    with pytest.raises(SystemExit, match=rf"keras-collapse: .* holds {len(before)} finished "
                                         r"unit\(s\) .*"
                                         r"jing2022_strong_augmentation\.steps = 50 there, "
                                         r"400 now\. Give another --output_dir"):
        cli.main(_argv(tmp_path, [steps.format(400)]))
    assert {path.name: path.read_text() for path in (tmp_path / "units").iterdir()} == before
    assert (tmp_path / "results.json").read_text() == results
    # A different seed is a different configuration too.
    with pytest.raises(SystemExit, match=r"experiment\.seed = 0 there, 1 now"):
        cli.main(_argv(tmp_path, [steps.format(50), "experiment.seed = 1"]))


def test_units_without_a_record_of_their_configuration_are_not_read_back(tmp_path):
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "k=0.5.json").write_text("{}")
    with pytest.raises(SystemExit, match="no record of the configuration"):
        cli.main(_argv(tmp_path))


def _configuration_of(files, bindings=()):
    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings(files, list(bindings), skip_unknown=False)
        return studies.bindings_in_effect()
    finally:
        gin.clear_config()


def test_the_configuration_holds_the_bindings_in_effect_and_only_those():
    """Under the tour a part's scoped binding is what counts: changing it
    changes the configuration (so no unit is read back), while an
    unscoped binding it overrides is refused rather than recorded."""
    tour = os.path.join(ROOT, "gin", "tour.gin")
    base = _configuration_of([tour])
    assert base["tour/werank2023.steps"] == "600"
    assert base["experiment.study"] == "@tour"
    assert "werank2023.steps" not in base
    changed = _configuration_of([tour], ["tour/werank2023.steps = 50"])
    assert {k for k in base if base[k] != changed[k]} == {"tour/werank2023.steps"}
    # A library object reached through a reference, in the scope it runs in.
    werank = _configuration_of([os.path.join(ROOT, "gin", "werank2023.gin")],
                               ["vicreg/optimizers.SGD.learning_rate = 0.5"])
    assert werank["vicreg/optimizers.SGD.learning_rate"] == "0.5"
    assert werank["WERANK"] == "0.1"  # a macro's value


def test_results_files_get_the_permissions_of_the_umask(tmp_path):
    from keras_collapse.studies._harness import write_atomic

    for umask in (0o022, 0o002, 0o077):
        previous = os.umask(umask)
        try:
            write_atomic(str(tmp_path / f"{umask:o}.md"), "text")
        finally:
            os.umask(previous)
        assert (tmp_path / f"{umask:o}.md").stat().st_mode & 0o777 == 0o666 & ~umask
