"""WERank weight regularization against dimensional collapse in linear toy models (Saheb Pasand et al. 2023, arXiv 2402.09586, Figs. 1-5).

The WERank paper's set-up: 1,000 points from a 16-d isotropic Gaussian, two
views with additive noise of covariance block-diag(0, k·I) (8×8 blocks),
bias-free 16×16 linear layers initialised as in Jing et al.'s ``case_2.py``,
full-batch training. Three objectives: InfoNCE and VICReg (10, 10, 1) with
plain SGD, and an EMA student/teacher (BYOL-style: the student has a
bias-free linear predictor initialised to the identity, the teacher is an EMA
copy with momentum 0.995, AdamW lr 0.01, weight decay 3e-4); each with and
without WERank (α = 0.1 on every kernel, ``kc.regularizers.WERank``).

The paper states neither InfoNCE's form nor its learning rate: InfoNCE runs
under every *reading* bound in ``infonce_readings`` (e.g. the dot form of
Jing et al.'s toy code and the ℓ2-normalised form of SimCLR, at the learning
rates of both toy codes), and each InfoNCE claim is judged per reading.

Figs. 1, 4, 5: singular values of W1, W2 and the embedding over 10,000
full-batch epochs (k = 0.1; the appendix's length). Fig. 2: final embedding
spectra for several depths after 5,000 (and, with WERank, after 10,000: the
caption's forecast). Fig. 3: final weight singular values of a one-layer net
for a sweep of k. Settings the paper does not state come from Jing et al.'s
toy code, which it follows; results.md lists every setting beside the paper's.
"""

from __future__ import annotations

import functools
import re

import gin
import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.guards import describe_loss
from keras_collapse.studies import _toy
from keras_collapse.studies._digits import mean_std as _mean_std
from keras_collapse.studies._harness import UNTESTABLE, describe_optimizer

METHODS = ("infonce", "vicreg", "ema")


def _models(methods, readings):
    """The trained models: `"vicreg"`, `"ema"` and one `"infonce[reading]"` per reading."""
    out = []
    for m in methods:
        out += [f"infonce[{r}]" for r in readings] if m == "infonce" else [m]
    return out


def _objective(model_name, model, cfg):
    """`(objective, optimizer)` of one trained model from the bound library objects."""
    if model_name.startswith("infonce["):
        reading = cfg["readings"][model_name[len("infonce["):-1]]
        return (_toy.pair_objective(model, reading["loss"]),
                keras.optimizers.SGD(reading["learning_rate"]))
    if model_name == "vicreg":
        return _toy.pair_objective(model, cfg["vicreg_loss"]), cfg["optimizers"]["vicreg"]()
    if model_name == "ema":
        return _toy.ema_objective(model, cfg["ema_momentum"]), cfg["optimizers"]["ema"]()
    raise _checks.invalid("methods", f"items of {METHODS}", model_name)


def _run(study, key, model_name, depth, k, werank, cfg, record_every, steps, seed):
    """One training run's spectra history, or ``{"diverged": message}``."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(cfg["num_samples"], cfg["dim"]))
    model = _toy.linear_net(depth, cfg["dim"], init="authors", seed=seed,
                            regularizer=cfg["regularizer"] if werank else None)
    objective, optimizer = _objective(model_name, model, cfg)
    std = _toy.noise_std(cfg["dim"], cfg["dim"] // 2, np.sqrt(k))
    try:
        return _toy.train(objective, data, std, steps, optimizer, batch_size=None,
                          record_every=record_every, probe=data, seed=seed + 1,
                          log_dir=study.tensorboard_dir(key), callbacks=[study.progress(key)])
    except kc.guards.NonFiniteLossError as error:
        study.log(f"{key}: diverged at step {error.step}")
        return {"diverged": f"diverged at step {error.step} (non-finite loss)"}


def _erank(values):
    return kc.metrics.spectral_entropy_rank(np.sqrt(np.maximum(np.asarray(values), 0.0)))


def _label(werank):
    return "+WERank" if werank else ""


def _slug(name):
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()


def _at_step(history, step):
    """The record of `history` at `step` (the last one at or before it)."""
    index = max(i for i, s in enumerate(history["step"]) if s <= step)
    return {key: history[key][index] for key in ("sv", "eig")}


def _settings(cfg, steps, depth_steps, ks, k_main, methods):
    """Rows `setting | paper | this run | why` (paper: arXiv 2402.09586, its
    Sec. 3 and Appendix 4.2; "not stated" where neither it nor the set-up it
    follows, Jing et al.'s toy code, gives the value)."""
    same = "as the paper"
    readings = "; ".join(f"{name}: {describe_loss(r['loss'])}, SGD lr {r['learning_rate']:g}"
                         for name, r in cfg["readings"].items())
    rows = [
        ["data", "1,000 points from N(0, I_16)",
         f"{cfg['num_samples']} points from N(0, I_{cfg['dim']})", same],
        ["views", "x + N(0, block-diag(0, k·I_8))", "the same", same],
        ["k (Figs. 1, 4, 5)", "0.1", str(k_main), same],
        ["k (Fig. 3)", "not stated (figure only)", ", ".join(map(str, ks)),
         "the smallest and largest k are what the claim compares"],
        ["model", "bias-free linear 16×16 layers: two (Figs. 1, 4, 5), L (Fig. 2), one (Fig. 3)",
         "the same", same],
        ["initialisation", "not stated (\"the same experimental set-up\" as Jing et al.)",
         "U·diag(exp(−0.35 i))·V, U, V from the SVD of a uniform matrix (Jing et al., case_2.py)",
         "the set-up the paper follows"],
        ["InfoNCE and its learning rate", "\"InfoNCE [4]\" (SimCLR), plain SGD; form, τ and "
         "learning rate not stated", readings or "not run",
         "every reading bound is run and judged: the dot form of Jing et al.'s toy code and "
         "SimCLR's normalised (cosine) form, at the learning rates of case_2.py (0.01) and "
         "case_1.py (1e-3); the cosine form keeps the other view's negatives only (NT-Xent's "
         "same-view negatives cost 2.6× the time at 1,000 points)"],
        ["VICReg", "invariance, variance, covariance 10, 10, 1",
         describe_loss(cfg["vicreg_loss"]), same],
        ["EMA model", "BYOL-like, teacher EMA 0.995; predictor not stated",
         f"teacher EMA {cfg['ema_momentum']}; bias-free linear predictor, identity at init",
         "the predictor is ours (not stated)"],
        ["optimizer (VICReg)", "SGD, no momentum, no weight decay; learning rate not stated",
         describe_optimizer(cfg["optimizers"]["vicreg"]),
         "plain SGD as the paper; lr of Jing et al.'s case_2.py"],
        ["optimizer (EMA)", "AdamW, lr 0.01, weight decay 3e-4",
         describe_optimizer(cfg["optimizers"]["ema"]) + ", weight decay "
         f"{cfg['optimizers']['ema']().get_config().get('weight_decay')}", same],
        ["WERank", "α = 0.1 on every layer",
         type(cfg["regularizer"]).__name__ + "(" + ", ".join(
             f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in cfg["regularizer"].get_config().items()) + ") on every layer",
         same],
        ["epochs", "10,000 (appendix: all models); 5,000 (Fig. 2); 1,000 (Sec. 3 text)",
         f"{steps} (Figs. 1, 3, 4, 5); {depth_steps} (Fig. 2; with WERank also {steps}, "
         "the caption's forecast)",
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
    return rows


def _setup(model_name):
    """The claims' set-up column for one trained model."""
    if model_name.startswith("infonce["):
        return (f"InfoNCE reading {model_name[8:-1]!r} (form and learning rate not stated "
                "by the paper; every reading is reported)")
    if model_name == "ema":
        return "the paper's, except the EMA model's predictor (not stated: linear, identity at init)"
    return "the paper's (initialisation and learning rate from case_2.py, which it follows)"


@gin.configurable
def werank2023(
    study,
    methods=METHODS,
    steps=10000,
    depth_steps=5000,
    infonce_readings=None,
    vicreg_loss=None,
    optimizers=None,
    ema_momentum=0.995,
    regularizer=None,
    k_main=0.1,
    depths=(1, 2, 3, 4),
    depth_method="vicreg",
    ks=(0.1, 4.0),
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
        infonce_readings: ``{name: {"loss": objective, "learning_rate": lr}}``:
            the readings of the paper's unstated InfoNCE (form and SGD
            learning rate), each trained and judged (``None``: the dot form,
            τ = 0.1, one direction, of Jing et al.'s toy code at 0.01).
        vicreg_loss: The VICReg objective (``None``: weights 10, 10, 1).
        optimizers: ``{"vicreg": factory, "ema": factory}`` of optimizers
            (``None``: plain SGD 0.01 for VICReg -- not given in the paper;
            Jing et al.'s ``case_2.py`` -- and AdamW 0.01, weight decay 3e-4,
            for the EMA model).
        ema_momentum: Teacher EMA factor (0.995).
        regularizer: The weight regularizer put on every kernel in the
            "+WERank" runs (``None``: ``kc.regularizers.WERank(0.1)``).
        k_main: Noise variance k of Figs. 1, 4, 5 (0.1).
        depths: Numbers of layers for Fig. 2 (``()``: no depth sweep).
        depth_method: Objective used for the depth sweep of Fig. 2.
        ks: Noise variances for the one-layer sweep of Fig. 3.
        num_samples: Points from N(0, I_16) (1,000).
        dim: Width (16).
        record_every: Spectra recorded every this many steps.
        collapse_gap: An eigenvalue counts as collapsed when its natural log is
            more than this below the largest one's (reported, not judged).
        near_one: Criterion of the σ → 1 claims: singular values within this
            of 1 count as "converged to 1".
        rank_tolerance: Criterion of the effective-rank claims, in dimensions
            of `dim`: WERank "keeps more" dimensions when it adds more than
            this; with and without WERank "barely differ" within it.
        num_seeds: Seeds of the depth-2 runs (Figs. 1, 4, 5): the WERank
            comparison uses their mean and spread.
        seed: Seed of data, init and noise (the first of the `num_seeds`).
            Defaults to `None`: the experiment's seed (`experiment.seed`).
    """
    seed = study.seed if seed is None else seed
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    seeds = [seed + i for i in range(num_seeds)]
    defaults = {"vicreg": functools.partial(keras.optimizers.SGD, learning_rate=0.01),
                "ema": functools.partial(keras.optimizers.AdamW, learning_rate=0.01, weight_decay=3e-4)}
    optimizers = {**defaults, **dict(optimizers or {})}
    if set(optimizers) != set(defaults):
        raise _checks.invalid("optimizers", f"a dict with keys {sorted(defaults)}",
                              sorted(optimizers))
    readings = dict(infonce_readings or {"dot, lr 0.01": {
        "loss": kc.losses.InfoNCE(0.1, "dot", symmetric=False), "learning_rate": 0.01}})
    for name, reading in readings.items():
        if not isinstance(reading, dict) or set(reading) != {"loss", "learning_rate"}:
            raise _checks.invalid("infonce_readings", "a dict of {'loss': objective, "
                                  "'learning_rate': float} per reading", {name: reading})
    if depths and depth_method not in methods:
        raise _checks.invalid("depth_method", f"one of methods={tuple(methods)} (or depths=())",
                              depth_method)
    cfg = dict(steps=steps, ema_momentum=ema_momentum, num_samples=num_samples, dim=dim,
               readings=readings,
               vicreg_loss=vicreg_loss or kc.losses.VICReg(10.0, 10.0, 1.0),
               optimizers=optimizers,
               regularizer=regularizer or kc.regularizers.WERank(0.1),
               seed=seed, num_seeds=num_seeds)
    models = _models(methods, readings)

    def unit(name, depth, k, werank, length, every=record_every, tag="", run_seed=seed):
        key = (f"{name} L={depth} k={k}{tag}{_label(werank)}"
               + ("" if run_seed == seed else f" seed={run_seed}"))
        return study.unit(key, lambda: _run(study, key, name, depth, k, werank, cfg, every,
                                            length, run_seed))

    runs = {(m, w, s): unit(m, 2, k_main, w, steps, run_seed=s)
            for s in seeds for m in models for w in (False, True)}
    main = {(m, w): runs[(m, w, seed)] for m in models for w in (False, True)}
    # Fig. 2: without WERank `depth_steps`; with it `steps` (the caption's
    # forecast), read at `depth_steps` from its history for the comparison.
    deep = {(d, w): unit(depth_method, d, k_main, w, steps if w else depth_steps,
                         tag=f" {steps if w else depth_steps} steps")
            for d in depths for w in (False, True)}
    sweep = {(m, k, w): unit(m, 1, k, w, steps, every=steps) for m in models for k in ks
             for w in (False, True)}
    _figures(study, models, main, deep, sweep, depths, depth_steps, ks, k_main, dim,
             depth_method)
    judge = _Claims(study, models, runs, main, seeds, dim, steps, near_one, rank_tolerance,
                    collapse_gap, k_main)
    judge.keeps_more()
    judge.converges_to_one()
    if depths:
        judge.depths(deep, depths, depth_steps, depth_method)
    judge.augmentation(sweep, ks)
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(cfg, steps, depth_steps, ks, k_main, methods))


def _figures(study, models, main, deep, sweep, depths, depth_steps, ks, k_main, dim,
             depth_method):
    """Figs. 1-5 analogues (a run that diverged has no curves)."""
    fig_names = {"vicreg": "fig1", "ema": "fig5"}
    for m in models:
        for w in (False, True):
            if "diverged" in main[(m, w)]:
                continue
            base = fig_names.get(m, "fig4")
            name = f"{base}_{_slug(m)}{'_werank' if w else ''}.png"
            title = f"{m}{_label(w)}, noise variance k = {k_main}"
            study.figure(_toy.history_figure(main[(m, w)], title), name,
                         f"Fig. {base[3:]} analogue ({m}{_label(w)}): log singular values of "
                         "W1, W2 and log embedding covariance eigenvalues over training.")
    if depths:
        fig = Figure(figsize=(5.0, 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for index, d in enumerate(depths):
            for w in (False, True):
                eig = np.asarray(_at_step(deep[(d, w)], depth_steps)["eig"], np.float64)
                ax.plot(np.arange(1, dim + 1), np.log(np.maximum(eig, 1e-300)),
                        color=f"C{index}", ls="--" if w else "-", label=f"L={d}{_label(w)}")
        ax.set_xlabel("rank index i (1 = largest)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("log λ_i (embedding)")
        ax.legend(fontsize=6, ncol=2)
        study.figure(fig, "fig2_depths.png",
                     f"Fig. 2 analogue ({depth_method}): embedding spectra for L layers after "
                     f"{depth_steps} epochs, dashed with WERank.")
    fig = Figure(figsize=(4.0 * len(models), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    for index, m in enumerate(models):
        ax = fig.add_subplot(1, len(models), index + 1)
        for j, k in enumerate(ks):
            for w in (False, True):
                if "diverged" not in sweep[(m, k, w)]:
                    ax.plot(np.arange(1, dim + 1), np.log(sweep[(m, k, w)]["sv"][-1][0]),
                            color=f"C{j}", ls=":" if w else "-",
                            label=f"noise variance k = {k}{_label(w)}")
        ax.set_title(m, fontsize=8)
        ax.set_xlabel("rank index i (1 = largest)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("log σ_i(W)")
        ax.legend(fontsize=5, ncol=2)
    study.figure(fig, "fig3_augmentation_sweep.png",
                 "Fig. 3 analogue: final singular values σ_i of a one-layer W, by rank index "
                 "i, for each noise variance k; dotted with WERank.")


class _Claims:
    """The paper's statements, each judged by the criterion bound in the .gin file."""

    def __init__(self, study, models, runs, main, seeds, dim, steps, near_one, rank_tolerance,
                 collapse_gap, k_main):
        self.study, self.models, self.runs, self.main = study, models, runs, main
        self.seeds, self.dim, self.steps = seeds, dim, steps
        self.near_one, self.tolerance, self.gap, self.k_main = (near_one, rank_tolerance,
                                                                collapse_gap, k_main)

    def _diverged(self, histories):
        return next((h["diverged"] for h in histories if "diverged" in h), None)

    def keeps_more(self):
        """Figs. 1, 4, 5: more embedding dimensions with WERank, over seeds."""
        rows = []
        for m in self.models:
            for w in (False, True):
                h = self.main[(m, w)]
                if "diverged" in h:
                    rows.append([f"{m}{_label(w)}", h["diverged"], "", "", "", "", ""])
                    continue
                eig, sv = np.asarray(h["eig"][-1]), np.asarray(h["sv"][-1])
                log_eig = np.log(np.maximum(eig, 1e-300))
                rows.append([f"{m}{_label(w)}", _erank(eig),
                             int(np.sum(log_eig < log_eig.max() - self.gap)),
                             float(log_eig.min()), float(np.max(np.abs(sv - 1.0))),
                             float(np.min(sv)), float(np.max(sv))])
        self.study.table(f"Depth 2, k = {self.k_main}, after {self.steps} full-batch steps "
                         f"(seed {self.seeds[0]})",
                         ["model", "embedding erank", f"collapsed dims (> {self.gap:g} nats "
                          "below the top)", "min log λ", "max |σ(W) − 1|", "min σ(W)",
                          "max σ(W)"], rows)
        rows, n = [], len(self.seeds)
        criterion = (f"mean embedding effective rank with WERank minus without > "
                     f"{self.tolerance:g} dimension(s) of {self.dim} and > the larger seed std "
                     f"({n} seeds)")
        for m in self.models:
            diverged = self._diverged(self.runs[(m, w, s)] for w in (False, True)
                                      for s in self.seeds)
            claim = f"WERank keeps more embedding dimensions alive ({m})"
            if diverged:
                self.study.claim(claim, "Figs. 1, 4, 5", f"a run {diverged}: what would test "
                                 "it is a learning rate at which this objective trains",
                                 UNTESTABLE, criterion=criterion, setup=_setup(m))
                continue
            stats = {w: _mean_std([_erank(self.runs[(m, w, s)]["eig"][-1]) for s in self.seeds])
                     for w in (False, True)}
            rows.append([m] + [f"{stats[w][0]:.2f} ± {stats[w][1]:.2f}" for w in (False, True)])
            gain = stats[True][0] - stats[False][0]
            self.study.claim(
                claim, "Figs. 1, 4, 5",
                f"effective rank without → with WERank: {stats[False][0]:.2f} ± "
                f"{stats[False][1]:.2f} → {stats[True][0]:.2f} ± {stats[True][1]:.2f} (gain "
                f"{gain:+.2f})",
                bool(gain > self.tolerance and gain > max(stats[False][1], stats[True][1])),
                criterion=criterion, setup=_setup(m))
            self.study.measurements.setdefault("embedding_erank", {}).update(
                {m: stats[False][0], f"{m}+WERank": stats[True][0]})
        self.study.table(f"Embedding effective rank over {n} seeds (mean ± std)",
                         ["model", "without WERank", "with WERank"], rows)

    def _distance(self, m):
        """max over W1, W2 and seeds of max_(i ≤ d/2) |σ_i − 1| with WERank."""
        return max(float(np.max(np.abs(np.sort(np.asarray(sv))[::-1][:self.dim // 2] - 1.0)))
                   for s in self.seeds for sv in self.runs[(m, True, s)]["sv"][-1])

    def converges_to_one(self):
        """Appendix 4.2: "The first eight singular values converge to one in VICReg
        and InfoNCE models. However, the EMA model has trouble pushing the first
        eight singular values higher." (largest eight, sorted)"""
        measure = (f"max over W1, W2 and {len(self.seeds)} seeds of max_(i ≤ {self.dim // 2}) "
                   f"|σ_i − 1| (σ sorted descending) with WERank after {self.steps} epochs")
        for m in self.models:
            diverged = self._diverged(self.runs[(m, True, s)] for s in self.seeds)
            if m == "ema":
                claim = ("The EMA model has trouble: its first eight singular values do not "
                         "converge to 1 with WERank")
                criterion, holds = f"{measure} > {self.near_one:g}", lambda d: d > self.near_one
            else:
                claim = f"With WERank the first eight singular values of each layer converge to 1 ({m})"
                criterion, holds = f"{measure} ≤ {self.near_one:g}", lambda d: d <= self.near_one
            if diverged:
                self.study.claim(claim, "Appendix 4.2, Figs. 1, 4, 5", f"a run {diverged}",
                                 UNTESTABLE, criterion=criterion, setup=_setup(m))
                continue
            distance = self._distance(m)
            self.study.claim(claim, "Appendix 4.2, Figs. 1, 4, 5", f"max |σ_i − 1| = {distance:.3f}",
                             bool(holds(distance)), criterion=criterion, setup=_setup(m))

    def depths(self, deep, depths, depth_steps, method):
        """Fig. 2 and its caption's forecast."""
        early = {(d, w): _erank(_at_step(deep[(d, w)], depth_steps)["eig"])
                 for d in depths for w in (False, True)}
        late = {d: float(np.max(np.abs(np.sqrt(np.maximum(
            np.asarray(deep[(d, True)]["eig"][-1], np.float64), 0.0)) - 1.0))) for d in depths}
        self.study.table(f"Fig. 2 ({method}): embedding effective rank by depth",
                         ["depth", f"without WERank ({depth_steps} epochs)",
                          f"with WERank ({depth_steps} epochs)",
                          f"with WERank: max |s_k − 1| of the embedding ({self.steps} epochs)"],
                         [[d, early[(d, False)], early[(d, True)], late[d]] for d in depths])
        deeper = [d for d in depths if d > 1]
        if deeper:
            self.study.claim(
                "WERank prevents rank degradation in deeper networks", "Fig. 2",
                f"{method} embedding effective rank without / with WERank after {depth_steps} "
                "epochs: " + ", ".join(f"L={d}: {early[(d, False)]:.2f} / {early[(d, True)]:.2f}"
                                       for d in depths),
                all(early[(d, True)] - early[(d, False)] > self.tolerance for d in deeper),
                criterion=f"at every depth L ≥ 2 the effective rank with WERank exceeds the one "
                          f"without by more than {self.tolerance:g} dimension(s) (one seed)",
                setup="the paper's; Fig. 2's objective is not stated (VICReg, Fig. 1's)")
        self.study.claim(
            "With WERank every embedding singular value converges to 1 after 10,000 epochs",
            "Fig. 2 caption",
            f"{method}, max_k |s_k − 1| of the embedding (s_k = √λ_k) after {self.steps} "
            "epochs: " + ", ".join(f"L={d}: {late[d]:.3f}" for d in depths),
            all(late[d] <= self.near_one for d in depths),
            criterion=f"at every depth max_k |s_k − 1| ≤ {self.near_one:g} (one seed)",
            setup="the paper's; Fig. 2's objective is not stated (VICReg, Fig. 1's)")

    def augmentation(self, sweep, ks):
        """Appendix 4.1 (Fig. 3): the one-layer sweep over k."""
        effect = {}
        for m in self.models:
            if self._diverged(sweep[(m, k, w)] for k in ks for w in (False, True)):
                effect[m] = None
                continue
            effect[m] = [_erank(np.square(sweep[(m, k, True)]["sv"][-1][0]))
                         - _erank(np.square(sweep[(m, k, False)]["sv"][-1][0])) for k in ks]
        self.study.table("Fig. 3: effective rank of W (one layer), with minus without WERank",
                         ["model"] + [f"k={k}" for k in ks],
                         [[m] + (effect[m] or [self._diverged(
                             sweep[(m, k, w)] for k in ks for w in (False, True))]
                             + [""] * (len(ks) - 1)) for m in self.models])
        # "our method is most impactful when the augmentation is weak ... less
        # effective as the magnitude of augmentation increases."
        criterion = (f"gain in effective rank of W from WERank at k = {min(ks):g} minus the gain "
                     f"at k = {max(ks):g} > {self.tolerance:g} dimension(s) (one seed)")
        for m in self.models:
            if m == "vicreg" or len(set(ks)) < 2:  # a trend needs two k
                continue
            claim = f"WERank's effect shrinks as the augmentation strength k grows ({m})"
            if effect[m] is None:
                self.study.claim(claim, "Fig. 3, Appendix 4.1", "a run "
                                 + self._diverged(sweep[(m, k, w)] for k in ks
                                                  for w in (False, True))
                                 + "; what would test it is a learning rate at which this "
                                 "objective trains at every k", UNTESTABLE,
                                 criterion=criterion, setup=_setup(m))
                continue
            first, last = effect[m][ks.index(min(ks))], effect[m][ks.index(max(ks))]
            self.study.claim(claim, "Fig. 3, Appendix 4.1",
                             f"gain at k = {min(ks):g}: {first:+.2f}, at k = {max(ks):g}: "
                             f"{last:+.2f}", bool(first - last > self.tolerance),
                             criterion=criterion, setup=_setup(m))
        # "the results for VICReg and VICReg + WERank aren't much different"
        if "vicreg" in self.models and effect["vicreg"] is not None:
            largest = max(abs(v) for v in effect["vicreg"])
            self.study.claim(
                "For one layer VICReg and VICReg + WERank barely differ", "Fig. 3 (text)",
                f"largest |gain in effective rank of W| over k: {largest:.3f}",
                largest <= self.tolerance,
                criterion=f"|gain in effective rank of W| ≤ {self.tolerance:g} dimension(s) of "
                          f"{self.dim} at every k (one seed)", setup=_setup("vicreg"))

