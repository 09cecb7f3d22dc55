"""Test-suite configuration."""

# Scripts run in their own processes (they configure devices or TF_CONFIG at
# import), never imported by pytest — not even for --doctest-modules.
collect_ignore = ["_mirrored_check.py", "_multi_worker_check.py"]
