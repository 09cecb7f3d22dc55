"""The `keras-collapse` command: `run` a gin study, `list` the studies, `report` a model.

`--help`, `--version` and `list` import neither TensorFlow nor the studies
(they read the study modules' docstrings from their files); `run` checks
what it can first (`_cli_checks`: the Keras backend, the gin syntax, the
output directory) and then imports them. Ctrl-C ends a run with one line
saying how to resume it. The studies and their `.gin` files are installed
with the package (`keras_collapse/studies/`, `keras_collapse/studies/gin/`),
so a study runs by name from any directory.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shlex
import sys
import textwrap
import tokenize

from keras_collapse import __version__, _cli_checks, _report_cli


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-collapse",
        description="Run gin-configured studies of representation collapse.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a study from .gin files or by name")
    run.add_argument("gin_files", nargs="*", help=".gin files or study names (e.g. tour)")
    run.add_argument("--gin_file", action="append", default=[], help="more .gin files")
    run.add_argument(
        "--gin_param", action="append", default=[], help="a binding, e.g. 'x.y = 1'"
    )
    run.add_argument("--output_dir", required=True, help="where results are written")
    commands.add_parser("list", help="name the studies, one line each")
    _report_cli.add_parser(commands)
    return parser


def studies_dir():
    """The installed studies package's directory (without importing it)."""
    spec = importlib.util.find_spec("keras_collapse.studies")
    return list(spec.submodule_search_locations)[0]


def gin_dir():
    """Where the studies' `.gin` files are installed."""
    return os.path.join(studies_dir(), "gin")


def study_names():
    """Names of the installed studies: one `.gin` file each, in name order
    (the tour of all of them last)."""
    names = [name[: -len(".gin")] for name in os.listdir(gin_dir()) if name.endswith(".gin")]
    return sorted(names, key=lambda name: (name == "tour", name))


def describe():
    """`{name: first docstring line of its module}`, read from the files."""
    out = {}
    for name in study_names():
        path = os.path.join(studies_dir(), name + ".py")
        with open(path, encoding="utf-8") as stream:
            doc = ast.get_docstring(ast.parse(stream.read())) or ""
        out[name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def header_summary(text, skip=50):
    r"""The opening of a config's header comment: its first sentence, or, where
    the recipe's details follow a `(source):` past the first `skip`
    characters, the sentence up to that colon.

    >>> header_summary("# SimCLR (Chen et al. 2020) on CIFAR-10, solo-learn's recipe\n"
    ...                "# (simclr.yaml): LARS lr 0.4, τ 0.2. Reference: ...")
    "SimCLR (Chen et al. 2020) on CIFAR-10, solo-learn's recipe (simclr.yaml)"
    """
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    text, depth = " ".join(lines), 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if depth == 0 and char == "." and text[i + 1:i + 2] in ("", " "):
            return text[:i + 1]
        if depth == 0 and char == ":" and i >= skip and text[i - 1] == ")":
            return text[:i]
    return text


def paper_scale_configs():
    """`{"paper_scale/<name>": header summary}` of the GPU-scale configs
    (`gin/paper_scale/*.gin`; files starting with `_` are shared parts)."""
    directory = os.path.join(gin_dir(), "paper_scale")
    out = {}
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
        if name.endswith(".gin") and not name.startswith("_"):
            with open(os.path.join(directory, name), encoding="utf-8") as stream:
                out[f"paper_scale/{name[:-len('.gin')]}"] = header_summary(stream.read())
    return out


def _resolve(path):
    """A .gin path, or a study name resolved to the installed `<name>.gin`."""
    if os.path.exists(path):
        return os.path.abspath(path)
    candidate = os.path.join(gin_dir(), path + ".gin")
    if os.path.exists(candidate):
        return os.path.abspath(candidate)
    raise SystemExit(
        f"keras-collapse: no such gin file or study: {path!r}. "
        "Run `keras-collapse list` for the studies."
    )


def _import_tensorflow_quietly():
    """Import TensorFlow and find its devices with file descriptor 2 closed.

    TensorFlow's C++ start-up lines (written before its log level applies:
    oneDNN and CUDA-stub notices, and an error-level "failed call to cuInit" on
    machines without a GPU) are not problems of the run; the devices found are
    printed instead. Python exceptions still surface (raised after stderr is
    back).
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured stderr: nothing to hide
        fd = None
    if fd is not None:
        sys.stderr.flush()
        saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
    try:
        import tensorflow as tf

        devices = tf.config.list_physical_devices()
    finally:
        if fd is not None:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)
    kinds = {}
    for device in devices:
        kinds[device.device_type] = kinds.get(device.device_type, 0) + 1
    found = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    print(f"[keras-collapse] TensorFlow {tf.__version__} on {found}", flush=True)


def main(argv=None):
    """Entry point of the `keras-collapse` console script."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.command == "list":
        for name, line in describe().items():
            print(f"{name:36s} {line}")
        print("\nPaper-scale configs (GPUs; TFDS data from a prepared copy):")
        for name, line in paper_scale_configs().items():
            print(textwrap.fill(line, 120, initial_indent=f"{name:42s} ",
                                subsequent_indent=" " * 43, break_on_hyphens=False))
        return 0
    if args.command == "report":
        _import_tensorflow_quietly()
        return _report_cli.report(args)
    files = [_resolve(p) for p in args.gin_files + args.gin_file]
    if not files:
        raise SystemExit("keras-collapse run: give at least one .gin file or study name")
    _cli_checks.before_tensorflow(files, args.gin_param, args.output_dir)
    try:
        return _run(files, args, argv)
    except KeyboardInterrupt:
        return _interrupted(args.output_dir)


def _interrupted(output_dir):
    """One line instead of the traceback of Ctrl-C; exit status 130 (128 + SIGINT)."""
    print(f"\nkeras-collapse: interrupted. Run the same command to resume: the finished "
          f"units in {output_dir} are read back.", file=sys.stderr, flush=True)
    return 130


def _run(files, args, argv):
    """Parse and check the configuration, then run the study."""
    _import_tensorflow_quietly()
    _cli_checks.keras_backend()
    import gin

    from keras_collapse import studies

    studies.load_all()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings(files, args.gin_param, skip_unknown=False)
        studies.check_bindings(given=args.gin_param)
    except (ValueError, KeyError, NameError, SyntaxError, TypeError, tokenize.TokenError) as error:
        raise SystemExit(f"keras-collapse: invalid gin configuration: {error}") from None
    command = "keras-collapse " + " ".join(shlex.quote(a) for a in argv)
    try:
        studies.experiment(output_dir=args.output_dir, command=command)
    except studies.ConfigurationChanged as error:  # gin appends "In call to ..." lines
        raise SystemExit(f"keras-collapse: {str(error).splitlines()[0]}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
