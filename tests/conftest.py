"""Test-suite configuration."""

# Scripts run in their own processes (they configure devices or TF_CONFIG at
# import), never imported by pytest — not even for --doctest-modules.
# tests/upstream/make_pinned_recipes.py needs PyTorch (not a test dependency):
# it writes the pinned values the tests read, and is run by hand.
collect_ignore = ["_mirrored_check.py", "_multi_worker_check.py",
                  "upstream/make_pinned_recipes.py"]
