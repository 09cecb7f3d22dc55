"""Tour: a fast pass over every paper's study (the README's main job, ≤ 5 min).

Runs each study at a reduced size (the sizes are gin-scoped bindings in
gin/tour.gin: `tour/werank2023.steps = 50` changes one; an unscoped
`werank2023.steps` is overridden there, and the command refuses it, naming the
scoped binding), writes each one's full results under `<output_dir>/<study>/`,
and reports as its own claims a headline selection: the claims chosen because
they held across the seeds we tried at this size (see gin/tour.gin).
"""

from __future__ import annotations

import os

import gin

from keras_collapse.studies._harness import Study


def _select(name, claims, wanted):
    """The claims of study `name` whose text starts with one of `wanted`."""
    chosen = []
    for prefix in wanted:
        matches = [c for c in claims if c["claim"].startswith(prefix)]
        if len(matches) != 1:
            raise ValueError(
                f"Invalid value for argument `headline`: {name!r} has "
                f"{len(matches)} claims starting with {prefix!r} (expected 1). "
                f"Its claims: {[c['claim'] for c in claims]}"
            )
        chosen.append(matches[0])
    return chosen


@gin.configurable
def tour(study, parts=gin.REQUIRED, headline=None, seeds_note=""):
    """Run every study in `parts` at tour size and report the headline claims.

    Args:
        study: The tour's :class:`keras_collapse.studies._harness.Study`.
        parts: Study entry functions, usually gin-scoped (e.g.
            `@tour/jing2022_strong_augmentation`) so the tour's reduced sizes
            apply only here.
        headline: `{study_name: [claim prefix, ...]}`: the claims reported as
            the tour's own (each prefix must match exactly one claim).
            Defaults to every claim of every part.
        seeds_note: How the headline was chosen (seeds tried), for results.md.
    """
    headline = dict(headline or {})
    unknown = sorted(set(headline) - {part.__name__ for part in parts})
    if unknown:
        raise ValueError(
            f"Invalid value for argument `headline`: no part named {unknown}; "
            f"parts are {[part.__name__ for part in parts]}"
        )
    for index, part in enumerate(parts, 1):
        name = part.__name__
        study.log(f"part {index}/{len(parts)}: {name}")
        sub = Study(os.path.join(study.output_dir, name), name, seed=study.seed, log=study._log)
        part(sub)
        results = sub.finish()
        wanted = headline.get(name)
        for claim in results["claims"] if wanted is None else _select(name, results["claims"], wanted):
            study.claim(f"{name}: {claim['claim']}", claim["paper"], claim["measured"],
                        claim["verdict"], criterion=claim["criterion"], setup=claim["setup"])
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


#: The committed full-size results, installed with the package.
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


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
    ...                 "| a | b | c | holds | x |\n| d | e | f | **does not hold** | x |\n"
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
    header = [cell.strip() for cell in lines[start].strip().strip("|").split("|")]
    column = header.index("verdict") if "verdict" in header else header.index("holds")
    verdicts = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        verdicts.append(cells[column].strip("*"))
    holding = verdicts.count("yes") + verdicts.count("holds")
    untestable = verdicts.count("untestable here")
    extra = f" ({untestable} untestable here)" if untestable else ""
    return f"{holding} of {len(verdicts)}{extra}"
