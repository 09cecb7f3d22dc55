"""What `keras-collapse run` checks before it imports TensorFlow.

Importing TensorFlow takes 10 to 40 seconds; a mistake found without it is
reported at once, in one line: the Keras backend, the syntax of the gin files
and of the `--gin_param` bindings (an unclosed parenthesis would otherwise
end in a raw `tokenize.TokenError`), and whether `--output_dir` can be made.
Nothing here imports TensorFlow, and nothing is written.
"""

from __future__ import annotations

import os
import tokenize

from gin import config_parser

from keras_collapse import _backend


class _Syntax(config_parser.ParserDelegate):
    """Parses without looking anything up (no configurable needs to exist)."""

    def configurable_reference(self, scoped_configurable_name, evaluate):
        return scoped_configurable_name

    def macro(self, macro_name):
        return macro_name


def parse_bindings(text, where=None):
    """`[(scope, selector, param)]` of the binding statements in gin `text`,
    checked for syntax only; a macro `NAME = v` is `("", "NAME", "")`.

    Args:
        text: gin text: one binding, or a whole file.
        where: How to name `text` in an error. Defaults to the text itself.

    Raises:
        SyntaxError: naming `where` and gin's reason; an unclosed parenthesis,
            bracket or quote included.

    Example:

    >>> parse_bindings("tour/werank2023.steps = 5\\nLR = 0.1")
    [('tour', 'werank2023', 'steps'), ('', 'LR', '')]
    >>> parse_bindings("werank2023.ks = (0.1, 0.5")
    Traceback (most recent call last):
    ...
    SyntaxError: cannot parse 'werank2023.ks = (0.1, 0.5': a parenthesis, bracket or quote is not closed
    """
    where = repr(text) if where is None else where
    try:
        statements = list(config_parser.ConfigParser(text, _Syntax()))
    except SyntaxError as error:
        raise SyntaxError(f"cannot parse {where}: {error.msg}") from None
    except tokenize.TokenError:
        raise SyntaxError(f"cannot parse {where}: a parenthesis, bracket or quote "
                          "is not closed") from None
    return [(s.scope, s.selector, s.arg_name) for s in statements
            if isinstance(s, config_parser.BindingStatement)]


def output_dir_problem(path):
    """Why `path` cannot become the output directory, or `None`; creates nothing.

    Example:

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> output_dir_problem(os.path.join(folder, "runs", "tour")) is None
    True
    >>> open(os.path.join(folder, "notes"), "w").close()
    >>> output_dir_problem(os.path.join(folder, "notes", "tour")).endswith("is a file")
    True
    """
    if "://" in path:  # a remote file system (gs://...): checked when written
        return None
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def before_tensorflow(files, bindings, output_dir):
    """Raise `SystemExit` with a one-line message for the first problem found.

    Args:
        files: The resolved `.gin` files.
        bindings: The `--gin_param` strings.
        output_dir: The `--output_dir` argument.

    Example:

    >>> try:
    ...     before_tensorflow([], ["werank2023.ks = (0.1,"], "runs/werank")
    ... except SystemExit as error:
    ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
    keras-collapse: invalid gin configuration: cannot parse 'werank2023.ks = (0.1,':
    a parenthesis, bracket or quote is not closed
    """
    problem = _backend.environment_problem()
    if problem:
        raise SystemExit(f"keras-collapse: {problem}")
    try:
        for path in files:
            with open(path, encoding="utf-8") as stream:
                parse_bindings(stream.read(), where=path)
        for binding in bindings:
            parse_bindings(binding)
    except SyntaxError as error:
        raise SystemExit(f"keras-collapse: invalid gin configuration: {error.msg}") from None
    problem = output_dir_problem(output_dir)
    if problem:
        raise SystemExit(f"keras-collapse: cannot write to --output_dir {output_dir!r}: "
                         f"{problem}. Choose a directory you can create and write to.")


def keras_backend():
    """After TensorFlow's import: `SystemExit` unless Keras runs on it (keras.json).

    Example:

    >>> keras_backend()  # the test suite runs on TensorFlow: nothing to say
    """
    try:
        _backend.require_tensorflow()
    except ImportError as error:
        raise SystemExit(f"keras-collapse: {error}") from None
