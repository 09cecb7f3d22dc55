"""The `keras-collapse` command: `run` a gin study, `list` the studies."""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-collapse",
        description="Run gin-configured studies of representation collapse.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a study from .gin files")
    run.add_argument("gin_files", nargs="*", help=".gin files (or study names)")
    run.add_argument("--gin_file", action="append", default=[], help="more .gin files")
    run.add_argument(
        "--gin_param", action="append", default=[], help="a binding, e.g. 'x.y = 1'"
    )
    run.add_argument("--output_dir", required=True, help="where results are written")
    commands.add_parser("list", help="name the studies, one line each")
    return parser


def _resolve(path):
    """A .gin path, or a study name resolved to gin/<name>.gin beside the repo."""
    if os.path.exists(path):
        return path
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join("gin", path + ".gin"), os.path.join(here, "gin", path + ".gin")):
        if os.path.exists(candidate):
            return candidate
    raise SystemExit(
        f"keras-collapse: no such gin file or study: {path!r}. "
        "Run `keras-collapse list` for the studies."
    )


def main(argv=None):
    """Entry point of the `keras-collapse` console script."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    import gin

    import studies

    if args.command == "list":
        for name, line in studies.describe().items():
            print(f"{name:36s} {line}")
        return 0
    files = [_resolve(p) for p in args.gin_files + args.gin_file]
    if not files:
        raise SystemExit("keras-collapse run: give at least one .gin file or study name")
    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings(files, args.gin_param, skip_unknown=False)
    except (ValueError, KeyError, NameError, SyntaxError) as error:
        raise SystemExit(f"keras-collapse: invalid gin configuration: {error}") from None
    command = "keras-collapse " + " ".join(shlex.quote(a) for a in argv)
    studies.experiment(output_dir=args.output_dir, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
