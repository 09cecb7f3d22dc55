"""Shared by the study tests: run a study through the CLI and check its files."""

import json
import os

from keras_collapse import cli

# A DirectCLR study small enough for seconds (also run under two workers).
DIRECTCLR_SMALL = [
    "jing2022_directclr.epochs = 2",
    "jing2022_directclr.steps_per_epoch = 2",
    "jing2022_directclr.num_seeds = 1",
    "jing2022_directclr.batch_size = 64",
    "directclr/encoders.small_resnet.width = 4",
    "jing2022_directclr.embedding_dim = 8",
    "jing2022_directclr.hidden_dim = 16",
    "jing2022_directclr.directclr_dim = 3",
    "jing2022_directclr.probe_size = 64",
    "jing2022_directclr.log_every_n_epochs = 1",
    "jing2022_directclr.probe_draws = 3",
    "jing2022_directclr.probe_shots = (2, 1)",
]

# A li2022_continual study small enough for seconds (four orderings, two widths).
LI2022_SMALL = [
    "li2022_continual.encoder = @li/encoders.mlp",
    "li2022_continual.widths = {'narrow': 2, 'wide': 4}",
    "li/encoders.mlp.representation_dim = 8",
    "li2022_continual.epochs = 2",
    "li2022_continual.steps_per_epoch = 1",
    "li2022_continual.batch_size = 32",
    "li2022_continual.num_seeds = 1",
    "li/layers.ProjectionHead.output_dim = 8",
    "li/layers.ProjectionHead.hidden_dims = (8, 8)",
    "li/layers.PredictionHead.output_dim = 8",
    "li/layers.PredictionHead.hidden_dim = 4",
]

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
    """Every claim has its keys and one of the three verdicts; every file is non-empty."""
    assert len(results["claims"]) == num_claims
    for claim in results["claims"]:
        assert set(claim) == {"claim", "paper", "criterion", "measured", "verdict", "holds", "setup"}
        assert claim["verdict"] in ("holds", "does not hold", "untestable here")
        assert claim["holds"] == (claim["verdict"] == "holds")
    for name in ("results.md", "operative_config.gin", *files):
        assert (output_dir / name).stat().st_size > 0, name


def run_seeds(name, tmp_path_factory, bindings, seeds=(0, 1, 2), extra=None):
    """`{seed: (output_dir, results)}` of study `name` run once per `experiment.seed`.

    `extra(seed)` gives further bindings for one seed (e.g. fewer experiments).
    """
    runs = {}
    for seed in seeds:
        path = tmp_path_factory.mktemp(f"{name}-seed{seed}")
        more = list(extra(seed)) if extra else []
        runs[seed] = path, run_study(name, path, [*bindings, *more, f"experiment.seed = {seed}"])
    return runs


def assert_verdict(runs, prefix, verdict):
    """The claim starting with `prefix` has `verdict` (with its criterion and
    set-up stated) in every run of :func:`run_seeds`."""
    for seed, (_, results) in runs.items():
        claim = next(c for c in results["claims"] if c["claim"].startswith(prefix))
        assert claim["verdict"] == verdict, (seed, claim["measured"])
        assert claim["criterion"] and claim["setup"], seed
