"""Subprocesses of the tests: a time limit that leaves room for a slow or
busy machine, and a timeout that says which step the process was in.

The limit guards against hangs; it is not a speed test. `_mirrored_check.py`
takes about 2 minutes alone on 2 idle cores and took 375 s with about 8 busy
processes sharing them; 1200 s leaves room for a CI machine slower than that.
The scripts mark their steps on stderr with :func:`step`; a study run through
the command line marks its own (its progress lines).
"""

import subprocess
import sys

import pytest

TIMEOUT_S = 1200
STEP = "[step]"


def step(name):
    """Mark, on stderr, that a script starts step `name`."""
    print(f"{STEP} {name}", file=sys.stderr, flush=True)


def _text(output):
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def last_step(output):
    """The last step marked in `output` (or its last progress line), or `None`.

    Example:

    >>> last_step("[step] losses\\nsome log\\n[step] fit\\nwarning\\n")
    'fit'
    >>> last_step("[tour  3.1s] part 2/6: werank2023\\n")
    '[tour  3.1s] part 2/6: werank2023'
    """
    lines = [line.strip() for line in _text(output).splitlines() if line.strip()]
    marked = [line[len(STEP):].strip() for line in lines if line.startswith(STEP)]
    progress = [line for line in lines if line.startswith("[") and "s] " in line]
    return (marked or progress or [None])[-1]


def timed_out(command, seconds, *outputs):
    """The failure message of a process stopped after `seconds`."""
    steps = [found for found in map(last_step, outputs) if found]
    where = f"in step {steps[-1]!r}" if steps else "before its first step"
    tail = "".join(_text(output) for output in outputs)[-2000:]
    name = " ".join(str(part) for part in command[1:4]) or str(command[0])
    return (f"{name} timed out after {seconds} s {where}.\n--- end of its output ---\n{tail}")


def run(command, timeout=TIMEOUT_S, **kwargs):
    """`subprocess.run(command, capture_output=True, text=True, ...)`; a
    timeout fails the test naming the step the process was in.

    Example:

    >>> import sys
    >>> script = "import sys, time; print('[step] loading', file=sys.stderr); time.sleep(60)"
    >>> try:
    ...     run([sys.executable, "-S", "-c", script], timeout=3)
    ... except pytest.fail.Exception as failure:
    ...     print(str(failure).splitlines()[0].split(" timed out ")[1])
    after 3 s in step 'loading'.
    """
    kwargs.setdefault("capture_output", True)
    try:
        return subprocess.run(command, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        pytest.fail(timed_out(command, timeout, error.stdout, error.stderr), pytrace=False)
