"""WERank weight regularization against dimensional collapse in linear toy models (Saheb Pasand et al. 2023, arXiv 2402.09586, Figs. 1-5).

The WERank paper's set-up: 1,000 points from a 16-d isotropic Gaussian, two
views with additive noise of covariance block-diag(0, k·I) (8×8 blocks),
bias-free 16×16 linear layers initialised as in Jing et al.'s ``case_2.py``,
full-batch training. Three objectives: InfoNCE (dot, τ = 0.1) and VICReg
(10, 10, 1) with plain SGD, and an EMA student/teacher (BYOL-style: the student
has a bias-free linear predictor initialised to the identity, the teacher is an
EMA copy with momentum 0.995, AdamW lr 0.01, weight decay 3e-4); each with and
without WERank (α = 0.1 on every kernel, ``kc.regularizers.WERank``).

Figs. 1, 4, 5: singular values of W1, W2 and the embedding over 10,000
full-batch epochs (k = 0.1; the appendix's length). Fig. 2: final embedding
spectra for several depths after 5,000. Fig. 3: final weight singular values
of a one-layer net for a sweep of k. Settings the paper does not state come
from Jing et al.'s toy code, which it follows; results.md lists every setting
beside the paper's.
"""

from __future__ import annotations

import functools

import gin
import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.guards import describe_loss
from keras_collapse.studies import _toy
from keras_collapse.studies._harness import describe_optimizer

METHODS = ("infonce", "vicreg", "ema")


def _objective(method, model, cfg, depth):
    """`(objective, optimizer)` of one method from the bound library objects."""
    if method == "infonce":
        # Jing et al.'s toy code: lr 0.01 for two layers (case_2.py), 1e-3 for
        # one (case_1.py, the strong-augmentation set-up of Fig. 3).
        factory = cfg["optimizers"]["infonce"] if depth > 1 else cfg["one_layer_infonce_optimizer"]
        return _toy.pair_objective(model, cfg["infonce_loss"]), factory()
    if method == "vicreg":
        return _toy.pair_objective(model, cfg["vicreg_loss"]), cfg["optimizers"]["vicreg"]()
    if method == "ema":
        return _toy.ema_objective(model, cfg["ema_momentum"]), cfg["optimizers"]["ema"]()
    raise _checks.invalid("methods", f"items of {METHODS}", method)


def _run(study, key, method, depth, k, werank, cfg, record_every, steps, seed):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(cfg["num_samples"], cfg["dim"]))
    model = _toy.linear_net(depth, cfg["dim"], init="authors", seed=seed,
                            regularizer=cfg["regularizer"] if werank else None)
    objective, optimizer = _objective(method, model, cfg, depth)
    std = _toy.noise_std(cfg["dim"], cfg["dim"] // 2, np.sqrt(k))
    history = _toy.train(objective, data, std, steps, optimizer, batch_size=None,
                         record_every=record_every, probe=data, seed=seed + 1,
                         log_dir=study.tensorboard_dir(key))
    return history


def _erank(values):
    return kc.metrics.spectral_entropy_rank(np.sqrt(np.maximum(np.asarray(values), 0.0)))


def _label(werank):
    return "+WERank" if werank else ""


def _settings(cfg, steps, depth_steps, ks, k_main, methods):
    """Rows `setting | paper | this run | why` (paper: arXiv 2402.09586, its
    Sec. 3 and Appendix 4.2; "not stated" where neither it nor the set-up it
    follows, Jing et al.'s toy code, gives the value)."""
    same = "as the paper"
    return [
        ["data", "1,000 points from N(0, I_16)",
         f"{cfg['num_samples']} points from N(0, I_{cfg['dim']})", same],
        ["views", "x + N(0, block-diag(0, k·I_8))", "the same", same],
        ["k (Figs. 1, 4, 5)", "0.1", str(k_main), same],
        ["k (Fig. 3)", "not stated (figure only)", ", ".join(map(str, ks)),
         "a weak-to-strong sweep of our choice"],
        ["model", "bias-free linear 16×16 layers: two (Figs. 1, 4, 5), L (Fig. 2), one (Fig. 3)",
         "the same", same],
        ["initialisation", "not stated (\"the same experimental set-up\" as Jing et al.)",
         "U·diag(exp(−0.35 i))·V, U, V from the SVD of a uniform matrix (Jing et al., case_2.py)",
         "the set-up the paper follows"],
        ["InfoNCE", "\"InfoNCE [4]\"; form and τ not stated",
         f"{describe_loss(cfg['infonce_loss'])}: dot form z_a z_bᵀ/τ, unnormalised",
         "Jing et al.'s toy code, the set-up the paper follows; the paper cites SimCLR "
         "[4], whose loss normalises the embeddings (NT-Xent): the form may differ"],
        ["VICReg", "invariance, variance, covariance 10, 10, 1",
         describe_loss(cfg["vicreg_loss"]), same],
        ["EMA model", "BYOL-like, teacher EMA 0.995; predictor not stated",
         f"teacher EMA {cfg['ema_momentum']}; bias-free linear predictor, identity at init",
         "the predictor is ours (not stated)"],
        ["optimizer (InfoNCE, VICReg)", "SGD, no momentum, no weight decay",
         "VICReg " + describe_optimizer(cfg["optimizers"]["vicreg"]) + "; InfoNCE "
         + describe_optimizer(cfg["optimizers"]["infonce"]) + " (2+ layers), "
         + describe_optimizer(cfg["one_layer_infonce_optimizer"]) + " (one layer)",
         "plain SGD as the paper"],
        ["learning rate (InfoNCE, VICReg)", "not stated", "in the row above",
         "Jing et al.'s toy code: 0.01 for two layers (case_2.py), 1e-3 for one "
         "(case_1.py); 0.01 diverges at k = 4 with one layer"],
        ["optimizer (EMA)", "AdamW, lr 0.01, weight decay 3e-4",
         describe_optimizer(cfg["optimizers"]["ema"]) + ", weight decay "
         f"{cfg['optimizers']['ema']().get_config().get('weight_decay')}", same],
        ["WERank", "α = 0.1 on every layer",
         type(cfg["regularizer"]).__name__ + "(" + ", ".join(
             f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in cfg["regularizer"].get_config().items()) + ") on every layer",
         same],
        ["epochs", "10,000 (appendix: all models); 5,000 (Fig. 2); 1,000 (Sec. 3 text)",
         f"{steps} (Figs. 1, 3, 4, 5); {depth_steps} (Fig. 2)",
         "the appendix's length, where the σ → 1 statement is made; Sec. 3's 1,000 and "
         "the appendix's 10,000 disagree"],
        ["batch", "full batch", "full batch", same],
        ["objectives", "InfoNCE, VICReg, EMA", ", ".join(methods), same],
        ["seeds", "not stated", f"{cfg['num_seeds']} for Figs. 1, 4, 5 (experiment.seed "
         f"{cfg['seed']} and the next); 1 for Figs. 2, 3",
         "the WERank-or-not comparison is read as a mean over seeds; the sweeps are "
         "read as trends of one run"],
        ["evaluation", "plots of the singular values of W_l and of the embedding covariance",
         "the same spectra, and effective ranks / distances to 1 as the numbers behind them",
         "the paper reports plots only"],
    ]


@gin.configurable
def werank2023(
    study,
    methods=METHODS,
    steps=10000,
    depth_steps=5000,
    infonce_loss=None,
    vicreg_loss=None,
    optimizers=None,
    one_layer_infonce_optimizer=None,
    ema_momentum=0.995,
    regularizer=None,
    k_main=0.1,
    depths=(1, 2, 3, 4),
    depth_method="vicreg",
    ks=(0.1, 1.0, 4.0),
    num_samples=1000,
    dim=16,
    record_every=100,
    collapse_gap=8.0,
    near_one=0.1,
    rank_tolerance=1.0,
    num_seeds=3,
    seed=None,
):
    """Each objective with and without WERank; depth and augmentation sweeps.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        methods: Objectives among `"infonce"`, `"vicreg"`, `"ema"`.
        steps: Full-batch steps (= epochs) of the depth-2 runs (Figs. 1, 4, 5)
            and of the one-layer sweep (Fig. 3): 10,000, the appendix's
            length ("all models are trained for 10000 epochs").
        depth_steps: Full-batch steps of the depth sweep (Fig. 2: 5,000).
        infonce_loss: The InfoNCE objective (``None``: dot form, τ = 0.1, one
            direction, as Jing et al.'s toy code).
        vicreg_loss: The VICReg objective (``None``: weights 10, 10, 1).
        optimizers: ``{"infonce": factory, "vicreg": factory, "ema": factory}``
            of optimizers (``None``: plain SGD 0.01 for InfoNCE with two or
            more layers and VICReg -- not given in the paper; Jing et al.'s
            ``case_2.py`` -- and AdamW 0.01, weight decay 3e-4, for the EMA
            model).
        one_layer_infonce_optimizer: Optimizer factory of InfoNCE in the
            one-layer sweep (``None``: SGD 1e-3, Jing et al.'s ``case_1.py``;
            0.01 diverges at k = 4 in full batch).
        ema_momentum: Teacher EMA factor (0.995).
        regularizer: The weight regularizer put on every kernel in the
            "+WERank" runs (``None``: ``kc.regularizers.WERank(0.1)``).
        k_main: Noise variance k of Figs. 1, 4, 5 (0.1).
        depths: Numbers of layers for Fig. 2.
        depth_method: Objective used for the depth sweep of Fig. 2.
        ks: Noise variances for the one-layer sweep of Fig. 3.
        num_samples: Points from N(0, I_16) (1,000).
        dim: Width (16).
        record_every: Spectra recorded every this many steps.
        collapse_gap: An eigenvalue counts as collapsed when its natural log is
            more than this below the largest one's.
        near_one: Singular values within this of 1 count as "approaching 1".
        rank_tolerance: Effective ranks of W closer than this (one dimension
            of 16 by default) count as "not much different".
        num_seeds: Seeds of the depth-2 runs (Figs. 1, 4, 5): the WERank
            comparison uses their mean and spread.
        seed: Seed of data, init and noise (the first of the `num_seeds`).
            Defaults to `None`: the experiment's seed (`experiment.seed`).
    """
    seed = study.seed if seed is None else seed
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    seeds = [seed + i for i in range(num_seeds)]
    defaults = {"infonce": functools.partial(keras.optimizers.SGD, 0.01),
                "vicreg": functools.partial(keras.optimizers.SGD, 0.01),
                "ema": functools.partial(keras.optimizers.AdamW, 0.01, weight_decay=3e-4)}
    optimizers = {**defaults, **dict(optimizers or {})}
    if set(optimizers) != set(defaults):
        raise _checks.invalid("optimizers", f"a dict with keys {sorted(defaults)}",
                              sorted(optimizers))
    cfg = dict(steps=steps, ema_momentum=ema_momentum, num_samples=num_samples, dim=dim,
               infonce_loss=infonce_loss or kc.losses.InfoNCE(0.1, "dot", symmetric=False),
               vicreg_loss=vicreg_loss or kc.losses.VICReg(10.0, 10.0, 1.0),
               optimizers=optimizers,
               one_layer_infonce_optimizer=(one_layer_infonce_optimizer
                                            or functools.partial(keras.optimizers.SGD, 0.001)),
               regularizer=regularizer or kc.regularizers.WERank(0.1),
               seed=seed, num_seeds=num_seeds)

    def unit(method, depth, k, werank, length, every=record_every, tag="", run_seed=seed):
        key = (f"{method} L={depth} k={k}{tag}{_label(werank)}"
               + ("" if run_seed == seed else f" seed={run_seed}"))
        return study.unit(key, lambda: _run(study, key, method, depth, k, werank, cfg, every,
                                            length, run_seed))

    runs = {(m, w, s): unit(m, 2, k_main, w, steps, run_seed=s)
            for s in seeds for m in methods for w in (False, True)}
    main = {(m, w): runs[(m, w, seed)] for m in methods for w in (False, True)}
    deep = {(d, w): unit(depth_method, d, k_main, w, depth_steps, tag=f" {depth_steps} steps")
            for d in depths for w in (False, True)}
    sweep = {(m, k, w): unit(m, 1, k, w, steps, every=steps) for m in methods for k in ks
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
    study.table(f"Depth 2, k = {k_main}, after {steps} full-batch steps (seed {seed})",
                ["model", "embedding erank", "collapsed dims", "min log λ",
                 "max |σ(W) − 1|", "min σ(W)", "max σ(W)"], rows)
    erank = {key: _erank(h["eig"][-1]) for key, h in runs.items()}
    stats = {(m, w): (float(np.mean([erank[(m, w, s)] for s in seeds])),
                      float(np.std([erank[(m, w, s)] for s in seeds])))
             for m in methods for w in (False, True)}
    study.table(f"Embedding effective rank over {num_seeds} seeds (mean ± std)",
                ["model", "without WERank", "with WERank"],
                [[m, f"{stats[(m, False)][0]:.2f} ± {stats[(m, False)][1]:.2f}",
                  f"{stats[(m, True)][0]:.2f} ± {stats[(m, True)][1]:.2f}"] for m in methods])

    def gains(m):
        return stats[(m, True)][0] - stats[(m, False)][0] > max(stats[(m, True)][1],
                                                                 stats[(m, False)][1])

    study.claim(
        "WERank keeps more embedding dimensions alive than the same model without it",
        "Figs. 1, 4, 5",
        f"effective rank of the embedding spectrum without → with WERank (mean ± std over "
        f"{num_seeds} seeds): "
        + ", ".join(f"{m} {stats[(m, False)][0]:.2f} ± {stats[(m, False)][1]:.2f} → "
                    f"{stats[(m, True)][0]:.2f} ± {stats[(m, True)][1]:.2f}" for m in methods)
        + ". Holds if every gain exceeds the larger seed std.",
        all(gains(m) for m in methods))
    # Appendix: "The first eight singular values converge to one in VICReg and
    # InfoNCE models. However, the EMA model has trouble pushing the first
    # eight singular values higher."
    dist = {m: max(float(np.max(np.abs(np.sort(np.asarray(sv))[::-1][:dim // 2] - 1.0)))
                   for s in seeds for sv in runs[(m, True, s)]["sv"][-1]) for m in methods}
    sgd = [m for m in methods if m != "ema"]
    study.claim(
        "With WERank the first eight singular values of each layer converge to 1 (VICReg, "
        "InfoNCE; the EMA model has trouble)",
        "Appendix 4.2, Figs. 1, 4, 5",
        f"max over W1, W2 and {num_seeds} seeds of max_(i≤{dim // 2}) |σ_i − 1| with WERank "
        f"after {steps} epochs: " + ", ".join(f"{m} {d:.3f}" for m, d in dist.items())
        + f" (threshold {near_one})",
        bool(sgd) and all(dist[m] <= near_one for m in sgd))
    deep_erank = {(d, w): _erank(deep[(d, w)]["eig"][-1]) for d in depths for w in (False, True)}
    study.table(f"Fig. 2 ({depth_method}): embedding effective rank by depth after "
                f"{depth_steps} epochs",
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
    # "our method is most impactful when the augmentation is weak ... less
    # effective as the magnitude of augmentation increases. We note that the
    # results for VICReg and VICReg + WERank aren't much different" (one layer).
    others = [m for m in methods if m != "vicreg"]
    shrinks = [m for m in others if effect[m][-1] < effect[m][0]]
    study.claim(
        "WERank's effect shrinks as the augmentation strength k grows (InfoNCE, EMA)",
        "Fig. 3",
        "gain in effective rank of W from WERank at the smallest vs largest k: "
        + ", ".join(f"{m} {effect[m][0]:.2f} vs {effect[m][-1]:.2f}" for m in others),
        bool(others) and len(shrinks) == len(others))
    if "vicreg" in methods:
        largest = max(abs(v) for v in effect["vicreg"])
        study.claim(
            "For one layer VICReg and VICReg + WERank barely differ",
            "Fig. 3 (text)",
            f"largest |gain in effective rank of W| over k: {largest:.3f} (threshold "
            f"{rank_tolerance:g} of {dim} dimensions)",
            largest <= rank_tolerance)
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(cfg, steps, depth_steps, ks, k_main, methods))
    study.measurements["embedding_erank"] = {f"{m}{_label(w)}": v[0] for (m, w), v in stats.items()}
