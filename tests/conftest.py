"""Test-suite configuration."""

# Scripts run in their own processes (they configure devices or TF_CONFIG at
# import), never imported by pytest — not even for --doctest-modules.
collect_ignore = ["_mirrored_check.py", "_multi_worker_check.py"]
# Scripts that pin upstream values need torch (not a test dependency).
collect_ignore_glob = ["upstream/*.py"]
