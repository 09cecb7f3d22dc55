"""Ziyin et al. 2023 (arXiv 2210.00638): curvature at the origin predicts which directions linear SSL models learn.

Linear models `z = x K` (Keras `Dense`, kernel `K = Wᵀ`) are trained from a
small initialisation with InfoNCE (dot form), NT-Xent, spectral contrastive,
Barlow Twins and VICReg on diagonal-Gaussian data: input direction `k` has
data variance `s_k` and both views add independent augmentation noise of
variance `a_k = α`. :mod:`keras_collapse.theory.landscape` gives the
curvature `κ_k` of each loss at `W = 0` along `W = ε e u_kᵀ` (closed forms,
checked against autodiff here) and predicts direction `k` learned iff
`κ_k < 0`. A direction is measured learned when `‖W u_k‖ > rtol · max_j ‖W u_j‖`
after training. Three experiments:

1. Sweep of augmentation strength `α` × weight decay `γ` (the phase
   transition of the number of learned dimensions).
2. Bias and ℓ2 normalisation: learned counts with/without a bias when the
   embedding is narrower than the number of learnable directions; NT-Xent
   (normalised) against InfoNCE (unnormalised) along the `γ` sweep.
3. Data imbalance: a mixture of a majority (`±u_1`, weight `1 − p`) and a
   minority (`±u_2`, weight `p`) cluster pair; which losses keep `u_2`.

Reference: Ziyin, Lubana, Ueda, Tanaka, "What Shapes the Loss Landscape of
Self-Supervised Learning?", ICLR 2023, arXiv 2210.00638.
"""

from __future__ import annotations

import functools

import gin
import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse.theory import landscape

LOSSES = ("info_nce", "nt_xent", "spectral_contrastive", "barlow_twins", "vicreg")
LABELS = {
    "info_nce": "InfoNCE (dot)",
    "nt_xent": "NT-Xent (ℓ2-normalised)",
    "spectral_contrastive": "spectral contrastive",
    "barlow_twins": "Barlow Twins",
    "vicreg": "VICReg",
}


def _loss_fns(temperature):
    """name -> (functional loss, closed-form keyword arguments)."""
    return {
        "info_nce": (functools.partial(kc.losses.info_nce, temperature=temperature),
                     {"temperature": temperature}),
        "nt_xent": (functools.partial(kc.losses.nt_xent, temperature=temperature),
                    {"temperature": temperature}),
        "spectral_contrastive": (kc.losses.spectral_contrastive, {}),
        "barlow_twins": (kc.losses.barlow_twins, {}),
        "vicreg": (kc.losses.vicreg, {}),
    }


def _train(loss_fn, pool, augmentation_variance, output_dim, weight_decay, use_bias,
           steps, batch_size, learning_rate, init_scale, seed, log_dir, log_every):
    """Train `Dense(output_dim)` on two augmented views of `pool`; return the weights.

    Each step draws `batch_size` rows of `pool` (`(n, dim)`) and adds fresh
    noise `√a_k · N(0, 1)` per view. The objective is `mean loss + γ ‖K‖²`
    (bias not decayed), optimised by Adam with a cosine schedule to 0.
    """
    dim = pool.shape[1]
    keras.utils.set_random_seed(seed)
    layer = keras.layers.Dense(
        output_dim, use_bias=use_bias,
        kernel_initializer=keras.initializers.RandomNormal(stddev=init_scale, seed=seed))
    layer.build((None, dim))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    optimizer = keras.optimizers.Adam(schedule)
    generator = tf.random.Generator.from_seed(seed)
    data = tf.constant(pool, tf.float32)
    noise_std = tf.constant(np.sqrt(augmentation_variance), tf.float32)
    gamma = tf.constant(float(weight_decay), tf.float32)

    @tf.function
    def step():
        idx = generator.uniform((batch_size,), 0, pool.shape[0], dtype=tf.int32)
        x = tf.gather(data, idx)
        x_a = x + noise_std * generator.normal((batch_size, dim))
        x_b = x + noise_std * generator.normal((batch_size, dim))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(layer(x_a), layer(x_b)))
            total = loss + gamma * tf.reduce_sum(tf.square(layer.kernel))
        grads = tape.gradient(total, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables))
        return loss

    writer = tf.summary.create_file_writer(log_dir)
    history = []
    with writer.as_default():
        for i in range(steps):
            loss = step()
            if i % log_every == 0 or i == steps - 1:
                value = float(loss)
                history.append([i, value])
                tf.summary.scalar("loss", value, step=i)
                norms = landscape.direction_norms(layer.kernel.numpy())
                for k, norm in enumerate(norms):
                    tf.summary.scalar(f"direction_norm/{k}", norm, step=i)
    writer.flush()
    kernel = layer.kernel.numpy()
    bias = layer.bias.numpy() if use_bias else np.zeros(output_dim)
    return {"kernel": kernel, "bias": bias, "history": history,
            "norms": landscape.direction_norms(kernel)}


def _bias_curvature(loss_fn, batch_size, output_dim):
    """Curvature of the loss along a bias `b = ε e` at the origin (zero-mean data).

    With `W = 0` every embedding equals `b`, which is the linear model of a
    constant input `x ≡ 1`; so this is :func:`landscape.curvature_at_origin`
    on all-ones views.
    """
    ones = np.ones((1, batch_size, 1), np.float32)
    return float(landscape.curvature_at_origin(loss_fn, ones, ones, output_dim=output_dim)[0])


def _capacity_prediction(curvature, capacity):
    """Learned iff κ < 0 and among the `capacity` most negative curvatures."""
    learned = landscape.predict_learned(curvature)
    order = np.argsort(curvature, kind="stable")
    keep = np.zeros_like(learned)
    keep[order[:max(capacity, 0)]] = True
    return learned & keep


@gin.configurable
def ziyin2023_landscape(
    study,
    losses=LOSSES,
    data_variances=(1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.0, 0.0),
    augmentation_strengths=(0.1, 0.5, 2.0),
    weight_decays=(0.0, 0.09, 0.35, 1.4),
    output_dim=8,
    temperature=0.5,
    batch_size=256,
    steps=1000,
    learning_rate=1e-2,
    init_scale=1e-3,
    rtol=0.1,
    pool_size=20000,
    curvature_batches=8,
    bias_output_dim=4,
    bias_augmentation=0.5,
    bias_weight_decay=0.0,
    minority_fractions=(0.3, 0.1, 0.03, 0.01),
    imbalance_weight_decay=0.09,
    imbalance_augmentation=0.1,
    imbalance_background_variance=0.01,
    agreement_threshold=0.9,
    log_every=100,
):
    """Predict learned directions from the curvature at the origin and train.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        losses: Loss names, a subset of `LOSSES`.
        data_variances: Data variance `s_k` of each input direction (the zeros
            are pure-augmentation directions).
        augmentation_strengths: Augmentation variances `α` (`a_k = α` for all k).
        weight_decays: `γ` of the penalty `γ ‖K‖²`.
        output_dim: Embedding width `m` of the sweep.
        temperature: `τ` of InfoNCE and NT-Xent.
        batch_size: Training and curvature batch size `N`.
        steps: Adam steps per run.
        learning_rate: Peak Adam learning rate (cosine decay to 0).
        init_scale: Standard deviation of the initial kernel entries.
        rtol: A direction is learned when its norm exceeds `rtol ×` the largest.
        pool_size: Number of data points sampled once per experiment.
        curvature_batches: Batches for the autodiff curvature estimate.
        bias_output_dim: Embedding width of the bias experiment (narrower than
            the number of learnable directions).
        bias_augmentation: `α` of the bias experiment.
        bias_weight_decay: `γ` of the bias experiment.
        minority_fractions: Minority weights `p` of the imbalance experiment.
        imbalance_weight_decay: `γ` of the imbalance experiment.
        imbalance_augmentation: `α` of the imbalance experiment.
        imbalance_background_variance: Within-cluster isotropic variance.
        agreement_threshold: Agreement rate at or above which a loss "follows"
            the local-geometry prediction.
        log_every: Steps between TensorBoard points.
    """
    unknown = sorted(set(losses) - set(LOSSES))
    if unknown:
        raise ValueError(f"Invalid value for argument `losses`. Expected names among "
                         f"{list(LOSSES)}. Received: losses={list(losses)}")
    fns = _loss_fns(temperature)
    s = np.asarray(data_variances, np.float64)
    dim = s.size
    train = functools.partial(_train, steps=steps, batch_size=batch_size,
                              learning_rate=learning_rate, init_scale=init_scale,
                              log_every=log_every)

    # ---------------------------------------------------------------- 1. sweep
    pool = kc.data.synthetic_gaussian(pool_size, dim, covariance=np.diag(s), seed=study.seed)
    sweep = {}
    curvature_rows = []
    for alpha in augmentation_strengths:
        a = np.full(dim, float(alpha))
        views = landscape.gaussian_views(s, a, batch_size, curvature_batches, seed=study.seed + 1)
        for name in losses:
            fn, kwargs = fns[name]
            geometry = study.unit(f"curvature_{name}_a={alpha}", lambda: {
                "autodiff": landscape.curvature_at_origin(fn, *views, output_dim=output_dim),
                "closed_form": landscape.closed_form_curvature(
                    name, s, a, batch_size=batch_size, output_dim=output_dim, **kwargs),
            })
            for k in range(dim):
                curvature_rows.append([LABELS[name], alpha, s[k], geometry["closed_form"][k],
                                       geometry["autodiff"][k]])
            for gamma in weight_decays:
                key = f"sweep_{name}_a={alpha}_wd={gamma}"
                run = study.unit(key, lambda: train(
                    fn, pool, a, output_dim, gamma, False, seed=study.seed,
                    log_dir=study.tensorboard_dir(key)))
                kappa = np.asarray(geometry["closed_form"]) + 2.0 * gamma
                kappa_ad = np.asarray(geometry["autodiff"]) + 2.0 * gamma
                sweep[(name, alpha, gamma)] = {
                    "predicted": landscape.predict_learned(kappa),
                    "predicted_autodiff": landscape.predict_learned(kappa_ad),
                    "measured": landscape.learned_directions(np.asarray(run["kernel"]), rtol),
                    "norms": np.asarray(run["norms"]),
                }

    rates = {}
    sweep_rows = []
    for name in losses:
        cells = [v for (n, _, _), v in sweep.items() if n == name]
        pred = np.concatenate([c["predicted"] for c in cells])
        meas = np.concatenate([c["measured"] for c in cells])
        pred_ad = np.concatenate([c["predicted_autodiff"] for c in cells])
        rates[name] = landscape.agreement_rate(pred, meas)
        sweep_rows.append([LABELS[name], rates[name], landscape.agreement_rate(pred_ad, meas),
                           landscape.agreement_rate(pred, pred_ad), int(pred.size)])
    study.table("Agreement of predicted and measured learned directions (sweep)",
                ["loss", "agreement (closed form)", "agreement (autodiff)",
                 "closed form = autodiff", "(sweep point, direction) pairs"], sweep_rows)
    count_rows = []
    for (name, alpha, gamma), v in sweep.items():
        count_rows.append([LABELS[name], alpha, gamma, int(v["predicted"].sum()),
                           int(v["measured"].sum()),
                           "".join("1" if m else "0" for m in v["measured"])])
    study.table("Learned dimensions per sweep point (measured pattern: direction 0 first)",
                ["loss", "α (aug. variance)", "γ (weight decay)", "predicted", "measured",
                 "measured pattern"], count_rows)
    study.table("Curvature at the origin: closed form vs autodiff (γ = 0)",
                ["loss", "α", "s_k", "closed form", "autodiff"], curvature_rows)
    study.measurements["agreement_rate"] = rates

    for name in losses:
        study.claim(
            f"{LABELS[name]}: the local geometry at the origin decides which directions "
            "are learned",
            "Sec. 1 (thesis); landscape theorems (not in our copy)",
            f"agreement {rates[name]:.3f} over {len(augmentation_strengths)}×"
            f"{len(weight_decays)} sweep points × {dim} directions "
            f"(threshold {agreement_threshold})",
            rates[name] >= agreement_threshold,
        )

    # augmentation: does the predicted / measured learned set change with α?
    pred_changes, meas_changes, cells = 0, 0, 0
    for name in losses:
        for gamma in weight_decays:
            cells += 1
            preds = [sweep[(name, al, gamma)]["predicted"] for al in augmentation_strengths]
            meas = [sweep[(name, al, gamma)]["measured"] for al in augmentation_strengths]
            pred_changes += any(not np.array_equal(preds[0], p) for p in preds[1:])
            meas_changes += any(not np.array_equal(meas[0], m) for m in meas[1:])
    study.claim(
        "The interplay of data variance and augmentation decides the geometry "
        "(augmentation strength changes which directions collapse)",
        "Sec. 1, point 1",
        f"with additive augmentation a_k the curvature at the origin is independent of a_k "
        f"for InfoNCE, NT-Xent, spectral and Barlow Twins (it cancels at O(ε²)); only "
        f"VICReg's invariance term carries a_k. Predicted learned set changes with α in "
        f"{pred_changes}/{cells} (loss, γ) cells, measured in {meas_changes}/{cells}",
        pred_changes > 0 and meas_changes > 0,
    )

    # weight decay phase transition and the effect of normalisation
    def counts(name, which):
        return [[int(sweep[(name, al, g)][which].sum()) for g in weight_decays]
                for al in augmentation_strengths]

    transition = {}
    for name in ("info_nce", "spectral_contrastive", "nt_xent"):
        if name in losses:
            m = np.asarray(counts(name, "measured"))
            transition[name] = {
                "drop": int(np.min(m[:, 0] - m[:, -1])),
                "monotone": bool(np.all(np.diff(m, axis=1) <= 0)),
            }
    if {"info_nce", "nt_xent"} <= set(transition):
        holds = (transition["info_nce"]["drop"] >= 2 and transition["info_nce"]["monotone"]
                 and transition["nt_xent"]["drop"] < transition["info_nce"]["drop"])
        study.claim(
            "Weight decay collapses the directions with weak curvature (a phase transition "
            "in the learned rank); ℓ2 normalisation changes the landscape",
            "Sec. 1 (effect of normalisation)",
            f"InfoNCE learned count drops by ≥ {transition['info_nce']['drop']} from γ="
            f"{weight_decays[0]} to γ={weight_decays[-1]} (monotone: "
            f"{transition['info_nce']['monotone']}); NT-Xent drops by "
            f"{transition['nt_xent']['drop']} (required: InfoNCE ≥ 2, monotone, NT-Xent less)",
            holds,
        )
    study.measurements["weight_decay_transition"] = transition

    # ---------------------------------------------------------------- 2. bias
    a_bias = np.full(dim, float(bias_augmentation))
    bias_rows, bias_ok, bias_counts = [], [], {}
    for name in losses:
        fn, kwargs = fns[name]
        kappa = landscape.closed_form_curvature(
            name, s, a_bias, weight_decay=bias_weight_decay, batch_size=batch_size,
            output_dim=bias_output_dim, **kwargs)
        kappa_b = study.unit(f"bias_curvature_{name}", lambda: {
            "value": _bias_curvature(fn, batch_size, bias_output_dim)})["value"]
        for use_bias in (False, True):
            key = f"bias_{name}_bias={use_bias}"
            run = study.unit(key, lambda: train(
                fn, pool, a_bias, bias_output_dim, bias_weight_decay, use_bias,
                seed=study.seed, log_dir=study.tensorboard_dir(key)))
            capacity = bias_output_dim - int(use_bias and kappa_b < -1e-6)
            predicted = _capacity_prediction(kappa, capacity)
            measured = landscape.learned_directions(np.asarray(run["kernel"]), rtol)
            bias_ok.append(int(predicted.sum()) == int(measured.sum()))
            bias_counts[(name, use_bias)] = (int(predicted.sum()), int(measured.sum()))
            bias_rows.append([LABELS[name], "yes" if use_bias else "no", kappa_b,
                              float(np.linalg.norm(run["bias"])), int(predicted.sum()),
                              int(measured.sum())])
    study.table(f"Bias (m = {bias_output_dim} < learnable directions, α = {bias_augmentation}, "
                f"γ = {bias_weight_decay})",
                ["loss", "bias", "bias curvature at 0", "‖b‖ trained", "predicted count",
                 "measured count"], bias_rows)
    effect_ok = [
        bias_counts[(n, False)][0] - bias_counts[(n, True)][0]
        == bias_counts[(n, False)][1] - bias_counts[(n, True)][1] for n in losses]
    study.claim(
        "A bias changes the landscape: where its curvature at the origin is negative it "
        "takes one embedding dimension",
        "Sec. 1 (effect of bias)",
        f"predicted change of the learned count when adding a bias (−1 where the bias "
        f"curvature < 0: spectral, and NT-Xent through its normaliser floor; 0 elsewhere) "
        f"equals the measured change for {sum(effect_ok)}/{len(effect_ok)} losses; absolute "
        f"counts agree in {sum(bias_ok)}/{len(bias_ok)} runs",
        all(effect_ok),
    )

    # ----------------------------------------------------------- 3. imbalance
    imb_dim = 4
    imb_rows, imb_ok, imb_pred, imb_meas = [], [], [], []
    a_imb = np.full(imb_dim, float(imbalance_augmentation))
    for p in minority_fractions:
        mixture = {
            "weights": [(1 - p) / 2, (1 - p) / 2, p / 2, p / 2],
            "means": [[1, 0, 0, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, -1, 0, 0]],
        }
        x, _ = kc.data.synthetic_gaussian(
            pool_size, imb_dim, covariance=imbalance_background_variance * np.eye(imb_dim),
            seed=study.seed, mixture=mixture)
        s_imb = x.var(axis=0).astype(np.float64)
        for name in losses:
            fn, kwargs = fns[name]
            key = f"imbalance_{name}_p={p}"
            run = study.unit(key, lambda: train(
                fn, x, a_imb, imb_dim, imbalance_weight_decay, False, seed=study.seed,
                log_dir=study.tensorboard_dir(key)))
            kappa = landscape.closed_form_curvature(
                name, s_imb, a_imb, weight_decay=imbalance_weight_decay,
                batch_size=batch_size, output_dim=imb_dim, **kwargs)
            predicted = landscape.predict_learned(kappa)
            measured = landscape.learned_directions(np.asarray(run["kernel"]), rtol)
            norms = np.asarray(run["norms"])
            imb_pred.append(predicted)
            imb_meas.append(measured)
            imb_ok.append(bool(predicted[1] == measured[1]))
            imb_rows.append([LABELS[name], p, float(s_imb[1]), float(kappa[1]),
                             "kept" if predicted[1] else "lost",
                             "kept" if measured[1] else "lost",
                             float(norms[1] / max(norms.max(), 1e-30))])
    study.table(f"Data imbalance (majority ±u_1 weight 1−p, minority ±u_2 weight p; "
                f"γ = {imbalance_weight_decay}, α = {imbalance_augmentation})",
                ["loss", "p", "minority variance", "κ minority", "predicted", "measured",
                 "‖W u_2‖ / max"], imb_rows)
    imb_rate = landscape.agreement_rate(np.concatenate(imb_pred), np.concatenate(imb_meas))
    kept = {r[0]: None for r in imb_rows}
    for r in imb_rows:
        if r[5] == "kept":
            kept[r[0]] = r[1] if kept[r[0]] is None else min(kept[r[0]], r[1])
    study.measurements["imbalance_smallest_kept_fraction"] = kept
    study.claim(
        "Losses differ in robustness to data imbalance; the local geometry says which "
        "keep the minority direction",
        "Sec. 1, point 2",
        f"minority kept/lost predicted correctly in {sum(imb_ok)}/{len(imb_ok)} (loss, p) "
        f"runs; all directions agree at rate {imb_rate:.3f}; smallest p with the minority "
        f"kept: " + ", ".join(f"{k}: {v}" for k, v in kept.items()),
        sum(imb_ok) >= agreement_threshold * len(imb_ok),
    )

    # ---------------------------------------------------------------- figures
    _phase_figure(study, losses, sweep, augmentation_strengths, weight_decays)
    _curvature_figure(study, curvature_rows)
    _bias_norm_figure(study, bias_rows, losses, sweep, augmentation_strengths, weight_decays)
    _imbalance_figure(study, imb_rows, losses, minority_fractions)


def _phase_figure(study, losses, sweep, alphas, gammas):
    fig = Figure(figsize=(3.2 * len(losses), 3.2))
    axes = fig.subplots(1, len(losses), squeeze=False)[0]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    x = np.arange(len(gammas))
    for ax, name in zip(axes, losses):
        for i, alpha in enumerate(alphas):
            c = colors[i % len(colors)]
            pred = [sweep[(name, alpha, g)]["predicted"].sum() for g in gammas]
            meas = [sweep[(name, alpha, g)]["measured"].sum() for g in gammas]
            ax.plot(x + 0.05 * i, pred, "-", color=c, alpha=0.6, label=f"predicted α={alpha}")
            ax.plot(x + 0.05 * i, meas, "o", color=c, label=f"measured α={alpha}")
        ax.set_xticks(x, [str(g) for g in gammas])
        ax.set_xlabel("weight decay γ")
        ax.set_title(LABELS[name], fontsize=9)
    axes[0].set_ylabel("learned input directions")
    axes[-1].legend(fontsize=6)
    study.figure(fig, "phase_transition.png",
                 "Predicted (lines, κ_k < 0 at the origin) and measured (dots) number of "
                 "learned directions against weight decay, per augmentation strength α.")


def _curvature_figure(study, rows):
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    for label in dict.fromkeys(r[0] for r in rows):
        pts = np.array([[r[3], r[4]] for r in rows if r[0] == label], float)
        ax.scatter(pts[:, 0], pts[:, 1], s=10, label=label)
    lim = max(abs(np.array([[r[3], r[4]] for r in rows], float)).max(), 1.0)
    ax.plot([-lim, lim], [-lim, lim], "k:", lw=0.8)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("closed-form curvature κ_k")
    ax.set_ylabel("autodiff curvature (sampled batches)")
    ax.legend(fontsize=6)
    study.figure(fig, "curvature.png",
                 "Curvature of each loss at the origin along each input direction: closed "
                 "form against the autodiff estimate on sampled batches.")


def _bias_norm_figure(study, bias_rows, losses, sweep, alphas, gammas):
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    names = [r[0] for r in bias_rows if r[1] == "no"]
    without = [r[5] for r in bias_rows if r[1] == "no"]
    with_b = [r[5] for r in bias_rows if r[1] == "yes"]
    x = np.arange(len(names))
    ax1.bar(x - 0.2, without, 0.4, label="no bias")
    ax1.bar(x + 0.2, with_b, 0.4, label="bias")
    ax1.set_xticks(x, names, rotation=30, fontsize=7, ha="right")
    ax1.set_ylabel("measured learned directions")
    ax1.legend(fontsize=7)
    ax1.set_title("effect of a bias", fontsize=9)
    for name, style in (("info_nce", "-o"), ("nt_xent", "--s")):
        if name in losses:
            mean = [np.mean([sweep[(name, al, g)]["measured"].sum() for al in alphas])
                    for g in gammas]
            ax2.plot(range(len(gammas)), mean, style, label=LABELS[name])
    ax2.set_xticks(range(len(gammas)), [str(g) for g in gammas])
    ax2.set_xlabel("weight decay γ")
    ax2.set_ylabel("learned directions (mean over α)")
    ax2.set_title("effect of ℓ2 normalisation", fontsize=9)
    ax2.legend(fontsize=7)
    study.figure(fig, "bias_normalization.png",
                 "Left: learned directions with and without a bias (narrow embedding). Right: "
                 "unnormalised InfoNCE against ℓ2-normalised NT-Xent along the weight-decay sweep.")


def _imbalance_figure(study, rows, losses, fractions):
    fig = Figure(figsize=(4.8, 3.6))
    ax = fig.subplots()
    for name in losses:
        vals = [r[6] for r in rows if r[0] == LABELS[name]]
        ax.plot(fractions, vals, "-o", label=LABELS[name])
    ax.set_xscale("log")
    ax.set_xlabel("minority fraction p")
    ax.set_ylabel("‖W u_minority‖ / max_k ‖W u_k‖")
    ax.axhline(0.1, color="k", ls=":", lw=0.8)
    ax.legend(fontsize=6)
    study.figure(fig, "imbalance.png",
                 "Relative norm of the minority direction after training against the minority "
                 "fraction (dotted: the learned threshold rtol).")
