"""Collapse by strong augmentation in a linear contrastive model (Jing et al. 2022, arXiv 2110.09348, Fig. 3, Lemma 2, Theorem 1).

A linear ``z = W x`` on 16-d Gaussian data is trained with InfoNCE on views
``x + [0_8, k·ε]`` for a sweep of noise levels ``k`` (a standard deviation, as
in the authors' ``case_1.py``: covariance block-diag(0, k²·I)). For each ``k``
we record the spectra of ``W`` and of the embedding over training (Fig. 3
analogue) and compute Lemma 2's ``X = Σ̂0 − Σ̂1`` from data and weights
(:mod:`keras_collapse.theory`). Theorem 1 predicts that the input directions
where ``X`` has negative eigenvalues are those whose singular values decay;
we compare them with the measured decaying right singular vectors of ``W``.

Training uses the authors' code form (``case_1.py``: ``nn.Linear(16, 16)``
with its bias, dot similarity, τ = 0.1, one direction, SGD 1e-3, batches of
128, 10,000 iterations); ``X`` is computed both as Lemma 2 (the paper's Gaussian form,
τ = 1) and as the exact gradient matrix of the loss actually trained
(``infonce_gradient_x``, dot form, τ = 0.1).
"""

from __future__ import annotations

import functools

import gin
import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse import _checks, theory
from keras_collapse.studies import _toy
from keras_collapse.guards import describe_loss
from keras_collapse.studies._harness import describe_optimizer


def _fmt(value, digits=2):
    """A number for the claims text; NaN (stored as None in JSON) as 'n/a'."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _decayed_directions(w0, w1, ratio):
    """Measured collapsing directions of the final W (columns), and their data.

    Right singular vectors v of W_T with σ < ratio·σ_max (the whole W also
    shrinks or grows, so the decay is measured relative to the top direction).
    Also returns the final σ and ‖W_0 v‖ along the same directions.
    """
    _, s, vt = np.linalg.svd(w1)
    before = np.linalg.norm(w0 @ vt.T, axis=0)
    keep = s < ratio * s[0]
    return vt.T[:, keep], s, before


def _x_report(name, x_matrix, decayed, noisy_basis, dim):
    values, vectors = theory.predicted_collapsing_directions(x_matrix, rtol=1e-6)
    return {
        f"{name}_eigenvalues": np.linalg.eigvalsh(0.5 * (x_matrix + x_matrix.T)),
        f"{name}_negative": int(values.size),
        f"{name}_overlap_decayed": theory.subspace_overlap(vectors, decayed)
        if values.size and decayed.shape[1] else float("nan"),
        f"{name}_overlap_noisy": theory.subspace_overlap(vectors, noisy_basis)
        if values.size else float("nan"),
        f"{name}_noisy_mass": float(np.mean(np.sum(vectors[dim // 2:] ** 2, axis=0)))
        if values.size else float("nan"),
    }


def _run(study, key, k, cfg):
    rng = np.random.default_rng(cfg["seed"])
    dim, noisy = cfg["dim"], cfg["noisy_dims"]
    data = rng.normal(size=(cfg["num_samples"], dim))
    probe = rng.normal(size=(cfg["probe_size"], dim))
    std = _toy.noise_std(dim, noisy, k)
    model = _toy.linear_net(1, dim, init=cfg["init"], seed=cfg["seed"], use_bias=cfg["use_bias"])
    w_init = _toy.kernels(model)[0]
    loss = cfg["loss"]
    history = _toy.train(
        _toy.pair_objective(model, loss), data, std, cfg["steps"],
        cfg["optimizer"](), batch_size=cfg["batch_size"],
        record_every=cfg["record_every"], probe=probe, seed=cfg["seed"] + 1,
        log_dir=study.tensorboard_dir(key))
    w_final = history["kernels"][0]
    # X from a fresh pair of views of `x_samples` points (the two views play x, x').
    x = rng.normal(size=(cfg["x_samples"], dim))
    x_a = x + std * rng.normal(size=x.shape)
    x_b = x + std * rng.normal(size=x.shape)
    decayed, s_final, s_before = _decayed_directions(w_init, w_final, cfg["collapse_ratio"])
    noisy_basis = np.eye(dim)[:, dim - noisy:]
    result = {"k": k, "history": history, "w_init": w_init,
              "decayed_count": int(decayed.shape[1]),
              "decayed_noisy_overlap": theory.subspace_overlap(decayed, noisy_basis)
              if decayed.shape[1] else float("nan"),
              "sv_final": s_final, "sv_init_along": s_before}
    for when, w in (("init", w_init), ("final", w_final)):
        lemma = theory.strong_augmentation_x(w, x_a, x_b, 1.0, "gaussian")
        exact = theory.infonce_gradient_x(w, x_a, x_b, cfg["loss"].temperature,
                                          cfg["loss"].similarity)
        result.update(_x_report(f"lemma2_{when}", lemma, decayed, noisy_basis, dim))
        result.update(_x_report(f"exact_{when}", exact, decayed, noisy_basis, dim))
    return result


def _figures(study, results, dim, noisy):
    ks = [r["k"] for r in results]
    fig = Figure(figsize=(3.3 * len(ks), 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    for col, r in enumerate(results):
        h = r["history"]
        steps = np.asarray(h["step"])
        for row, (label, values) in enumerate((
                ("log σ_k(W)", np.log(np.maximum(np.asarray(h["sv"])[:, 0], 1e-300))),
                ("log λ_k(embedding cov.)",
                 np.log(np.maximum(np.asarray(h["eig"], np.float64), 1e-300))))):
            ax = fig.add_subplot(2, len(ks), row * len(ks) + col + 1)
            ax.plot(steps, values, lw=0.8)
            ax.set_title(f"k = {r['k']}: {label}", fontsize=8)
            ax.set_xlabel("iteration", fontsize=8)
    study.figure(fig, "fig3_spectra_over_training.png",
                 "Fig. 3 analogue: singular values of W (top) and embedding covariance "
                 "eigenvalues (bottom, natural log) over training, one column per noise std k.")
    fig = Figure(figsize=(10.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i + 1) for i in range(3))
    for r in results:
        ax1.plot(np.arange(1, dim + 1), np.log(np.maximum(r["history"]["eig"][-1], 1e-300)),
                 marker=".", label=f"k={r['k']}")
        ax2.plot(np.arange(1, dim + 1), r["lemma2_final_eigenvalues"], marker=".",
                 label=f"k={r['k']}")
        ax3.plot(np.arange(1, dim + 1), r["exact_final_eigenvalues"], marker=".",
                 label=f"k={r['k']}")
    ax1.set_title("final embedding spectrum (log λ_k)", fontsize=9)
    ax2.set_title("eigenvalues of X = Σ̂0 − Σ̂1 (Lemma 2, Gaussian τ=1)", fontsize=9)
    ax3.set_title("eigenvalues of exact X of the trained loss (dot, τ)", fontsize=9)
    for ax in (ax2, ax3):
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_yscale("symlog")
    ax1.legend(fontsize=7)
    study.figure(fig, "x_eigenvalues.png",
                 "Final embedding spectra per k and the eigenvalues of X (ascending) at the "
                 "end of training; negative eigenvalues mark predicted collapsing directions.")


def _settings(cfg, noise_stds):
    """Rows `setting | paper | this run | why` (paper: arXiv 2110.09348 Sec. 3;
    the authors' ``toy_task/case_1.py``)."""
    same = "as the authors' case_1.py"
    return [
        ["data", "x ~ N(0, I_16), 10,000 points (case_1.py)",
         f"N(0, I_{cfg['dim']}), {cfg['num_samples']} points", same],
        ["views", "x + [0_8, k·N(0, I_8)] (k a standard deviation)",
         f"x + [0_{cfg['dim'] - cfg['noisy_dims']}, k·N(0, I_{cfg['noisy_dims']})]", same],
        ["k", "the README's example: 1.5; the paper's Fig. 3: one strong k",
         ", ".join(f"{k:g}" for k in noise_stds), "a sweep around it, for the trend"],
        ["model", "nn.Linear(16, 16) (with bias)",
         f"Dense({cfg['dim']}) with{'' if cfg['use_bias'] else 'out'} bias", same],
        ["initialisation", "PyTorch default U(±1/√16)", f"{cfg['init']}: U(±1/√{cfg['dim']})",
         same],
        ["loss", "cross-entropy of z1 z2ᵀ/τ against the diagonal, τ = 0.1, unnormalised z",
         describe_loss(cfg["loss"]), same],
        ["optimizer", "SGD, lr 1e-3", describe_optimizer(cfg["optimizer"]), same],
        ["iterations, batch", "10,000, 128", f"{cfg['steps']}, {cfg['batch_size']}", same],
        ["batches", "drawn at random each iteration", "uniform with replacement", same],
        ["spectrum", "covariance eigenvalues of net(x) on 1,000 fresh points, every 10 "
         "iterations", f"the same on {cfg['probe_size']} fresh points, every "
         f"{cfg['record_every']} iterations", same],
        ["X (Lemma 2)", "bias-free linear model, Gaussian form, τ = 1",
         f"from W alone on {cfg['x_samples']} points with two views",
         "Lemma 2 has no bias; the bias is left out of X"],
        ["seeds", "not stated", f"1 (experiment.seed = {cfg['seed']})",
         "the claims read one run per k"],
    ]


@gin.configurable
def jing2022_strong_augmentation(
    study,
    noise_stds=(0.5, 1.0, 1.5, 2.0, 3.0),
    steps=10000,
    batch_size=128,
    loss=kc.losses.InfoNCE(0.1, "dot", symmetric=False),
    optimizer=functools.partial(keras.optimizers.SGD, 1e-3),
    num_samples=10000,
    probe_size=1000,
    x_samples=512,
    dim=16,
    noisy_dims=8,
    init="torch",
    use_bias=True,
    record_every=100,
    min_overlap=0.8,
    collapse_ratio=0.5,
    seed=None,
):
    """Sweep the augmentation strength k; compare X's negative eigenspace with decay.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        noise_stds: Noise standard deviations k on the last `noisy_dims` inputs.
        steps: SGD iterations per run (10,000 in case_1.py).
        batch_size: Minibatch size (128).
        loss: The trained objective, a ``kc.losses.InfoNCE`` (case_1.py: dot
            form, τ = 0.1, one direction; `similarity="gaussian"` is the
            paper's form).
        optimizer: ``optimizer()`` gives a fresh optimizer per run (plain SGD,
            lr 1e-3).
        num_samples: Training points x ~ N(0, I) (10,000).
        probe_size: Fresh points for the embedding covariance (1,000).
        x_samples: Points (with two views) used to compute X.
        dim: Input and embedding dimension (16).
        noisy_dims: Trailing noisy dimensions (8).
        init: Initialisation of W, see `studies._toy.linear_net` (`"torch"` as
            case_1.py's ``nn.Linear``).
        use_bias: Give W a bias, as case_1.py's ``nn.Linear(16, 16)`` (X is
            computed from W alone: Lemma 2 is bias-free).
        record_every: Spectra recorded every this many iterations.
        min_overlap: Subspace overlap counted as agreement.
        collapse_ratio: A right singular direction of the final W counts as
            measured collapsing when σ_k < collapse_ratio·σ_1.
        seed: Seed of data, init and noise. Defaults to `None`: the
            experiment's seed (`experiment.seed`).
    """
    seed = study.seed if seed is None else seed
    if not isinstance(loss, kc.losses.InfoNCE):
        raise _checks.invalid("loss", "a kc.losses.InfoNCE (X is InfoNCE's matrix)", loss,
                              TypeError)
    cfg = dict(steps=steps, batch_size=batch_size, loss=loss, optimizer=optimizer,
               num_samples=num_samples,
               probe_size=probe_size, x_samples=x_samples, dim=dim, noisy_dims=noisy_dims,
               init=init, use_bias=use_bias, record_every=record_every, seed=seed,
               collapse_ratio=collapse_ratio)
    results = [study.unit(f"k={k}", lambda k=k: _run(study, f"k={k}", k, cfg))
               for k in noise_stds]
    _figures(study, results, dim, noisy_dims)
    clean = slice(0, dim - noisy_dims)
    rows, gaps = [], []
    for r in results:
        final = np.log(np.maximum(np.asarray(r["history"]["eig"][-1]), 1e-300))
        gap = float(np.mean(final[clean]) - np.mean(final[dim - noisy_dims:]))
        gaps.append(gap)
        rows.append([r["k"], r["lemma2_init_negative"], r["lemma2_final_negative"],
                     r["exact_final_negative"], r["decayed_count"],
                     r["lemma2_init_overlap_decayed"], r["exact_final_overlap_decayed"],
                     r["lemma2_init_overlap_noisy"], r["decayed_noisy_overlap"],
                     gap, float(final[-1])])
    study.table(
        "Predicted (X < 0) and measured (decayed) collapsing directions per noise std k",
        ["k", "#neg X Lemma2 init", "#neg X Lemma2 final", "#neg X exact final",
         "#measured collapsing dirs of W", "overlap Lemma2 init/measured",
         "overlap exact final/measured", "overlap Lemma2 init/noisy block",
         "overlap measured/noisy block",
         "mean log λ clean − noisy", "min log λ"], rows)
    study.measurements["log_eig_gap_clean_minus_noisy"] = dict(zip(map(str, noise_stds), gaps))

    monotone = all(b > a for a, b in zip(gaps, gaps[1:]))
    study.claim(
        "Stronger augmentation collapses the noisy embedding dimensions more",
        "Fig. 3, Corollary 1",
        "mean log λ (clean − noisy) after training: "
        + ", ".join(f"k={k}: {g:.2f}" for k, g in zip(noise_stds, gaps))
        + f"; smallest final log λ at the largest k: {rows[-1][-1]:.1f} (not an exact zero)",
        monotone and gaps[-1] > 1.0)
    # The prediction: Lemma 2's X (Gaussian form, τ = 1) at the initial W, before
    # training (Theorem 1 takes X fixed; X changes as W trains, see the table).
    with_neg = [r for r in results if r["lemma2_init_negative"] > 0]
    inside = [r for r in with_neg if (r["lemma2_init_overlap_decayed"] or 0.0) >= min_overlap]
    counts = [r for r in results if r["lemma2_init_negative"] == r["decayed_count"]]
    detail = "; ".join(
        f"k={r['k']}: {r['lemma2_init_negative']} predicted vs {r['decayed_count']} measured, "
        f"overlap {_fmt(r['lemma2_init_overlap_decayed'])}" for r in results)
    study.claim(
        "Directions where X = Σ̂0 − Σ̂1 (Lemma 2) has negative eigenvalues are the ones whose "
        "singular values decay",
        "Theorem 1, Lemma 2",
        f"X from the initial W (Gaussian form, τ=1, {x_samples} points); measured = right "
        f"singular vectors of the final W with σ < {collapse_ratio}·σ_1. {detail}. Predicted "
        f"subspace inside the measured one (overlap ≥ {min_overlap}) for "
        f"{len(inside)}/{len(with_neg)} k with X<0; counts equal for {len(counts)}/{len(results)} k",
        bool(with_neg) and len(inside) == len(with_neg))
    study.claim(
        "The number of collapsing directions equals the number of negative eigenvalues of X",
        "Theorem 1",
        f"equal counts for k in {[r['k'] for r in counts]} of {list(noise_stds)} "
        "(X fixed at the initial W; weaker k predicts fewer directions than the 8 noisy "
        "ones that shrink)",
        len(counts) == len(results))
    noisy_hits = [r for r in with_neg if (r["lemma2_init_overlap_noisy"] or 0.0) >= min_overlap]
    study.claim(
        "X's negative eigenspace lies in the augmented (noisy) input block",
        "Lemma 2",
        f"overlap of the X<0 eigenspace (initial W) with the last {noisy_dims} coordinates "
        f"≥ {min_overlap} for {len(noisy_hits)}/{len(with_neg)} k with negative eigenvalues: "
        + ", ".join(f"k={r['k']}: {_fmt(r['lemma2_init_overlap_noisy'])}" for r in with_neg),
        bool(with_neg) and len(noisy_hits) == len(with_neg))
    final_neg = [r["lemma2_final_negative"] for r in results]
    exact = ", ".join(f"k={r['k']}: {r['exact_final_negative']} "
                      f"(noisy-block overlap {_fmt(r['exact_final_overlap_noisy'])})"
                      for r in results)
    study.claim(
        "X stays fixed during training (the assumption of Theorem 1)",
        "Theorem 1",
        f"negative eigenvalues of Lemma 2's X at init {[r['lemma2_init_negative'] for r in results]}"
        f" vs after training {final_neg}: once the noisy directions shrink the positive pairs "
        f"match better (α_ii ↑) and Σ̂1 loses weight. Exact X of the trained dot/τ loss after "
        f"training, #negative: {exact}",
        all(r["lemma2_final_negative"] == r["lemma2_init_negative"] for r in results))
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(cfg, noise_stds))
