"""Objectives against the machine's physical limit, XLA, memory and graph shape.

Rows (see benchmarks/README.md):

* ``matmul throughput``: float32 ``(2048, 2048) @ (2048, 2048)`` in a
  ``tf.function``; ``ratio`` holds GFLOP/s (a rate, not a ratio).
* ``<objective> fwd+bwd / matmul limit``: forward + backward (gradients
  w.r.t. both views) of the objective at batch N = 512 in a ``tf.function``,
  over the time its dominant matmuls would take at the measured throughput
  (FLOPs counted forward AND backward; each row states its count).
  Target 1.5. SimSiam/BYOL have no matmul, so their row compares with one
  fused elementwise pass over the same tensors instead and has no target.
* ``<objective> fwd+bwd / its matmuls at their shapes``: the same step over
  only the counted matmuls at their actual shapes (reported only): splits a
  limit ratio into "matmul shapes below peak" and "everything else".
* ``<objective> jit / tf.function``: the same step with ``jit_compile=True``
  over plain ``tf.function`` (< 1: XLA is faster). Reported only; the row's
  existence shows that XLA compiles the objective.
* ``<objective> peak memory``: forward + backward at batch 4096, dim 2048, as
  a multiple of one ``(2N, 2N)`` float32 matrix (256 MiB); the detail gives
  MiB and how it was measured.
* ``<objective> batch×batch matmuls``: in the traced forward+backward graph at
  batch 4096 / dim 2048, the total size of matmul outputs whose two dims are
  both ≥ N, over (2N)²; target 1.0 (at most one (2N)×(2N) similarity).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from benchmarks import _timing

SIZES = {
    # batch for timing, dims, reps, batch/dim for memory and graph checks
    "full": dict(batch=512, small_dim=128, dim=2048, mm=2048, reps=15, min_rep_s=0.03,
                 mem_batch=4096, mem_dim=2048, subprocess=True),
    "tiny": dict(batch=32, small_dim=8, dim=16, mm=128, reps=2, min_rep_s=0.0, mem_batch=64,
                 mem_dim=16, subprocess=False),
}


def _objectives(cfg):
    """(row name, loss factory, dim, pair inputs?, matmul shapes, FLOP text).

    ``matmul shapes(n, d)`` lists the (m, k, p) products counted against the
    limit (forward and backward); FLOPs are Σ 2·m·k·p.
    """
    from keras_collapse import losses as L

    def nt(n, d):  # (2N×d)·(d×2N) forward, two (2N×2N)·(2N×d) backward
        return [(2 * n, d, 2 * n), (2 * n, 2 * n, d), (2 * n, 2 * n, d)]

    def sq(n, d):  # one (N×d)·(d×N) similarity
        return [(n, d, n), (n, n, d), (n, n, d)]

    def cc(n, d):  # one (d×N)·(N×d) cross-correlation / covariance
        return [(d, n, d), (n, d, d), (n, d, d)]

    nt_text = "(2N×d)·(d×2N) similarity: 2·(2N)²·d fwd + 2× that bwd = 6·(2N)²·d"
    sq_text = "(N×d)·(d×N) similarity: 2·N²·d fwd + 2× bwd = 6·N²·d"
    rows = []
    for dim in (cfg["small_dim"], cfg["dim"]):
        rows.append((f"NTXent d={dim}", lambda: L.NTXent(0.1), dim, False, nt, nt_text))
    for dim in (cfg["small_dim"], cfg["dim"]):
        rows.append((f"InfoNCE d={dim}", lambda: L.InfoNCE(0.1), dim, False, sq,
                     "one " + sq_text + " (both directions are rows/columns of it)"))
    d = cfg["dim"]
    rows += [
        (f"BarlowTwins d={d}", L.BarlowTwins, d, False, cc,
         "(d×N)·(N×d) cross-correlation: 2·N·d² fwd + 2× bwd = 6·N·d²"),
        (f"VICReg d={d}", L.VICReg, d, False, lambda n, d: 2 * cc(n, d),
         "two (d×N)·(N×d) covariances: 2·2·N·d² fwd + 2× bwd = 12·N·d²"),
        (f"SpectralContrastive d={d}", L.SpectralContrastive, d, False, sq, sq_text),
        (f"SimSiam d={d}", L.SimSiam, d, True, None, "no matmul"),
        (f"BYOL d={d}", L.BYOL, d, True, None, "no matmul"),
    ]
    return rows


def _flops(shapes):
    return sum(2 * m * k * p for m, k, p in shapes)


def _matmul_floor(shapes):
    """Only the counted matmuls, at their shapes, in one tf.function."""
    import tensorflow as tf

    g = tf.random.Generator.from_seed(2)
    operands = [(g.normal((m, k)), g.normal((k, p))) for m, k, p in shapes]
    return tf.function(lambda: [tf.matmul(a, b) for a, b in operands])


def _inputs(n, d, pairs, seed=0):
    import tensorflow as tf

    g = tf.random.Generator.from_seed(seed)
    count = 4 if pairs else 2
    return [tf.Variable(g.normal((n, d))) for _ in range(count)]


def _step_fn(loss, variables, pairs, jit):
    """A compiled forward+backward of ``loss`` w.r.t. all its inputs."""
    import tensorflow as tf

    @tf.function(jit_compile=jit)
    def step():
        with tf.GradientTape() as tape:
            if pairs:  # SiameseModel with a predictor passes (prediction, target)
                value = loss((variables[0], variables[1]), (variables[2], variables[3]))
            else:
                value = loss(variables[0], variables[1])
        return tape.gradient(value, variables)

    return step


def _elementwise_reference(variables):
    """One fused pass: Σ p_a·t_b + p_b·t_a and its gradient (memory bound)."""
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(variables[0] * variables[3] + variables[2] * variables[1])
        return tape.gradient(value, variables)

    return step


def _matmul_fn(size):
    import tensorflow as tf

    g = tf.random.Generator.from_seed(1)
    a, b = g.normal((size, size)), g.normal((size, size))
    return tf.function(lambda: tf.matmul(a, b))


def _timing_rows(cfg):
    fns, meta = {}, {}
    mm = _matmul_fn(cfg["mm"])
    fns["matmul"] = lambda: _timing.block(mm())
    n = cfg["batch"]
    for name, factory, dim, pairs, shapes, text in _objectives(cfg):
        variables = _inputs(n, dim, pairs)
        for jit in (False, True):
            step = _step_fn(factory(), variables, pairs, jit)
            fns[(name, jit)] = lambda step=step: _timing.block(step())
        if shapes is None:
            ref = _elementwise_reference(variables)
            fns[(name, "ref")] = lambda ref=ref: _timing.block(ref())
        else:
            floor = _matmul_floor(shapes(n, dim))
            fns[(name, "floor")] = lambda floor=floor: _timing.block(floor())
        meta[name] = (dim, shapes, text)
    times = _timing.interleaved(fns, reps=cfg["reps"], warmup=2, min_rep_s=cfg["min_rep_s"])
    mm_flops = 2 * cfg["mm"] ** 3
    rates = [mm_flops / t for t in times["matmul"]]
    gflops = _timing.median(rates) / 1e9
    reps = cfg["reps"]
    rows = [{"group": "losses", "name": "matmul throughput (GFLOP/s, not a ratio)",
             "ratio": gflops, "target": None,
             "detail": f"float32 {cfg['mm']}×{cfg['mm']}·{cfg['mm']}×{cfg['mm']} in a "
                       f"tf.function: {_timing.ms(_timing.median(times['matmul']))} "
                       f"→ {gflops:.1f} GFLOP/s (median of {reps} interleaved reps)"}]
    floors = []
    for name, (dim, shapes, text) in meta.items():
        t_graph = _timing.median(times[(name, False)])
        if shapes is not None:
            count = _flops(shapes(n, dim))
            # per rep: time over (FLOPs / that rep's matmul rate)
            ratio = _timing.median(t * r / count for t, r in zip(times[(name, False)], rates))
            rows.append({
                "group": "losses", "name": f"{name} fwd+bwd / matmul limit", "ratio": ratio,
                "target": 1.5,
                "detail": f"N={n}: {_timing.ms(t_graph)} vs {count / 1e9:.3f} GFLOP at "
                          f"{gflops:.0f} GFLOP/s = {_timing.ms(count / gflops / 1e9)}; {text}"})
            t_floor = _timing.median(times[(name, "floor")])
            at_rate = _timing.median(t * r / count for t, r in zip(times[(name, "floor")], rates))
            floors.append({
                "group": "losses-floor", "name": f"{name} fwd+bwd / its matmuls at their shapes",
                "ratio": _timing.paired_ratio(times, (name, False), (name, "floor")),
                "target": None,
                "detail": f"N={n}: {_timing.ms(t_graph)} vs the counted matmuls alone at their "
                          f"shapes {_timing.ms(t_floor)}, which take {at_rate:.2f}× the limit "
                          f"({' + '.join(f'{m}×{k}·{k}×{p}' for m, k, p in shapes(n, dim))})"})
        else:
            ratio = _timing.paired_ratio(times, (name, False), (name, "ref"))
            rows.append({
                "group": "losses", "name": f"{name} fwd+bwd / elementwise pass", "ratio": ratio,
                "target": None,
                "detail": f"N={n}: {_timing.ms(t_graph)} vs one fused Σp·t pass fwd+bwd "
                          f"{_timing.ms(_timing.median(times[(name, 'ref')]))}; no matmul, so "
                          "the matmul bound does not apply (l2-normalise + cosine, O(N·d))"})
    rows += floors
    for name in meta:
        t_graph, t_jit = (_timing.median(times[(name, jit)]) for jit in (False, True))
        rows.append({
            "group": "losses-xla", "name": f"{name} jit / tf.function",
            "ratio": _timing.paired_ratio(times, (name, True), (name, False)), "target": None,
            "detail": f"N={n}: jit_compile=True {_timing.ms(t_jit)} vs tf.function "
                      f"{_timing.ms(t_graph)} (< 1: XLA faster; {reps} interleaved reps)"})
    return rows


# ------------------------------------------------------------------ graph check
_MATMUL_OPS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"}


def _graph_rows(cfg):
    import tensorflow as tf

    n, rows = cfg["mem_batch"], []
    for name, factory, dim, pairs, _, _ in _objectives(cfg):
        if dim != cfg["dim"]:
            continue
        dim = cfg["mem_dim"]
        name = name.split(" d=")[0] + f" d={dim}"
        specs = [tf.TensorSpec((n, dim), tf.float32)] * (4 if pairs else 2)
        loss = factory()

        @tf.function
        def step(*views, loss=loss, pairs=pairs):
            with tf.GradientTape() as tape:
                tape.watch(views)
                value = loss(views[:2], views[2:]) if pairs else loss(*views)
            return tape.gradient(value, list(views))

        graph = step.get_concrete_function(*specs).graph
        big, shapes = 0, []

        def visit(g):
            nonlocal big
            for op in g.get_operations():
                attrs = op.node_def.attr
                fn_name = attrs["f"].func.name if "f" in attrs else ""
                if fn_name and fn_name in g._functions:  # a nested function call
                    visit(g._functions[fn_name].graph)
                if op.type not in _MATMUL_OPS:
                    continue
                shape = op.outputs[0].shape
                if shape.rank and shape.rank >= 2 and all(
                        s is not None and s >= n for s in shape[-2:]):
                    big += shape.num_elements()
                    shapes.append("×".join(map(str, shape)))

        visit(graph)
        rows.append({
            "group": "losses-graph", "name": f"{name} batch×batch matmuls / (2N)²",
            "ratio": big / (2 * n) ** 2, "target": 1.0,
            "detail": f"N={n}, traced fwd+bwd graph: {len(shapes)} matmul output(s) with both "
                      f"dims ≥ N: {', '.join(shapes) or 'none'}"})
    return rows


# ---------------------------------------------------------------------- memory
def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure_memory(index, size):
    """Peak bytes of one fwd+bwd (fresh process: RSS before vs ru_maxrss after)."""
    import tensorflow as tf

    cfg = SIZES[size]
    name, factory, _, pairs, _, _ = [o for o in _objectives(cfg)][index]
    variables = _inputs(cfg["mem_batch"], cfg["mem_dim"], pairs)
    step = _step_fn(factory(), variables, pairs, jit=False)
    step.get_concrete_function()  # trace without running
    before = _rss_bytes()
    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
    except (ValueError, RuntimeError):
        pass
    _timing.block(step())
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    try:
        tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    except (ValueError, RuntimeError):
        tf_peak = 0
    if tf_peak > 0:
        return tf_peak, "tf.config.experimental.get_memory_info('CPU:0') peak"
    return peak_rss, ("get_memory_info('CPU:0') reports 0 on CPU, so: ru_maxrss after − "
                      "RSS before the call, in a fresh process, graph traced first")


def _memory_rows(cfg, size):
    n, d = cfg["mem_batch"], cfg["mem_dim"]
    one = (2 * n) ** 2 * 4
    rows = []
    for index, (name, _, dim, pairs, _, _) in enumerate(_objectives(cfg)):
        if dim != cfg["dim"]:
            continue
        name = name.split(" d=")[0] + f" d={d}"
        if cfg["subprocess"]:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_losses", "--memory", str(index), size],
                capture_output=True, text=True, check=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            peak, how = json.loads(out.stdout.strip().splitlines()[-1])
        else:
            peak, how = _measure_memory(index, size)
            how = "in-process (tiny size, indicative only): " + how
        inputs = (4 if pairs else 2) * n * d * 4
        rows.append({
            "group": "losses-memory", "name": f"{name} peak memory / one (2N)² matrix",
            "ratio": peak / one, "target": None,
            "detail": f"N={n}: peak {peak / 2**20:.0f} MiB (inputs {inputs / 2**20:.0f} MiB, "
                      f"one (2N)² float32 = {one / 2**20:.0f} MiB); {how}"})
    return rows


def run(size: str) -> list[dict]:
    """Rows for ``size`` in ``{"full", "tiny"}``."""
    cfg = SIZES[size]
    return _timing_rows(cfg) + _graph_rows(cfg) + _memory_rows(cfg, size)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(json.dumps(_measure_memory(int(sys.argv[2]), sys.argv[3])))
    else:
        for row in run(sys.argv[1] if len(sys.argv) > 1 else "tiny"):
            print(row)
