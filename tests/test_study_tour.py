"""The tour (the README's main job) runs in full and its headline claims hold."""

from keras_collapse.studies.tour import full_size_claims
from studytools import check_artifacts, run_study


def test_tour_runs_in_full_and_its_claims_hold(tmp_path):
    results = run_study("tour", tmp_path)
    check_artifacts(tmp_path, results, 6, ())
    failing = [c["claim"] for c in results["claims"] if not c["holds"]]
    assert not failing, failing
    for part in ("jing2022_strong_augmentation", "jing2022_implicit_regularization", "werank2023",
                 "ziyin2023_landscape", "jing2022_directclr", "li2022_continual"):
        assert (tmp_path / part / "results.md").exists()
        assert results["measurements"][part]["claims_total"] >= 1
    for figure in results["figures"]:
        assert (tmp_path / figure["file"]).stat().st_size > 0
    text = (tmp_path / "results.md").read_text()
    assert "3 seeds tried" in text
    # Beside its own fast-pass claims, the tour shows how many hold at full size.
    per_study = next(t for t in results["tables"] if t["title"].startswith("Claims holding"))
    assert [row[0] for row in per_study["rows"]] == list(results["measurements"])
    for name, tour_count, full_count in per_study["rows"]:
        assert full_count == full_size_claims(name) and " of " in full_count, name
