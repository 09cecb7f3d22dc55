"""User workflows: keras-collapse installed like a real package.

A wheel built from this checkout, installed into a directory of its own and
run from an empty directory: the studies and their configs come with it
(under `keras_collapse.studies`, no top-level `studies` module), `--help` and
`list` stay light, a study's console is its progress lines, and a wrongly
typed binding fails in one line before anything is written.
"""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from keras_collapse import cli
from studytools import DIRECTCLR_SMALL, LI2022_SMALL, ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`(wheel path, install directory)` of this checkout, built as pip builds it.

    Built from a copy (symbolic links kept), so that test workers building at
    the same time do not share a build directory.
    """
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "runs", "__pycache__", ".pytest_cache",
        ".hypothesis"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(root / "wheel"), str(source)], timeout=600, capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = glob.glob(str(root / "wheel" / "*.whl"))[0]
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(root / "site"), wheel], check=True, timeout=600, capture_output=True)
    return wheel, root / "site"


def run_installed(site, args, cwd, env=()):
    """The installed `keras-collapse` command, importing only the installed copy."""
    environment = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_CONFIG")},
                   "PYTHONPATH": str(site), **dict(env)}
    return subprocess.run([str(site / "bin" / "keras-collapse"), *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=600)


def test_the_wheel_ships_the_studies_under_the_package(installed):
    names = zipfile.ZipFile(installed[0]).namelist()
    gin_files = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "gin", "*.gin"))}
    assert {f"keras_collapse/studies/gin/{name}" for name in gin_files} <= set(names)
    assert "keras_collapse/studies/tour.py" in names
    assert "keras_collapse/studies/pretrain.py" in names
    paper_scale = {os.path.basename(p)
                   for p in glob.glob(os.path.join(ROOT, "gin", "paper_scale", "*.gin"))}
    assert {f"keras_collapse/studies/gin/paper_scale/{name}" for name in paper_scale} <= set(names)
    assert "keras_collapse/studies/results/werank2023.md" in names  # the tour's full-size counts
    assert "keras_collapse/studies/gin/readings/werank2023_cosine.gin" in names
    assert "keras_collapse/studies/data/li2022_resnet18_svd.npz" in names  # li2022_continual reads it
    assert not [name for name in names if name.startswith("studies/")]
    top_level = [name for name in names if name.endswith("top_level.txt")]
    if top_level:
        assert zipfile.ZipFile(installed[0]).read(top_level[0]).split() == [b"keras_collapse"]


def test_the_installed_copy_is_the_one_imported(installed, tmp_path):
    """From an empty directory, with the install directory first on the path,
    `keras_collapse` and its studies come from the wheel, not the checkout."""
    completed = subprocess.run(
        [sys.executable, "-c", "import keras_collapse.cli as c; print(c.__file__); "
                               "print(c.studies_dir())"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(installed[1])})
    assert completed.returncode == 0, completed.stderr[-2000:]
    for path in completed.stdout.split():
        assert os.path.realpath(path).startswith(os.path.realpath(installed[1])), path


def test_help_and_list_do_not_import_tensorflow(installed, tmp_path):
    for args in (["--help"], ["list"]):
        completed = run_installed(installed[1], args, tmp_path, {"PYTHONPROFILEIMPORTTIME": "1"})
        assert completed.returncode == 0, completed.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in completed.stderr.splitlines()}
        assert "tensorflow" not in imported and "keras_collapse" in imported
    assert "tour" in completed.stdout and "werank2023" in completed.stdout
    assert "paper_scale/cifar10_simclr" in completed.stdout


def test_an_installed_paper_scale_config_finds_its_includes(installed, tmp_path):
    """From an empty directory the configs' `include 'paper_scale/_….gin'`
    resolves against the installed gin files, with no error lines."""
    code = ("import gin; from keras_collapse import studies, cli; studies.load_all(); "
            "gin.parse_config_files_and_bindings([cli._resolve('paper_scale/cifar10_mocov3')], "
            "[], skip_unknown=False); print(gin.query_parameter('losses.MoCoV3.temperature'))")
    completed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                               text=True, timeout=300,
                               env={**os.environ, "PYTHONPATH": str(installed[1]),
                                    "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split()[-1] == "0.2"
    assert "Path not found" not in completed.stderr


@pytest.mark.parametrize("name, bindings", [("jing2022_directclr", DIRECTCLR_SMALL),
                                            ("li2022_continual", LI2022_SMALL)])
def test_a_study_runs_by_name_from_an_empty_directory(installed, tmp_path, name, bindings):
    """Run by name from a directory with no clone: the config comes from the
    installed package, and every console line is a progress line (no
    TensorFlow error-level or retracing lines)."""
    args = ["run", name, "--output_dir", "out"]
    for binding in bindings:
        args += ["--gin_param", binding]
    completed = run_installed(installed[1], args, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "out" / "results.md").stat().st_size > 0
    lines = (completed.stdout + completed.stderr).splitlines()
    assert lines and all(line.startswith("[") for line in lines), [
        line for line in lines if not line.startswith("[")][:5]


def test_a_wrongly_typed_binding_fails_in_one_line_before_writing(tmp_path):
    output = tmp_path / "out"
    with pytest.raises(SystemExit) as raised:
        cli.main(["run", "werank2023", "--output_dir", str(output),
                  "--gin_param", 'werank2023.steps = "ten"'])
    message = str(raised.value)
    assert message == ("keras-collapse: invalid gin configuration: werank2023.steps = 'ten': "
                       "expected an int, like its default 10000")
    assert not output.exists()
