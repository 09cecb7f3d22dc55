"""User workflows: keras-collapse installed like a real package.

A wheel built from this checkout, installed into a directory of its own and
run from an empty directory: the studies and their configs come with it
(under `keras_collapse.studies`, no top-level `studies` module), `--help` and
`list` stay light, a study's console is its progress lines, and a wrongly
typed binding fails in one line before anything is written.
"""

import email.parser
import glob
import hashlib
import os
import shutil
import sys
import zipfile

import pytest

import keras_collapse
from keras_collapse import cli
from studytools import DIRECTCLR_SMALL, LI2022_SMALL, ROOT
from subprocesses import run


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`(wheel path, install directory, build log)` of this checkout, built as pip builds it.

    Built from a copy (symbolic links kept), so that test workers building at
    the same time do not share a build directory.
    """
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "runs", "__pycache__", ".pytest_cache",
        ".hypothesis"))
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w",
                 str(root / "wheel"), str(source)])
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = glob.glob(str(root / "wheel" / "*.whl"))[0]
    installed = run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                     str(root / "site"), wheel])
    assert installed.returncode == 0, installed.stderr[-3000:]
    return wheel, root / "site", built.stdout + built.stderr


def run_installed(site, args, cwd, env=()):
    """The installed `keras-collapse` command, importing only the installed copy."""
    environment = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_CONFIG")},
                   "PYTHONPATH": str(site), **dict(env)}
    return run([str(site / "bin" / "keras-collapse"), *args], cwd=cwd, env=environment)


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


#: MD5 of https://www.apache.org/licenses/LICENSE-2.0.txt, the full standard text.
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_the_wheel_metadata_carries_license_classifiers_and_version(installed):
    """PEP 639 metadata: the SPDX license expression and the LICENSE file (the
    full Apache-2.0 text), classifiers without a License one, the version of
    `keras_collapse.__version__`, tested lower bounds; and setuptools said
    nothing deprecated (the former `license = {text = ...}` table did)."""
    archive = zipfile.ZipFile(installed[0])
    (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    shipped = archive.read(metadata_name.replace("METADATA", "licenses/LICENSE"))
    with open(os.path.join(ROOT, "LICENSE"), "rb") as stream:
        assert shipped == stream.read()
    assert hashlib.md5(shipped).hexdigest() == APACHE_2_MD5
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Intended Audience :: Science/Research" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert metadata["Version"] == keras_collapse.__version__
    assert metadata["Author"] == "keras-collapse maintainers"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "tensorflow>=2.21" in metadata.get_all("Requires-Dist")
    assert "SetuptoolsDeprecationWarning" not in installed[2]
    assert "adding license file 'LICENSE'" in installed[2]


def test_citation_and_changelog_name_the_papers_and_the_version():
    with open(os.path.join(ROOT, "CITATION.cff"), encoding="utf-8") as stream:
        citation = stream.read()
    for arxiv in ("2110.09348", "2209.15007", "2210.00638", "2402.09586"):
        assert f'value: "arXiv:{arxiv}"' in citation
    assert f"\nversion: {keras_collapse.__version__}\n" in citation
    assert "\nlicense: Apache-2.0\n" in citation
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as stream:
        assert f"## {keras_collapse.__version__}" in stream.read()


def test_the_installed_copy_is_the_one_imported(installed, tmp_path):
    """From an empty directory, with the install directory first on the path,
    `keras_collapse` and its studies come from the wheel, not the checkout."""
    completed = run(
        [sys.executable, "-c", "import keras_collapse.cli as c; print(c.__file__); "
                               "print(c.studies_dir())"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed[1])})
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


@pytest.mark.parametrize("args, env, message", [
    (["--version"], {}, f"keras-collapse {cli.__version__}"),
    (["run", "tour", "--output_dir", "out", "--gin_param", "werank2023.ks = (0.1,"], {},
     "keras-collapse: invalid gin configuration: cannot parse 'werank2023.ks = (0.1,': a "
     "parenthesis, bracket or quote is not closed"),
    (["run", "tour", "--output_dir", "notes.txt/out"], {},
     "keras-collapse: cannot write to --output_dir 'notes.txt/out': {cwd}/notes.txt is a "
     "file. Choose a directory you can create and write to."),
    (["run", "tour", "--output_dir", "out"], {"KERAS_BACKEND": "jax"},
     "keras-collapse: keras_collapse needs Keras' TensorFlow backend, but KERAS_BACKEND=jax "
     "selects 'jax'. Set KERAS_BACKEND=tensorflow (or unset it, and set \"backend\": "
     "\"tensorflow\" in ~/.keras/keras.json) before keras is imported."),
], ids=["version", "unclosed_parenthesis", "output_dir_under_a_file", "jax_backend"])
def test_mistakes_found_without_tensorflow_end_in_one_line(installed, tmp_path, args, env,
                                                            message):
    """Checked before TensorFlow is imported (10-40 s): one line, and nothing written."""
    (tmp_path / "notes.txt").write_text("")
    completed = run_installed(installed[1], args, tmp_path,
                              {"PYTHONPROFILEIMPORTTIME": "1", **env})
    imported = {line.split("|")[-1].strip() for line in completed.stderr.splitlines()
                if line.startswith("import time:")}
    assert "tensorflow" not in imported and "keras" not in imported
    said = [line for line in (completed.stdout + completed.stderr).splitlines()
            if not line.startswith("import time:")]
    assert said == [message.format(cwd=tmp_path)]
    assert completed.returncode == (0 if args == ["--version"] else 1)
    assert not (tmp_path / "out").exists()


def test_importing_the_package_under_another_keras_backend_says_so(installed, tmp_path):
    completed = run([sys.executable, "-c", "import keras_collapse"], cwd=tmp_path,
                    env={**os.environ, "PYTHONPATH": str(installed[1]), "KERAS_BACKEND": "torch"})
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1].startswith(
        "ImportError: keras_collapse needs Keras' TensorFlow backend, but KERAS_BACKEND=torch")


def test_an_installed_paper_scale_config_finds_its_includes(installed, tmp_path):
    """From an empty directory the configs' `include 'paper_scale/_….gin'`
    resolves against the installed gin files, with no error lines."""
    code = ("import gin; from keras_collapse import studies, cli; studies.load_all(); "
            "gin.parse_config_files_and_bindings([cli._resolve('paper_scale/cifar10_mocov3')], "
            "[], skip_unknown=False); print(gin.query_parameter('losses.MoCoV3.temperature'))")
    completed = run([sys.executable, "-c", code], cwd=tmp_path,
                    env={**os.environ, "PYTHONPATH": str(installed[1]), "TF_CPP_MIN_LOG_LEVEL": "3"})
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
