"""Collapse by implicit regularization in deep linear contrastive nets (Jing et al. 2022, arXiv 2110.09348, Figs. 4-6, Theorems 2-3).

Two bias-free 16×16 linear layers, each initialised as in the authors'
``case_2.py`` (``U diag(exp(−0.35 i)) V`` from the SVD of a uniform matrix),
trained with InfoNCE (dot form, τ = 0.1, as in the code) on x ~ N(0, I_16)
with weak isotropic noise 0.001·N(0, I): lr 0.01, 10,000 iterations, batch
128 distinct rows drawn afresh each iteration. Records the alignment matrix
|V2ᵀU1| (Fig. 4), the singular values of W1, W2 and the embedding over
training (Fig. 5) and the final embedding spectra for 1-4 linear layers and
with a ReLU between two layers (Fig. 6). Each claim's thresholds are gin-bound
(``gin/jing2022_implicit_regularization.gin`` gives their reasons).
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
from keras_collapse.studies import _toy
from keras_collapse.guards import describe_loss
from keras_collapse.studies._harness import describe_optimizer

PAPERS = "the paper's (the authors' case_2.py where the paper is silent)"


def _spearman(a, b):
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _run(study, key, depth, activation, cfg):
    rng = np.random.default_rng(cfg["seed"])
    data = rng.normal(size=(cfg["num_samples"], cfg["dim"]))
    probe = rng.normal(size=(cfg["probe_size"], cfg["dim"]))
    model = _toy.linear_net(depth, cfg["dim"], init="authors", seed=cfg["seed"],
                            activation=activation)
    loss = cfg["loss"]
    history = _toy.train(
        _toy.pair_objective(model, loss), data, cfg["noise_std"], cfg["steps"],
        cfg["optimizer"](), batch_size=cfg["batch_size"],
        record_every=cfg["record_every"], probe=probe, seed=cfg["seed"] + 1,
        log_dir=study.tensorboard_dir(key), replace=cfg["replace"],
        callbacks=[study.progress(key)])
    w = history["kernels"]
    history["alignment_matrices"] = [kc.metrics.alignment_matrix(a, b)
                                     for a, b in zip(w, w[1:])]
    return history


def _collapsed(eigenvalues, gap):
    log = np.log(np.maximum(np.asarray(eigenvalues, np.float64), 1e-300))
    return int(np.sum(log < log.max() - gap))


def _settings(cfg, depths, activation):
    """Rows `setting | paper | this run | why` (paper: arXiv 2110.09348 Sec. 4;
    the authors' ``toy_task/case_2.py``)."""
    same = "as the authors' case_2.py"
    return [
        ["data", "x ~ N(0, I_16); number of points not stated",
         f"N(0, I_{cfg['dim']}), {cfg['num_samples']} points", "case_1.py's 10,000"],
        ["views", "x + 0.001·N(0, I) (isotropic)", f"x + {cfg['noise_std']:g}·N(0, I)", same],
        ["model", "two nn.Linear(16, 16, bias=False)",
         f"{'/'.join(map(str, depths))} bias-free Dense({cfg['dim']}) layers; two with "
         f"{activation} between them", "Fig. 6's depth and nonlinearity sweeps"],
        ["initialisation", "U·diag(exp(−0.35 i))·V, U, V from the SVD of a uniform [0, 1) matrix",
         "the same (studies._toy.authors_kernel)", same],
        ["loss", "cross-entropy of z1 z2ᵀ/τ against the diagonal, τ = 0.1",
         describe_loss(cfg["loss"]), same],
        ["optimizer", "SGD, lr 0.01", describe_optimizer(cfg["optimizer"]), same],
        ["iterations, batch", "10,000, 128", f"{cfg['steps']}, {cfg['batch_size']}", same],
        ["batches", "np.random.choice(10000, 128, replace=False) each iteration (case_2.py "
         "line 49)", "with replacement" if cfg["replace"] else
         "distinct rows, a fresh uniform subset each iteration", same],
        ["recorded", "singular values of W1, W2, embedding eigenvalues, V2ᵀU1",
         f"the same every {cfg['record_every']} iterations (case_2.py: every 10), embedding "
         f"on one draw of {cfg['probe_size']} fresh points (case_2.py: a new draw each time)",
         "the claims read the end of training"],
        ["seeds", "not stated", f"1 (experiment.seed = {cfg['seed']})",
         "the claims read one run per model"],
    ]


@gin.configurable
def jing2022_implicit_regularization(
    study,
    depths=(1, 2, 3, 4),
    nonlinear_activation="relu",
    steps=10000,
    batch_size=128,
    loss=kc.losses.InfoNCE(0.1, "dot", symmetric=False),
    optimizer=functools.partial(keras.optimizers.SGD, learning_rate=0.01),
    noise_std=0.001,
    num_samples=10000,
    probe_size=1000,
    dim=16,
    record_every=100,
    replace=False,
    collapse_gap=8.0,
    min_alignment=0.8,
    min_block_alignment=0.9,
    smallest=4,
    similar_tolerance=1,
    seed=None,
):
    """Train 1-4 layer linear nets (and a 2-layer ReLU net) under weak augmentation.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        depths: Numbers of linear layers for Fig. 6a (must include 2).
        nonlinear_activation: Activation between the two layers for Fig. 6b.
        steps: SGD iterations (10,000 in case_2.py).
        batch_size: Minibatch size (128).
        loss: The trained objective (case_2.py: InfoNCE, dot form, τ = 0.1,
            one direction).
        optimizer: ``optimizer()`` gives a fresh optimizer per run (plain SGD,
            lr 0.01).
        noise_std: Isotropic view-noise standard deviation (0.001).
        num_samples: Training points x ~ N(0, I).
        probe_size: Fresh points for the embedding covariance.
        dim: Width of every layer (16).
        record_every: Spectra recorded every this many iterations.
        replace: Batches drawn with replacement (`False`: distinct rows, as
            case_2.py).
        collapse_gap: An embedding eigenvalue counts as collapsed when its
            natural log is more than this below the largest one's.
        min_alignment: Mean |diag(V2ᵀU1)| counted as aligned (random ≈ 0.2).
        min_block_alignment: ``‖A[:r,:r]‖²_F / r`` counted as aligned top
            subspaces (the weaker reading).
        smallest: Size of the "smallest group" of singular values (Theorem 3;
            4 collapse in the authors' setting).
        similar_tolerance: Largest difference in collapsed dimensions between
            the ReLU and the linear 2-layer net counted as "similar".
        seed: Seed of data, init and noise. Defaults to `None`: the
            experiment's seed (`experiment.seed`).
    """
    seed = study.seed if seed is None else seed
    if 2 not in depths:
        raise _checks.invalid("depths", "a sequence that includes 2", depths)
    for name, value in (("loss", loss), ("optimizer", optimizer)):
        if not callable(value):
            raise _checks.invalid(name, "a callable (a loss; an optimizer factory)", value,
                                  TypeError)
    cfg = dict(steps=steps, batch_size=batch_size, loss=loss, optimizer=optimizer,
               noise_std=noise_std, num_samples=num_samples, replace=replace,
               probe_size=probe_size, dim=dim, record_every=record_every, seed=seed)
    runs = {f"L={d}": study.unit(f"L={d}", lambda d=d: _run(study, f"L={d}", d, None, cfg))
            for d in depths}
    nonlinear_key = f"L=2 {nonlinear_activation}"
    runs[nonlinear_key] = study.unit(
        nonlinear_key, lambda: _run(study, nonlinear_key, 2, nonlinear_activation, cfg))
    main = runs["L=2"]

    # Fig. 4: alignment matrix after training (and before, for contrast).
    init_model = _toy.linear_net(2, dim, init="authors", seed=seed)
    init_w = _toy.kernels(init_model)
    init_alignment = kc.metrics.alignment_matrix(init_w[0], init_w[1])
    final_alignment = np.asarray(main["alignment_matrices"][0])
    fig = Figure(figsize=(7.5, 3.3), layout="constrained")
    FigureCanvasAgg(fig)
    for index, (title, matrix) in enumerate((("initialisation", init_alignment),
                                             (f"after {steps} iterations", final_alignment))):
        ax = fig.add_subplot(1, 2, index + 1)
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"|V2ᵀU1|, {title}", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.8)
    study.figure(fig, "fig4_alignment.png",
                 "Fig. 4 analogue: alignment matrix |V2ᵀU1| of the 2-layer linear net.")
    study.figure(_toy.history_figure(main, "2-layer linear net, weak augmentation"),
                 "fig5_singular_values.png",
                 "Fig. 5 analogue: log singular values of W1, W2 and log eigenvalues of the "
                 "embedding covariance over training.")
    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax_a, ax_b = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for d in depths:
        ax_a.plot(np.arange(1, dim + 1), _toy.final_log_eig(runs[f"L={d}"]), marker=".",
                  label=f"L={d}")
    for key in ("L=2", nonlinear_key):
        ax_b.plot(np.arange(1, dim + 1), _toy.final_log_eig(runs[key]), marker=".", label=key)
    for ax, title in ((ax_a, "(a) linear layers"), (ax_b, "(b) nonlinearity")):
        ax.set_xlabel("singular value rank index k")
        ax.set_ylabel("log λ_k")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    study.figure(fig, "fig6_depth_nonlinearity.png",
                 "Fig. 6 analogue: final embedding spectra for 1-4 linear layers (a) and "
                 f"with {nonlinear_activation} between two layers (b).")

    # Claims.
    score_init = kc.metrics.alignment_score(init_alignment)
    score = kc.metrics.alignment_score(final_alignment)
    off = float(np.mean(final_alignment[~np.eye(dim, dtype=bool)]))
    study.claim(
        "The alignment matrix A = V2ᵀU1 converges to the identity",
        "Theorem 2, Fig. 4",
        f"mean |diag A| {score_init:.2f} at init → {score:.2f} after {steps} iterations "
        f"(mean off-diagonal {off:.3f})",
        score >= min_alignment and score > score_init,
        criterion=f"mean |diag A| ≥ {min_alignment:g} after training, and above its initial "
        "value",
        setup=PAPERS)
    n_alive = dim - _collapsed(main["eig"][-1], collapse_gap)
    block = float(np.sum(final_alignment[:n_alive, :n_alive] ** 2) / max(n_alive, 1))
    block_init = float(np.sum(init_alignment[:n_alive, :n_alive] ** 2) / max(n_alive, 1))
    perm = float(np.mean(np.max(final_alignment ** 2, axis=1)))
    study.claim(
        "(weaker reading) W2's input singular subspaces align with W1's output ones: "
        "the top (non-collapsed) subspaces coincide",
        "Theorem 2, Fig. 4",
        f"‖A[:r,:r]‖²_F / r for the r = {n_alive} non-collapsed directions: {block_init:.2f} at "
        f"init → {block:.2f}; mean over rows of max_j A_kj² (1 for a permutation) {perm:.2f}. "
        "Within the top block A is close to a permutation (often anti-diagonal), not the "
        "identity: those singular values are nearly equal, so Theorem 2's distinct-singular-"
        "value assumption fails",
        block >= min_block_alignment and block > block_init,
        criterion=f"‖A[:r,:r]‖²_F / r ≥ {min_block_alignment:g} over the r non-collapsed "
        "directions, and above its initial value",
        setup=PAPERS + "; our weaker reading of Theorem 2, not its statement")
    sv = np.asarray(main["sv"], np.float64)  # (records, layers, dim)
    growth = np.log(sv[-1]) - np.log(sv[0])
    rho = [_spearman(sv[0, layer], growth[layer]) for layer in range(2)]
    slow = [float(np.mean(growth[layer, -smallest:]) - np.mean(growth[layer, :-smallest]))
            for layer in range(2)]
    collapsed = {key: _collapsed(run["eig"][-1], collapse_gap) for key, run in runs.items()}
    study.table(
        "Log-growth of each singular value of W1, W2 over training (rank k = 1..16)",
        ["layer"] + [f"k={k + 1}" for k in range(dim)],
        [[f"W{layer + 1}"] + list(growth[layer]) for layer in range(2)])
    small_w = [int(np.sum(np.log(sv[-1, layer]) < np.log(sv[-1, layer, 0]) - collapse_gap / 2))
               for layer in range(2)]
    study.claim(
        "The smallest singular values of W1, W2 grow slowest and stay collapsed",
        "Theorem 3, Fig. 5",
        f"mean log-growth of the {smallest} smallest σ_k minus that of the others: "
        f"W1 {slow[0]:.2f}, W2 {slow[1]:.2f} (Spearman of initial σ_k with log-growth over "
        f"all k: W1 {rho[0]:.2f}, W2 {rho[1]:.2f}: the top σ_k saturate, so growth is not "
        "monotone in k); "
        f"collapsed embedding dimensions (log λ more than {collapse_gap} below the top): "
        f"{collapsed['L=2']} of {dim} (reference run: 4); weight singular values more than "
        f"{collapse_gap / 2} below the top: W1 {small_w[0]}, W2 {small_w[1]} (reference: 4 each)",
        max(slow) < 0.0 and collapsed["L=2"] >= 1,
        criterion=f"the {smallest} smallest σ_k of both W1 and W2 grow less (in log) than the "
        f"others on average, and ≥ 1 embedding eigenvalue ends more than {collapse_gap:g} nats "
        "below the top",
        setup=PAPERS)
    counts = [collapsed[f"L={d}"] for d in depths]
    study.table("Collapsed embedding dimensions by depth",
                ["model", "collapsed dims", "min log λ", "max log λ"],
                [[key, collapsed[key], float(_toy.final_log_eig(run).min()),
                  float(_toy.final_log_eig(run).max())] for key, run in runs.items()])
    study.claim(
        "More linear layers collapse more embedding dimensions",
        "Fig. 6a",
        "collapsed dimensions for L = " + ", ".join(f"{d}: {c}" for d, c in zip(depths, counts)),
        all(b >= a for a, b in zip(counts, counts[1:])) and counts[-1] > counts[0],
        criterion=f"collapsed dimensions (log λ more than {collapse_gap:g} nats below the top) "
        "non-decreasing in L, and more at the largest L than at the smallest",
        setup=PAPERS + "; depths other than 2 as case_2.py with more layers")
    study.claim(
        "A nonlinearity between the layers gives a similar collapse",
        "Fig. 6b",
        f"collapsed dimensions: linear L=2 {collapsed['L=2']}, "
        f"{nonlinear_activation} L=2 {collapsed[nonlinear_key]}. The earlier criterion (the "
        f"{nonlinear_activation} net collapses ≥ 1 dimension, replaced by one that says what "
        f"'similar' means): {'met' if collapsed[nonlinear_key] >= 1 else 'not met'}",
        collapsed[nonlinear_key] >= 1
        and abs(collapsed[nonlinear_key] - collapsed["L=2"]) <= similar_tolerance,
        criterion=f"the {nonlinear_activation} net collapses ≥ 1 dimension and within "
        f"{similar_tolerance} of the linear net's count (log λ more than {collapse_gap:g} nats "
        "below the top)",
        setup=PAPERS + f"; {nonlinear_activation} between the two layers of case_2.py")
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(cfg, depths, nonlinear_activation))
    study.measurements["collapsed_dimensions"] = collapsed
    study.measurements["alignment_score"] = {"init": score_init, "final": score}
