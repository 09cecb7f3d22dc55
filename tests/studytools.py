"""Shared by the study tests: run a study through the CLI and check its files."""

import json
import os

from keras_collapse import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def argv(name, output_dir, bindings=()):
    """`keras-collapse run gin/<name>.gin --output_dir ... --gin_param ...` arguments."""
    args = ["run", os.path.join(ROOT, "gin", f"{name}.gin"), "--output_dir", str(output_dir)]
    for binding in bindings:
        args += ["--gin_param", binding]
    return args


def run_study(name, output_dir, bindings=()):
    """Run a study in-process and return its results.json."""
    assert cli.main(argv(name, output_dir, bindings)) == 0
    return json.loads((output_dir / "results.json").read_text())


def check_artifacts(output_dir, results, num_claims, files):
    """Every claim has the four keys and a boolean verdict; every file is non-empty."""
    assert len(results["claims"]) == num_claims
    for claim in results["claims"]:
        assert set(claim) == {"claim", "paper", "measured", "holds"}
        assert isinstance(claim["holds"], bool)
    for name in ("results.md", "operative_config.gin", *files):
        assert (output_dir / name).stat().st_size > 0, name
