"""The tour (the README's main job) runs in full and its headline verdicts are the robust ones."""

import glob
import os

import gin

from keras_collapse.studies.tour import TENSORBOARD_TAGS, full_size_claims
from studytools import ROOT, check_artifacts, run_study


def test_tour_runs_in_full_and_its_headline_verdicts_hold(tmp_path):
    """Every headline claim has the verdict it had for experiment.seed 0, 1
    and 2 at tour size (gin/tour.gin, chosen by tour.robust_headline),
    "does not hold" ones included; the results say how they were chosen."""
    results = run_study("tour", tmp_path)
    gin.clear_config()
    gin.parse_config_file(f"{ROOT}/gin/tour.gin", skip_unknown=True)
    headline = gin.query_parameter("tour.headline")
    gin.clear_config()
    expected = {f"{name}: {claim}": verdict for name, claims in headline.items()
                for claim, verdict in claims.items()}
    check_artifacts(tmp_path, results, len(expected), ())
    got = {c["claim"]: c["verdict"] for c in results["claims"]}
    assert got == expected
    for part in ("jing2022_strong_augmentation", "jing2022_implicit_regularization", "werank2023",
                 "ziyin2023_landscape", "jing2022_directclr", "li2022_continual"):
        assert (tmp_path / part / "results.md").exists()
        assert results["measurements"][part]["claims_total"] >= 1
    for figure in results["figures"]:
        assert (tmp_path / figure["file"]).stat().st_size > 0
    # `tensorboard --logdir <tour>/tensorboard` selects every run (at most 40),
    # named <short part>/<unit> so that the unit stays in view.
    logs = tmp_path / "tensorboard"
    runs = {os.path.relpath(os.path.dirname(path), logs) for path in glob.glob(
        str(logs / "**" / "events.out.tfevents.*"), recursive=True)}
    assert 6 < len(runs) <= 40
    assert {run.split(os.sep)[0] for run in runs} == {"config", *TENSORBOARD_TAGS.values()}
    text = (tmp_path / "results.md").read_text()
    assert "experiment.seed 0, 1 and 2" in text and "robust_headline" in text
    # Beside its own fast-pass claims, the tour shows how many hold at full size.
    per_study = next(t for t in results["tables"] if t["title"].startswith("Claims holding"))
    assert [row[0] for row in per_study["rows"]] == list(results["measurements"])
    for name, tour_count, full_count in per_study["rows"]:
        assert full_count == full_size_claims(name) and " of " in full_count, name


def test_headline_rule_keeps_every_verdict_the_seeds_agree_on(tmp_path, capsys):
    """tour.robust_headline: a claim is kept when its verdict is the same in
    every run, "does not hold" included; "untestable here" and claims whose
    verdict moved are left out; `main` prints the tour.headline binding."""
    import json

    from keras_collapse.studies import tour

    runs = {"s0": ("holds", "does not hold", "untestable here", "holds"),
            "s1": ("holds", "does not hold", "untestable here", "does not hold")}
    for run, verdicts in runs.items():
        (tmp_path / run / "part").mkdir(parents=True)
        claims = [{"claim": c, "verdict": v} for c, v in zip("abcd", verdicts)]
        (tmp_path / run / "part" / "results.json").write_text(json.dumps({"claims": claims}))
    folders = [str(tmp_path / run) for run in runs]
    assert tour.robust_headline(folders) == {"part": {"a": "holds", "b": "does not hold"}}
    tour.main(folders)
    printed = capsys.readouterr().out
    assert "tour.headline = {" in printed and "'b': 'does not hold'," in printed
    gin.clear_config()
    gin.parse_config(printed)
    assert gin.query_parameter("tour.headline") == {"part": {"a": "holds", "b": "does not hold"}}
    gin.clear_config()
