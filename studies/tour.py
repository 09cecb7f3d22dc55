"""Tour: a fast pass over every paper's study (the README's main job, ≤ 5 min).

Runs each study at a reduced size (the sizes are gin-scoped bindings in
gin/tour.gin: `tour/werank2023.steps = 50` changes one; an unscoped
`werank2023.steps` is overridden there, and the command refuses it, naming the
scoped binding), writes each one's full results under `<output_dir>/<study>/`,
and reports as its own claims a headline selection chosen by a rule fixed in
advance: every claim whose verdict (holds or does not hold) was the same for
three seeds at this size, whatever that verdict (:func:`robust_headline`
computes it from three tour runs; the tour's test asserts each verdict).

Choose the headline again after a study's claims or the tour's sizes change::

    for s in 0 1 2; do keras-collapse run tour --output_dir runs/tour_$s \
        --gin_param "experiment.seed = $s" --gin_param "tour.headline = None"; done
    python -m keras_collapse.studies.tour runs/tour_0 runs/tour_1 runs/tour_2
"""

from __future__ import annotations

import json
import os
import re
import sys

import gin

from keras_collapse.studies._harness import DOES_NOT_HOLD, HOLDS, Study


def _select(name, claims, wanted):
    """The claims of study `name` named in `wanted` (``{claim: expected verdict}``)."""
    chosen = []
    for text, expected in wanted.items():
        matches = [c for c in claims if c["claim"] == text]
        if len(matches) != 1:
            raise ValueError(
                f"Invalid value for argument `headline`: {name!r} has "
                f"{len(matches)} claims {text!r} (expected 1). "
                f"Its claims: {[c['claim'] for c in claims]}"
            )
        chosen.append((matches[0], expected))
    return chosen


#: The tour's TensorBoard directory of each part (``tensorboard/<tag>/<unit>``):
#: short, so that the unit's name shows where TensorBoard cuts run names.
TENSORBOARD_TAGS = {
    "jing2022_strong_augmentation": "jing_aug",
    "jing2022_implicit_regularization": "jing_reg",
    "werank2023": "werank",
    "ziyin2023_landscape": "ziyin",
    "jing2022_directclr": "directclr",
    "li2022_continual": "li",
}


def robust_headline(results_dirs):
    """``{study: {claim: verdict}}``: the claims whose verdict was the same in every run.

    The tour's rule for its headline, fixed in advance: run the tour (with
    ``tour.headline = None``) for several seeds and keep every claim of every
    part whose verdict is ``"holds"`` in all of them or ``"does not hold"`` in
    all of them ("untestable here" is not a finding and is left out).

    Args:
        results_dirs: Output directories of tour runs (one per seed); each
            holds ``<study>/results.json``.

    Returns:
        A dict for ``tour.headline``, studies and claims in the runs' order.

    Example:

    >>> import json, os, tempfile
    >>> runs = []
    >>> for verdicts in (("holds", "holds"), ("holds", "does not hold")):
    ...     folder = tempfile.mkdtemp(); os.makedirs(os.path.join(folder, "s"))
    ...     claims = [{"claim": c, "verdict": v} for c, v in zip("ab", verdicts)]
    ...     with open(os.path.join(folder, "s", "results.json"), "w") as f:
    ...         json.dump({"claims": claims}, f)
    ...     runs.append(folder)
    >>> robust_headline(runs)
    {'s': {'a': 'holds'}}
    """
    tables = []
    for folder in results_dirs:
        parts = {}
        for name in _parts(folder):
            path = os.path.join(folder, name, "results.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as stream:
                    parts[name] = {c["claim"]: c["verdict"] for c in json.load(stream)["claims"]}
        tables.append(parts)
    if not tables:
        raise ValueError("Invalid value for argument `results_dirs`: expected at least one "
                         "tour output directory. Received: results_dirs=[]")
    headline = {}
    for name, claims in tables[0].items():
        robust = {claim: verdict for claim, verdict in claims.items()
                  if verdict in (HOLDS, DOES_NOT_HOLD)
                  and all(t.get(name, {}).get(claim) == verdict for t in tables[1:])}
        if robust:
            headline[name] = robust
    return headline


def _parts(folder):
    """The part folders of a tour output directory, in the tour's order when
    its results.json is there (its measurements follow the parts)."""
    path = os.path.join(folder, "results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as stream:
            return [name for name in json.load(stream)["measurements"]
                    if os.path.isdir(os.path.join(folder, name))]
    return sorted(os.listdir(folder))


@gin.configurable
def tour(study, parts=gin.REQUIRED, headline=None, seeds_note=""):
    """Run every study in `parts` at tour size and report the headline claims.

    Args:
        study: The tour's :class:`keras_collapse.studies._harness.Study`.
        parts: Study entry functions, usually gin-scoped (e.g.
            `@tour/jing2022_strong_augmentation`) so the tour's reduced sizes
            apply only here.
        headline: `{study_name: {claim: expected verdict}}`: the claims
            reported as the tour's own, with the verdict they had in every
            seed tried (:func:`robust_headline`). Defaults to every claim of
            every part.
        seeds_note: How the headline was chosen (the rule and seeds), for results.md.
    """
    headline = dict(headline or {})
    unknown = sorted(set(headline) - {part.__name__ for part in parts})
    if unknown:
        raise ValueError(
            f"Invalid value for argument `headline`: no part named {unknown}; "
            f"parts are {[part.__name__ for part in parts]}"
        )
    checks = []
    # One TensorBoard tree, <output_dir>/tensorboard/<part tag>/<unit>, whose runs
    # fit TensorBoard's default selection: the parts share the tour's budget.
    # Short part tags keep the unit, the informative part, in view where
    # TensorBoard cuts run names short.
    runs_left = study.tensorboard_runs - study.tensorboard_runs_used
    for index, part in enumerate(parts, 1):
        name = part.__name__
        study.log(f"part {index}/{len(parts)}: {name}")
        sub = Study(os.path.join(study.output_dir, name), name, seed=study.seed, log=study._log,
                    tensorboard_root=os.path.join(study.tensorboard_root,
                                                  TENSORBOARD_TAGS.get(name, name)),
                    tensorboard_runs=runs_left // (len(parts) - index + 1))
        part(sub)
        runs_left -= sub.tensorboard_runs_used
        results = sub.finish()
        wanted = headline.get(name)
        chosen = ([(c, None) for c in results["claims"]] if wanted is None
                  else _select(name, results["claims"], wanted))
        for claim, expected in chosen:
            study.claim(f"{name}: {claim['claim']}", claim["paper"], claim["measured"],
                        claim["verdict"], criterion=claim["criterion"], setup=claim["setup"])
            if expected is not None:
                checks.append([f"{name}: {claim['claim']}", expected, claim["verdict"]])
        study.figures.extend(
            {"file": os.path.join(name, fig["file"]), "caption": f"{name}: {fig['caption']}"}
            for fig in results["figures"]
        )
        study.measurements[name] = {
            "claims_total": len(results["claims"]),
            "claims_holding": sum(c["holds"] for c in results["claims"]),
            "results": os.path.join(name, "results.md"),
        }
    study.table(
        "Claims holding per study: this tour's fast pass and the full-size run",
        ["study", "this tour (reduced size)", "full size (studies/results/)"],
        [[name, f"{m['claims_holding']} of {m['claims_total']}", full_size_claims(name)]
         for name, m in study.measurements.items()])
    if seeds_note:
        study.table("How the headline claims were chosen", ["note"], [[seeds_note]])
    if checks:
        study.table("Headline claims: the verdict in every seed tried, and this run's",
                    ["claim", "verdict in the seeds tried", "this run"], checks)


#: The committed full-size results, installed with the package.
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _cells(line):
    """The cells of a markdown table row; `\\|` inside a cell (e.g. the
    absolute value in `max |σ − 1|`) is text, not a column border."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def full_size_claims(name, results_dir=RESULTS_DIR):
    r"""`"h of n"` claims holding in the committed full-size `results/<name>.md`.

    Counts the rows of its claim table (the first table), reading the column
    headed `verdict` (`holds`, `**does not hold**`, `**untestable here**`) or,
    in results written before the three verdicts, `holds` (`yes` / `**no**`);
    untestable claims are named beside the count. `"not run"` when there is
    no such file.

    Example:

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "s.md"), "w") as f:
    ...     _ = f.write("| claim | paper | measured | verdict | set-up |\n"
    ...                 "| --- | --- | --- | --- | --- |\n"
    ...                 "| a | b | max \\|σ − 1\\| ≤ 0.1 | holds | x |\n"
    ...                 "| d | e | f | **does not hold** | x |\n"
    ...                 "| g | h | i | **untestable here** | x |\n\n| x | yes |\n")
    >>> full_size_claims("s", folder)
    '1 of 3 (1 untestable here)'
    >>> with open(os.path.join(folder, "old.md"), "w") as f:
    ...     _ = f.write("| claim | paper | measured | holds |\n| --- | --- | --- | --- |\n"
    ...                 "| a | b | c | yes |\n| d | e | f | **no** |\n")
    >>> full_size_claims("old", folder)
    '1 of 2'
    """
    path = os.path.join(results_dir, f"{name}.md")
    if not os.path.exists(path):
        return "not run"
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| claim |")), None)
    if start is None:
        return "0 of 0"
    header = _cells(lines[start])
    column = header.index("verdict") if "verdict" in header else header.index("holds")
    verdicts = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        verdicts.append(_cells(line)[column].strip("*"))
    holding = verdicts.count("yes") + verdicts.count("holds")
    untestable = verdicts.count("untestable here")
    extra = f" ({untestable} untestable here)" if untestable else ""
    return f"{holding} of {len(verdicts)}{extra}"


def main(argv=None):
    """Print the ``tour.headline`` binding :func:`robust_headline` gives for
    the tour output directories on the command line."""
    folders = sys.argv[1:] if argv is None else argv
    headline = robust_headline(folders)
    lines = ["tour.headline = {"]
    for name, claims in headline.items():
        lines.append(f"    {name!r}: {{")
        lines += [f"        {claim!r}: {verdict!r}," for claim, verdict in claims.items()]
        lines.append("    },")
    lines.append("}")
    print("\n".join(lines))
    return headline


if __name__ == "__main__":
    main()
