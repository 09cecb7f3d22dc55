"""The settings table of ``ziyin2023_landscape``: the paper's set-up beside this run's.

The paper's values are those of its NeurIPS 2022 SSL-workshop version's
Appendix A (arXiv 2210.00638's authors), as summarised in the project's
``papers/README.md``; "not stated" where that gives none.
"""

from __future__ import annotations

from keras_collapse.guards import describe_loss
from keras_collapse.studies._harness import describe_optimizer

SAME = "as the paper"


def _list(values):
    return ", ".join(f"{v:g}" for v in values)


def rows(ctx):
    """Rows ``setting | paper | this run | why`` for the study's results."""
    cfg = ctx.cfg
    dim = cfg["dim"]
    return [
        ["data", f"N(0, I_{32})", f"N(0, I_{dim}), one fixed draw per dataset size", SAME],
        ["dataset size (exp. 1)", "not stated", str(cfg["sweep_num_samples"]),
         "more points than exp. 2's so the data covariance is nearer I (1,000 costs 85 s a "
         "run here, 500 about 20 s)"],
        ["dataset size (exps. 3-5)", "not stated (smallest data eigenvalue about 0.2)",
         str(cfg["num_samples"]), "N = 100 gives that smallest eigenvalue for 32 dimensions"],
        ["dataset sizes (exp. 2)", "about 60 to 130", _list(cfg["dataset_sizes"]), SAME],
        ["model", "linear f(x) = W x, d1 = d0", f"Dense({dim}) without bias (with a bias "
         "in the bias runs), UnitNormalization after it in the normalised runs", SAME],
        ["initialisation", "not stated",
         "U(±1/√d), PyTorch's nn.Linear default (kernel and bias)",
         "the authors' code is PyTorch; its default"],
        ["loss", "InfoNCE with the kernel exp(−|f(x) − f(x')|²/2), no temperature; "
         "weighted: the positive's term in the denominator times α",
         f"{describe_loss(ctx.loss())}, positive_weight set to α; negatives: the anchor "
         "view's other examples", "as stated; which examples the paper takes as "
         "negatives is not stated"],
        ["partition (exps. 2, 5)", "B = A0 − (1 − α)C/N, derived with softmax weights 1/N",
         "both: as written (weights 1/(N − 1 + α) at the origin) and padded with 1 − α "
         "(weights α/N, 1/N)", "the loss as written does not have the paper's B "
         "(theory.stationary); the padded one does"],
        ["views", "x + ε, ε ~ N(0, σ² I)", "x + ε, fresh ε every iteration (kc.data."
         "isotropic_noise)", "whether the noise is redrawn is not stated"],
        ["σ² (exp. 1)", "a sweep (values not stated)", _list(cfg["noise_variances"]),
         "the range where the small-weight theory applies (σ² ≥ 1)"],
        ["α, σ (exp. 2)", "0.1, 5", f"{cfg['weighted_alpha']:g}, "
         f"{cfg['weighted_noise_std']:g}", SAME],
        ["σ² (exp. 3)", "a sweep of a few hundredths and more (values not stated)",
         _list(cfg["normalized_noise_variances"]), "around the paper's collapse point"],
        ["weight decay (exp. 4)", "γ‖W‖² (values not stated)",
         f"γ = {_list(cfg['weight_decays'])}, σ² = {cfg['weight_decay_noise_variance']:g}, as "
         "a loss penalty (keras.regularizers.L2)", "spanning the data eigenvalues 0.2-2.5"],
        ["σ² (exp. 5, complete collapse)", "no experiment stated",
         f"{_list(cfg['complete_collapse_multiples'])} × N a_max/(1 − α)",
         "on both sides of the σ² above which every b_i ≤ 0 (padded)"],
        ["optimizer", "Adam, lr 6e-4", describe_optimizer(cfg["optimizer"]), SAME],
        ["optimizer reading (exps. 1, 4)", "constant learning rate (no schedule stated)",
         "constant (decides) and cosine-annealed to 0 over the run (reported)",
         "the annealed reading shows the stationary point without Adam's step noise"],
        ["iterations", "5,000, full batch", f"{cfg['steps']}, full batch", SAME],
        ["seeds", "not stated", "1 (experiment.seed)", "one seed; the counts are read per run"],
        ["collapsed", "not stated (plots)",
         f"eigenvalue of WᵀW below {cfg['collapse_ratio']:g} × the largest",
         "the theory's stationary point spreads the surviving eigenvalues by at most about "
         "40× in these sweeps"],
    ]
