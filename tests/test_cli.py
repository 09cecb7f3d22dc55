"""The `keras-collapse` command's own checks and messages, as a user meets them.

What can be checked before TensorFlow is imported is (the installed command
is checked for that in test_workflows_install.py); each mistake ends in one
line; Ctrl-C says how to resume; a binding the run would ignore is refused.
"""

import signal
import subprocess
import sys
import time

import pytest

from keras_collapse import __version__, cli
from studytools import ROOT, argv

# The smallest strong-augmentation run: two units of a few seconds.
TINY = [
    "jing2022_strong_augmentation.noise_stds = (0.5, 3.0)",
    "jing2022_strong_augmentation.steps = 50",
    "jing2022_strong_augmentation.num_samples = 200",
    "jing2022_strong_augmentation.probe_size = 100",
    "jing2022_strong_augmentation.x_samples = 64",
    "jing2022_strong_augmentation.record_every = 25",
]


def test_version(capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-collapse {__version__}"


@pytest.mark.parametrize("binding, message", [
    ("werank2023.ks = (0.1, 0.5", "a parenthesis, bracket or quote is not closed"),
    ("werank2023.steps = 'ten", "Unable to parse value"),
    ("werank2023.steps = 1 2", "Expected newline"),
])
def test_a_binding_that_does_not_parse_is_named_in_one_line(tmp_path, binding, message):
    with pytest.raises(SystemExit) as raised:
        cli.main(["run", "werank2023", "--output_dir", str(tmp_path / "out"),
                  "--gin_param", binding])
    text = str(raised.value)
    assert text.startswith(f"keras-collapse: invalid gin configuration: cannot parse {binding!r}")
    assert message in text and "\n" not in text
    assert not (tmp_path / "out").exists()


def test_an_output_dir_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(SystemExit, match=r"cannot write to --output_dir .*notes\.txt.*is a file"):
        cli.main(["run", "werank2023", "--output_dir", str(tmp_path / "notes.txt" / "out")])


def test_the_keras_backend_is_checked_first(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(SystemExit, match=r"needs Keras' TensorFlow backend.*KERAS_BACKEND=jax"):
        cli.main(["run", "werank2023", "--output_dir", str(tmp_path)])


@pytest.mark.parametrize("study, binding, message", [
    # The tour's own `tour/werank2023.steps = 600` wins inside the tour.
    ("tour", 'werank2023.steps = "ten"',
     r"werank2023\.steps = 'ten' has no effect: tour/werank2023\.steps = 600 takes "
     r"precedence .* Bind tour/werank2023\.steps instead\."),
    ("werank2023", "jing2022_directclr.epochs = 3",
     r"jing2022_directclr\.epochs = 3 has no effect: nothing this run calls reads it "
     r"\(it runs @werank2023\)"),
    ("werank2023", "losses.InfoNCE.temperature = 0.5",  # the study binds dot/losses.InfoNCE
     r"losses\.InfoNCE\.temperature = 0\.5 has no effect: "
     r"dot/losses\.InfoNCE\.temperature = 0\.1 takes precedence"),
])
def test_a_binding_without_effect_is_refused(tmp_path, study, binding, message):
    with pytest.raises(SystemExit, match=f"keras-collapse: invalid gin configuration: {message}"):
        cli.main(["run", study, "--output_dir", str(tmp_path / "out"), "--gin_param", binding])
    assert not (tmp_path / "out").exists()


def test_a_scoped_binding_the_tour_uses_is_accepted():
    """The binding the message above recommends is applied (checked, not run)."""
    import gin

    from keras_collapse import studies

    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([cli._resolve("tour")],
                                            ["tour/werank2023.steps = 50"], skip_unknown=False)
        studies.check_bindings(given=["tour/werank2023.steps = 50"])
        assert studies.bindings_in_effect()["tour/werank2023.steps"] == "50"
    finally:
        gin.clear_config()


def test_ctrl_c_prints_one_line_saying_how_to_resume(tmp_path):
    """SIGINT (Ctrl-C) during a unit: exit status 130, no traceback, one
    line saying how to resume (resuming is test_studies.py's)."""
    # Units far longer than the test waits, so that the signal always arrives
    # during one (a 50-step run can end first, with exit status 0).
    long_units = TINY + ["jing2022_strong_augmentation.steps = 100000",
                         "jing2022_strong_augmentation.record_every = 1000"]
    command = [sys.executable, "-u", "-m", "keras_collapse.cli",
               *argv("jing2022_strong_augmentation", tmp_path, long_units)]
    # A shell without job control starts background jobs with SIGINT ignored,
    # and children inherit that (Python then installs no KeyboardInterrupt
    # handler): a suite started with `&` would see the run ignore the signal.
    # The child gets SIGINT's default, as a terminal's foreground command has.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 600
        for line in process.stdout:
            if "k=0.5: running" in line or time.time() > deadline:
                break
        assert "k=0.5: running" in line, "progress line never printed"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"keras-collapse: interrupted. Run the same command to resume: the finished units in "
        f"{tmp_path} are read back.")
