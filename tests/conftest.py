"""Test-suite configuration."""

import os

# The suite runs on the `keras-collapse` command's CPU path (oneDNN on, as
# keras_collapse/_cpu.py sets it before TensorFlow is imported), so that
# in-process results equal the command's in subprocesses also on CPUs where
# TensorFlow's own default is off; a value set outside is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# Scripts run in their own processes (they configure devices or TF_CONFIG at
# import), never imported by pytest — not even for --doctest-modules.
collect_ignore = ["_mirrored_check.py", "_multi_worker_check.py"]
# Scripts that pin upstream values need torch (not a test dependency).
collect_ignore_glob = ["upstream/*.py"]
