"""The benchmark suite runs end to end at the tiny size (so it cannot rot).

Only the presence of every row and the markdown file are checked; the targets
are read from BENCHMARKS.md (a full run), never asserted on timings here.
"""

import math

import pytest

run = pytest.importorskip("benchmarks.run")

EXPECTED = {
    "bench_losses": ["matmul throughput"] + [
        f"{name} fwd+bwd" for name in ("NTXent d=8", "NTXent d=16", "InfoNCE d=8",
                                       "InfoNCE d=16", "BarlowTwins d=16", "VICReg d=16",
                                       "SpectralContrastive d=16", "SimSiam d=16",
                                       "BYOL d=16")
    ] + [f"{name} jit / tf.function" for name in ("NTXent d=16", "BarlowTwins d=16",
                                                  "VICReg d=16", "SimSiam d=16", "BYOL d=16")]
    + [f"{name} fwd+bwd / its matmuls" for name in ("NTXent d=8", "InfoNCE d=16",
                                                    "BarlowTwins d=16", "VICReg d=16",
                                                    "SpectralContrastive d=16")]
    + [f"{name} d=16 batch×batch" for name in ("NTXent", "InfoNCE", "BarlowTwins", "VICReg",
                                          "SpectralContrastive", "SimSiam", "BYOL")]
    + [f"{name} d=16 peak memory" for name in ("NTXent", "InfoNCE", "BarlowTwins", "VICReg",
                                               "SpectralContrastive", "SimSiam", "BYOL")],
    "bench_fit": ["steps_per_execution=1", "steps_per_execution=4"],
    "bench_toy": ["WERank VICReg, full batch", "1 layer, record every 10",
                  "2 layers, record every 100"],
    "bench_werank": ["WERank on every kernel", "VICReg covariance term (width 128)",
                     "VICReg covariance term (width 128, batch 16)", "WERank on a 32×32 kernel"],
    "bench_metrics": ["spectrum", "spectrum_logger_overhead"],
    "bench_data": ["simclr two-view pipeline"],
    "bench_image": ["ResNet-18 SimCLR epoch, LARS / SGD", "OnlineKNN evaluation / training epoch",
                    "OnlineKNN evaluation / encoding alone"],
}


def test_tiny_suite_produces_every_row_and_the_markdown(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    rows = run.main(["--size", "tiny", "--output", str(output)])
    assert not [r for r in rows if r.get("error")], [r["detail"] for r in rows if r.get("error")]
    for row in rows:
        assert set(row) >= {"group", "name", "ratio", "target", "detail"}
        assert isinstance(row["ratio"], float) and math.isfinite(row["ratio"]), row
    for module, prefixes in EXPECTED.items():
        names = [r["name"] for r in rows if r["module"] == module]
        for prefix in prefixes:
            assert any(prefix in name for name in names), (module, prefix, names)
    text = output.read_text()
    assert "python -m benchmarks.run --size tiny" in text
    assert "flags " in text and "oneDNN " in text  # the CPU each row was measured on
    assert "TensorFlow" in text and "| group | benchmark |" in text
    assert text.count("\n| ") - 1 == len(rows)


def test_interleaved_fills_each_rep_with_back_to_back_calls():
    import time

    from benchmarks import _timing

    calls = {"slow": 0, "fast": 0}

    def make(name, seconds):
        def fn():
            calls[name] += 1
            time.sleep(seconds)
        return fn

    times = _timing.interleaved({"slow": make("slow", 0.02), "fast": make("fast", 0.001)},
                                reps=3, warmup=1, min_rep_s=0.01)
    # the slow call already fills a rep; the fast one is repeated (≤ 10 per rep)
    assert calls["slow"] == 1 + 3
    assert 1 + 3 * 2 <= calls["fast"] <= 1 + 3 * 10
    assert all(t >= 0.001 for t in times["fast"]) and all(t >= 0.02 for t in times["slow"])
    assert all(t < 0.015 for t in times["fast"])  # per call, not per rep


def test_step_worker_protocol():
    """A worker answers `ready` after its warm-up unit, then one line per
    `steps N` (seconds per step), and stops at `quit`."""
    import io
    import json

    from benchmarks import _worker

    calls = []

    def run_steps(n):
        calls.append(n)
        return 2.0 * n, 1.0 * n, 0.5

    out = io.StringIO()
    _worker.serve(run_steps, 0.1, {"framework": "fake"}, stdin=io.StringIO("steps 4\nquit\n"
                                                                        "steps 9\n"),
                  stdout=out)
    ready, answer = (json.loads(line) for line in out.getvalue().splitlines())
    assert calls == [2, 4]
    assert ready["ready"] and ready["framework"] == "fake" and ready["max_rss_mib"] > 0
    assert answer == {"wall_s": 2.0, "cpu_s": 1.0, "loss": 0.5}


def test_only_keeps_the_other_modules_rows_with_their_runs():
    """`--only M` replaces M's rows; every other row keeps the run (command,
    machine) that measured it, and runs no row refers to are dropped."""
    old_runs = [{"command": "first"}, {"command": "second"}, {"command": "third"}]
    previous = {"runs": old_runs, "rows": [
        {"module": "bench_losses", "name": "a", "run": 0},
        {"module": "bench_torch", "name": "t", "run": 1},
        {"module": "bench_fit", "name": "b", "run": 2}]}
    rows, runs = run.merge(previous, [{"module": "bench_torch", "name": "t2"}],
                           {"command": "new"}, ("bench_torch",))
    assert [(r["name"], runs[r["run"]]["command"]) for r in rows] == [
        ("a", "first"), ("b", "third"), ("t2", "new")]
    assert [r["command"] for r in runs] == ["first", "third", "new"]
    rows, runs = run.merge(None, [{"module": "bench_fit", "name": "b"}], {"command": "x"},
                           ("bench_fit",))
    assert rows == [{"module": "bench_fit", "name": "b", "run": 0}] and len(runs) == 1


def test_bench_torch_contenders_and_rows():
    """Each contender's process gets the path it names; the rows compare each
    with torch eager (the SSL target on the default path), XLA's detail gives
    its compilation and when it pays, and SSL / supervised is one row."""
    from benchmarks import bench_torch

    cfg = bench_torch.SIZES["full"]
    contenders = bench_torch.contenders(cfg, "ssl", "/torch/python")
    assert list(contenders) == ["kc default", "kc oneDNN off", "kc XLA",
                                "kc default, supervised step", "torch eager",
                                "torch channels_last"]
    assert "--task supervised" in " ".join(contenders["kc default, supervised step"][0])
    assert contenders["kc default"][1]["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert contenders["kc oneDNN off"][1]["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert contenders["kc XLA"][0][-1] == "--jit"
    assert contenders["torch channels_last"][0][:3] == ["/torch/python", "-m",
                                                        "benchmarks.torch_step"]

    def unit(wall):
        return {"wall_s": wall, "cpu_s": 2 * wall, "loss": 0.0}

    per_step = {"kc default": 1.0, "kc oneDNN off": 1.6, "kc XLA": 0.9, "torch eager": 1.25,
                "torch channels_last": 1.1}
    measured = {}
    for task, scale in (("ssl", 1.0), ("supervised", 0.5)):
        ready = {name: {"first_s": 60.0 if name == "kc XLA" else 10.0} for name in per_step}
        measured[task] = ready, {name: [unit(t * scale)] * 3 for name, t in per_step.items()}
    measured["ssl"][1][bench_torch.SUPERVISED] = [unit(0.5)] * 3
    rows = bench_torch.rows_for("ssl", cfg, *measured["ssl"])
    assert not [row for row in rows if "supervised" in row["name"]]
    ratios = {row["name"]: (row["ratio"], row["target"]) for row in rows}
    assert ratios["SimCLR step, kc default / torch eager"] == (0.8, 1.0)
    assert ratios["SimCLR step, kc oneDNN off / torch eager"] == (1.28, None)
    xla = next(row for row in rows if "kc XLA" in row["name"])
    assert "60.0 s vs 10.0 s without: pays after 500 steps" in xla["detail"]
    ratio = bench_torch._ssl_over_supervised(measured)
    assert (ratio["ratio"], ratio["target"]) == (2.0, 2.2)
    assert "torch eager 2.00" in ratio["detail"]
