"""WERank weight regularization against dimensional collapse in linear toy models (Saheb Pasand et al. 2023, arXiv 2402.09586, Figs. 1-5).

The WERank paper's set-up: 1,000 points from a 16-d isotropic Gaussian, two
views with additive noise of covariance block-diag(0, k·I) (8×8 blocks),
bias-free 16×16 linear layers initialised as in Jing et al.'s ``case_2.py``,
full-batch training. Three objectives: InfoNCE (dot, τ = 0.1) and VICReg
(10, 10, 1) with plain SGD, and an EMA student/teacher (BYOL-style: the student
has a bias-free linear predictor initialised to the identity, the teacher is an
EMA copy with momentum 0.995, AdamW lr 0.01, weight decay 3e-4); each with and
without WERank (α = 0.1 on every kernel, ``kc.regularizers.WERank``).

Figs. 1, 4, 5: singular values of W1, W2 and the embedding over training
(k = 0.1). Fig. 2: final embedding spectra for several depths. Fig. 3: final
weight singular values of a one-layer net for a sweep of k.
"""

from __future__ import annotations

import gin
import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse.studies import _toy

METHODS = ("infonce", "vicreg", "ema")


def _objective(method, model, cfg):
    if method == "infonce":
        return _toy.PairObjective(model, kc.losses.InfoNCE(cfg["temperature"], "dot", symmetric=False)), \
            keras.optimizers.SGD(cfg["infonce_learning_rate"])
    if method == "vicreg":
        weights = cfg["vicreg_weights"]
        return _toy.PairObjective(model, kc.losses.VICReg(
            invariance_weight=weights[0], variance_weight=weights[1],
            covariance_weight=weights[2])), keras.optimizers.SGD(cfg["learning_rate"])
    if method == "ema":
        return _toy.EMAObjective(model, cfg["ema_momentum"]), keras.optimizers.AdamW(
            cfg["ema_learning_rate"], weight_decay=cfg["ema_weight_decay"])
    raise ValueError(f"Invalid value for argument `methods`. Expected items of {METHODS}. "
                     f"Received: {method!r}")


def _run(study, key, method, depth, k, werank, cfg, record_every):
    rng = np.random.default_rng(cfg["seed"])
    data = rng.normal(size=(cfg["num_samples"], cfg["dim"]))
    model = _toy.linear_net(depth, cfg["dim"], init="authors", seed=cfg["seed"],
                            werank=cfg["werank_alpha"] if werank else 0.0)
    objective, optimizer = _objective(method, model, cfg)
    std = _toy.noise_std(cfg["dim"], cfg["dim"] // 2, np.sqrt(k))
    history = _toy.train(objective, data, std, cfg["steps"], optimizer, batch_size=None,
                         record_every=record_every, probe=data, seed=cfg["seed"] + 1,
                         log_dir=study.tensorboard_dir(key))
    return history


def _erank(values):
    return kc.metrics.spectral_entropy_rank(np.sqrt(np.maximum(np.asarray(values), 0.0)))


def _label(werank):
    return "+WERank" if werank else ""


@gin.configurable
def werank2023(
    study,
    methods=METHODS,
    steps=2000,
    learning_rate=0.01,
    infonce_learning_rate=0.001,
    temperature=0.1,
    vicreg_weights=(10.0, 10.0, 1.0),
    ema_momentum=0.995,
    ema_learning_rate=0.01,
    ema_weight_decay=3e-4,
    werank_alpha=0.1,
    k_main=0.1,
    depths=(1, 2, 3, 4),
    depth_method="vicreg",
    ks=(0.1, 1.0, 4.0),
    num_samples=1000,
    dim=16,
    record_every=100,
    collapse_gap=8.0,
    near_one=0.1,
    seed=None,
):
    """Each objective with and without WERank; depth and augmentation sweeps.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        methods: Objectives among `"infonce"`, `"vicreg"`, `"ema"`.
        steps: Full-batch steps (= epochs; 1,000 in Fig. 1, 10,000 in the
            appendix; 2,000 here to fit the CPU budget).
        learning_rate: Plain SGD learning rate for VICReg (not given in the
            paper).
        infonce_learning_rate: Plain SGD learning rate for InfoNCE (0.01
            diverges at k = 4 in full batch; not given in the paper).
        temperature: InfoNCE τ (dot form).
        vicreg_weights: (invariance, variance, covariance) = (10, 10, 1).
        ema_momentum: Teacher EMA factor (0.995).
        ema_learning_rate: AdamW learning rate of the EMA model (0.01).
        ema_weight_decay: AdamW weight decay of the EMA model (3e-4).
        werank_alpha: WERank coefficient α on every kernel (0.1).
        k_main: Noise variance k of Figs. 1, 4, 5 (0.1).
        depths: Numbers of layers for Fig. 2 (must include 2).
        depth_method: Objective used for the depth sweep of Fig. 2.
        ks: Noise variances for the one-layer sweep of Fig. 3.
        num_samples: Points from N(0, I_16) (1,000).
        dim: Width (16).
        record_every: Spectra recorded every this many steps.
        collapse_gap: An eigenvalue counts as collapsed when its natural log is
            more than this below the largest one's.
        near_one: Singular values within this of 1 count as "approaching 1".
        seed: Seed of data, init and noise. Defaults to `None`: the
            experiment's seed (`experiment.seed`).
    """
    seed = study.seed if seed is None else seed
    if 2 not in depths:
        raise ValueError(f"Invalid value for argument `depths`. Expected it to include 2. "
                         f"Received: depths={depths}")
    cfg = dict(steps=steps, learning_rate=learning_rate, temperature=temperature,
               infonce_learning_rate=infonce_learning_rate,
               vicreg_weights=tuple(vicreg_weights), ema_momentum=ema_momentum,
               ema_learning_rate=ema_learning_rate, ema_weight_decay=ema_weight_decay,
               werank_alpha=werank_alpha, num_samples=num_samples, dim=dim, seed=seed)

    def unit(method, depth, k, werank, every=record_every):
        key = f"{method} L={depth} k={k}{_label(werank)}"
        return study.unit(key, lambda: _run(study, key, method, depth, k, werank, cfg, every))

    main = {(m, w): unit(m, 2, k_main, w) for m in methods for w in (False, True)}
    deep = {(d, w): main[(depth_method, w)] if d == 2 else unit(depth_method, d, k_main, w)
            for d in depths for w in (False, True)}
    sweep = {(m, k, w): unit(m, 1, k, w, every=steps) for m in methods for k in ks
             for w in (False, True)}

    fig_names = {"vicreg": "fig1", "infonce": "fig4", "ema": "fig5"}
    for m in methods:
        for w in (False, True):
            name = f"{fig_names.get(m, m)}_{m}{'_werank' if w else ''}.png"
            study.figure(_toy.history_figure(main[(m, w)], f"{m}{_label(w)}, k={k_main}"), name,
                         f"Fig. {fig_names.get(m, m)[3:]} analogue ({m}{_label(w)}): log singular "
                         "values of W1, W2 and log embedding covariance eigenvalues over training.")
    fig = Figure(figsize=(5.0, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for index, d in enumerate(depths):
        for w in (False, True):
            ax.plot(np.arange(1, dim + 1), _toy.final_log_eig(deep[(d, w)]),
                    color=f"C{index}", ls="--" if w else "-", label=f"L={d}{_label(w)}")
    ax.set_xlabel("k")
    ax.set_ylabel("log λ_k (embedding)")
    ax.legend(fontsize=6, ncol=2)
    study.figure(fig, "fig2_depths.png",
                 f"Fig. 2 analogue ({depth_method}): final embedding spectra for L layers, "
                 "dashed with WERank.")
    fig = Figure(figsize=(4.0 * len(methods), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    for index, m in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), index + 1)
        for j, k in enumerate(ks):
            for w in (False, True):
                ax.plot(np.arange(1, dim + 1), np.log(sweep[(m, k, w)]["sv"][-1][0]),
                        color=f"C{j}", ls=":" if w else "-", label=f"k={k}{_label(w)}")
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("k (rank index)")
        ax.set_ylabel("log σ_k(W)")
        ax.legend(fontsize=5, ncol=2)
    study.figure(fig, "fig3_augmentation_sweep.png",
                 "Fig. 3 analogue: final singular values of a one-layer W for noise variance k; "
                 "dotted with WERank.")

    # Claims.
    rows = []
    for m in methods:
        for w in (False, True):
            h = main[(m, w)]
            sv = np.asarray(h["sv"][-1])
            rows.append([f"{m}{_label(w)}", _erank(h["eig"][-1]),
                         int(np.sum(np.log(np.maximum(h["eig"][-1], 1e-300))
                                    < np.log(max(h["eig"][-1])) - collapse_gap)),
                         float(np.min(np.log(np.maximum(h["eig"][-1], 1e-300)))),
                         float(np.max(np.abs(sv - 1.0))), float(np.min(sv)), float(np.max(sv))])
    study.table(f"Depth 2, k = {k_main}, after {steps} full-batch steps",
                ["model", "embedding erank", "collapsed dims", "min log λ",
                 "max |σ(W) − 1|", "min σ(W)", "max σ(W)"], rows)
    erank = {(m, w): _erank(main[(m, w)]["eig"][-1]) for m in methods for w in (False, True)}
    better = [m for m in methods if erank[(m, True)] > erank[(m, False)]]
    study.claim(
        "WERank keeps more embedding dimensions alive than the same model without it",
        "Figs. 1, 4, 5",
        "effective rank of the embedding spectrum without → with WERank: "
        + ", ".join(f"{m} {erank[(m, False)]:.2f} → {erank[(m, True)]:.2f}" for m in methods),
        len(better) == len(methods))
    dist = {m: max(float(np.max(np.abs(np.asarray(s) - 1.0)))
                   for s in main[(m, True)]["sv"][-1]) for m in methods}
    sgd = [m for m in methods if m != "ema"]
    study.claim(
        "With WERank the weight singular values approach 1 (InfoNCE, VICReg; the paper says "
        "the EMA model has trouble)",
        "Figs. 1, 4, 5; Appendix",
        f"max |σ(W_l) − 1| over both layers with WERank after {steps} steps: "
        + ", ".join(f"{m} {d:.3f}" for m, d in dist.items()) + f" (threshold {near_one})",
        bool(sgd) and all(dist[m] <= near_one for m in sgd))
    deep_erank = {(d, w): _erank(deep[(d, w)]["eig"][-1]) for d in depths for w in (False, True)}
    study.table(f"Fig. 2 ({depth_method}): embedding effective rank by depth",
                ["depth", "without WERank", "with WERank"],
                [[d, deep_erank[(d, False)], deep_erank[(d, True)]] for d in depths])
    deeper = [d for d in depths if d > 1]
    study.claim(
        "WERank prevents rank degradation in deeper networks",
        "Fig. 2",
        f"{depth_method} embedding effective rank without / with WERank: "
        + ", ".join(f"L={d}: {deep_erank[(d, False)]:.2f} / {deep_erank[(d, True)]:.2f}"
                    for d in depths),
        all(deep_erank[(d, True)] >= deep_erank[(d, False)] for d in deeper))
    effect = {m: [_erank(np.square(sweep[(m, k, True)]["sv"][-1][0]))
                  - _erank(np.square(sweep[(m, k, False)]["sv"][-1][0])) for k in ks]
              for m in methods}
    study.table("Fig. 3: effective rank of W (one layer), with minus without WERank",
                ["method"] + [f"k={k}" for k in ks], [[m] + effect[m] for m in methods])
    shrinks = [m for m in methods if effect[m][-1] < effect[m][0]]
    study.claim(
        "WERank's effect shrinks as the augmentation strength k grows",
        "Fig. 3",
        "gain in effective rank of W from WERank at the smallest vs largest k: "
        + ", ".join(f"{m} {effect[m][0]:.2f} vs {effect[m][-1]:.2f}" for m in methods),
        len(shrinks) == len(methods))
    study.measurements["embedding_erank"] = {f"{m}{_label(w)}": v for (m, w), v in erank.items()}
