"""Projector vs DirectCLR (Jing et al. 2022, arXiv 2110.09348, Table 1 and Fig. 7b) on digits.

SimCLR is trained with a 2-layer nonlinear projector, a 1-layer linear
projector and no projector, and DirectCLR (the contrastive loss on the
ℓ2-normalised first ``d0`` features of the representation, no projector),
all with the same residual encoder, loss, optimizer, augmentations and step
budget, as the authors' ``directclr/main.py`` modes ``simclr``, ``single``,
``baseline`` and ``directclr``. Reported per variant over several seeds: the
linear-probe accuracy of the representation (encoder output; Table 1
analogue) with all labels and with 10, 5 and 1 labelled image(s) per class,
its covariance spectrum (Fig. 7b), effective rank, AUC and collapsed
dimensions, and DirectCLR's probe on ``r[:d0]`` alone.

Scale differences from the paper (ResNet-50 on ImageNet for 100 epochs with
LARS): a small basic-block ResNet on 8×8 digits, Adam, a few hundred steps.
"""

from __future__ import annotations

import functools
import time

import gin
import keras
import numpy as np
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.data import views
from keras_collapse.guards import describe_loss
from keras_collapse.studies import _digits, _harness
from keras_collapse.studies._harness import describe_optimizer, factory_name

#: The four variants of Table 1, in the paper's order.
VARIANTS = ("2-layer nonlinear projector", "1-layer linear projector", "no projector",
            "DirectCLR")


def make_head(variant, representation_dim, embedding_dim, hidden_dim, directclr_dim):
    """The head of one Table-1 variant (``None`` for no projector).

    The projectors are the authors' (``directclr/main.py``): ``simclr`` =
    Dense(hidden, no bias) → BN → ReLU → Dense(embedding, no bias) → BN;
    ``single`` = Dense(embedding, no bias); ``baseline`` none; ``directclr``
    the first ``d0`` features (normalised, as the loss normalises anyway).

    Args:
        variant: one of :data:`VARIANTS`.
        representation_dim: encoder output size (checks ``directclr_dim``).
        embedding_dim: output size of the two projectors.
        hidden_dim: hidden width of the 2-layer projector.
        directclr_dim: DirectCLR's ``d0``.

    Returns:
        A Keras layer or ``None``.
    """
    if variant == "2-layer nonlinear projector":
        return kc.layers.ProjectionHead(embedding_dim, hidden_dims=(hidden_dim,),
                                        use_bias=False, final_batch_norm=True)
    if variant == "1-layer linear projector":
        return kc.layers.ProjectionHead(embedding_dim, use_bias=False)
    if variant == "no projector":
        return None
    if variant == "DirectCLR":
        if not 0 < directclr_dim <= representation_dim:
            raise _checks.invalid(
                "directclr_dim", f"an integer in (0, representation_dim={representation_dim}]",
                directclr_dim)
        return kc.layers.DirectCLRHead(directclr_dim)
    raise _checks.invalid("variant", f"one of {VARIANTS}", variant)


def _probes(r_train, y_train, r_test, y_test, shots, draws):
    """``{"all": acc, "10": acc, ...}``: the full-label probe and each few-label one."""
    out = {"all": kc.evaluation.linear_probe(None, (r_train, y_train), (r_test, y_test),
                                             max_iter=3000).accuracy}
    for n in shots:
        out[str(n)] = kc.evaluation.few_label_probe(
            None, (r_train, y_train), (r_test, y_test), n, draws, max_iter=3000)[0]
    return out


def _train(study, key, variant, seed, data, settings):
    """Train one (variant, seed) and measure its representation."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    encoder = settings["encoder"](tuple(x_train.shape[1:]))
    rep_dim = int(encoder.output_shape[-1])
    head = make_head(variant, rep_dim, settings["embedding_dim"], settings["hidden_dim"],
                     settings["directclr_dim"])
    model = kc.models.SiameseModel(encoder, head=head)
    augment = _digits.view_augment(x_train.shape[1:])
    dataset = views.two_views(x_train, augment, batch_size=settings["batch_size"],
                              seed=seed).repeat()
    logger = kc.callbacks.SpectrumLogger(
        x_train[: settings["probe_size"]], log_dir=study.tensorboard_dir(key),
        every_n_epochs=settings["log_every_n_epochs"], prefix=_harness.PER_EPOCH)
    started = time.time()
    history = _digits.fit_siamese(
        model, settings["loss"], settings["optimizer"](), dataset,
        settings["epochs"], settings["steps_per_epoch"], callbacks=[logger, study.progress(key)],
        save_path=study.model_path(key))
    train_seconds = time.time() - started
    r_train = kc.evaluation.embed(encoder, x_train, 512, dtype="float64")
    r_test = kc.evaluation.embed(encoder, x_test, 512, dtype="float64")
    measures = kc.metrics.spectrum_report(None, r_train, batch_size=len(r_train),
                                          include_weights=False).to_dict()
    result = {
        "variant": variant,
        "seed": seed,
        "representation_dim": rep_dim,
        "probes": _probes(r_train, y_train, r_test, y_test, settings["probe_shots"],
                          settings["probe_draws"]),
        "loss": history["loss"],
        "train_seconds": train_seconds,
        **measures,
    }
    if variant == "DirectCLR":
        d0 = settings["directclr_dim"]
        result["subvector_probes"] = _probes(r_train[:, :d0], y_train, r_test[:, :d0], y_test,
                                             settings["probe_shots"], settings["probe_draws"])
    return result


def _probe_name(probe):
    return "all labels" if probe == "all" else f"{probe} label(s) per class"


def _settings(s, rep_dim, num_seeds, dataset):
    """Rows `setting | paper | this run | why` (paper: arXiv 2110.09348 Table 1;
    the authors' ``directclr`` code)."""
    cpu = "what the 2-core CPU trains in about 10 minutes"
    return [
        ["data", "ImageNet", dataset, "the offline real image data here"],
        ["encoder", "ResNet-50 (zero_init_residual=True), 2048-d representation; the last "
         "block has an identity shortcut",
         f"{factory_name(s['encoder'])}, {rep_dim}-d representation; the last block has an "
         "identity shortcut", f"{cpu}; DirectCLR's r[d0:] is copied through that shortcut"],
        ["DirectCLR d0", "360 of 2048 (17.6%)", f"{s['directclr_dim']} of {rep_dim} "
         f"({100 * s['directclr_dim'] / rep_dim:.1f}%)", "the paper's share"],
        ["projectors", "2-layer: 2048 → 2048 (BN, ReLU) → 128 (BN, affine); 1-layer: "
         "2048 → 128; no biases",
         f"2-layer: {rep_dim} → {s['hidden_dim']} (BN, ReLU) → {s['embedding_dim']} (BN "
         f"without affine); 1-layer: {rep_dim} → {s['embedding_dim']}; no biases",
         "the authors' shapes scaled by the representation size (the final BN has no "
         "affine parameters here)"],
        ["loss", "symmetric InfoNCE on ℓ2-normalised (sub-)vectors, τ = 0.1, negatives "
         "from the other view (directclr/main.py, every mode)",
         describe_loss(s["loss"]), "the authors' code"],
        ["optimizer, budget", "LARS lr 4.8, batch 4096, weight decay 1e-6, 100 epochs",
         f"{describe_optimizer(s['optimizer'])}, {s['epochs'] * s['steps_per_epoch']} steps "
         f"of {s['batch_size']}", cpu],
        ["evaluation", "linear probe on all ImageNet labels",
         "linear probes on all labels and on " + ", ".join(map(str, s["probe_shots"]))
         + f" labelled image(s) per class (mean of {s['probe_draws']} draws, shared by "
         f"every variant); the {_probe_name(s['deciding_probe'])} probe decides",
         "fixed in the .gin file before the run (see its reason there)"],
        ["seeds", "not stated", str(num_seeds), "mean ± std; a gap must exceed the "
         "larger std"],
    ]


def _run(study, key, variant, seed, data, settings):
    """Train one (variant, seed) under the study's distribution strategy."""
    with study.scope():
        return _train(study, key, variant, seed, data, settings)


def _spectrum_figure(rows):
    """Fig. 7b analogue: log singular values of the representation per variant."""
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for variant in VARIANTS:
        curves = [np.asarray(r["singular_values"], dtype=np.float64) for r in rows[variant]]
        log_curves = np.log(np.maximum(np.stack(curves), 1e-12))
        mean = log_curves.mean(axis=0)
        index = np.arange(1, mean.shape[0] + 1)
        ax.plot(index, mean, label=variant)
        if len(curves) > 1:
            ax.fill_between(index, log_curves.min(axis=0), log_curves.max(axis=0), alpha=0.2)
    ax.set_xlabel("singular value rank index")
    ax.set_ylabel("log of singular value")
    ax.set_title("Representation spectrum (encoder output)")
    ax.legend(fontsize=8)
    return fig


def _accuracy_figure(scores, label, chance):
    """Table 1 as bars: one probe's accuracy per variant (mean ± std over
    seeds; one seed gives no error bar), from 0 with chance level marked."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    stats = [_digits.mean_std(scores[v]) for v in VARIANTS]
    seeds = len(scores[VARIANTS[0]])
    ax.bar(range(len(VARIANTS)), [100 * m for m, _ in stats],
           yerr=[100 * s for _, s in stats] if seeds > 1 else None, capsize=4,
           label=f"mean ± std over {seeds} seeds" if seeds > 1 else "one seed: no error bar")
    for index, (mean, _) in enumerate(stats):
        ax.annotate(f"{100 * mean:.1f}", (index, 100 * mean), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.axhline(100 * chance, color="k", ls=":", lw=1, label=f"chance ({100 * chance:.0f}%)")
    ax.set_xticks(range(len(VARIANTS)))
    ax.set_xticklabels([v.replace(" projector", "\nprojector") for v in VARIANTS], fontsize=8)
    ax.set_ylabel(label)
    ax.set_ylim(0.0, 100.0)
    ax.legend(fontsize=8, loc="upper left")
    return fig


@gin.configurable
def jing2022_directclr(
    study,
    dataset="digits",
    test_fraction=0.25,
    encoder=None,
    embedding_dim=8,
    hidden_dim=128,
    directclr_dim=22,
    loss=None,
    optimizer=None,
    batch_size=256,
    epochs=60,
    steps_per_epoch=5,
    num_seeds=3,
    probe_size=512,
    log_every_n_epochs=10,
    probe_shots=(10, 5, 1),
    probe_draws=20,
    deciding_probe="1",
    noise_multiple=1.0,
):
    """Table 1 and Fig. 7b of Jing et al. 2022 (arXiv 2110.09348) at digits scale.

    Args:
        study: the :class:`keras_collapse.studies._harness.Study` context.
        dataset: ``"digits"`` or a TFDS image dataset name. Defaults to ``"digits"``.
        test_fraction: held-out share for the probe. Defaults to ``0.25``.
        encoder: factory ``input_shape -> keras.Model``, the same for every
            variant (e.g. ``@directclr/encoders.small_resnet``, or
            ``@directclr/encoders.resnet`` for a TFDS dataset); ``None`` for
            ``kc.encoders.small_resnet`` of width 32 (128-d). DirectCLR's
            mechanism needs an identity shortcut into the representation.
            Defaults to ``None``.
        embedding_dim: output size of both projectors. Defaults to ``8``
            (the authors' 128 of 2048, scaled).
        hidden_dim: hidden width of the 2-layer projector. Defaults to ``128``.
        directclr_dim: DirectCLR's ``d0`` (the paper: 360 of 2048). Defaults to ``22``.
        loss: the contrastive loss shared by all variants; ``None`` for the
            authors' ``kc.losses.InfoNCE(0.1, similarity="cosine")``
            (symmetric, ℓ2-normalised, negatives from the other view).
            Defaults to ``None``.
        optimizer: optimizer factory (``@directclr/optimizers.Adam``); ``None``
            for Adam 1e-3. Defaults to ``None``.
        batch_size: examples per batch. Defaults to ``256``.
        epochs: epochs of ``steps_per_epoch`` steps. Defaults to ``60``.
        steps_per_epoch: steps per epoch. Defaults to ``5``.
        num_seeds: seeds per variant (``study.seed + i``). Defaults to ``3``.
        probe_size: training images in the SpectrumLogger probe. Defaults to ``512``.
        log_every_n_epochs: SpectrumLogger cadence. Defaults to ``10``.
        probe_shots: labelled images per class of the few-label probes
            (:func:`keras_collapse.evaluation.few_label_probe`), reported
            beside the all-label probe. Defaults to ``(10, 5, 1)``.
        probe_draws: Label draws each few-label probe averages. Defaults to ``20``.
        deciding_probe: The probe the accuracy claims' verdicts read:
            ``"all"`` or one of `probe_shots` as a string. Defaults to ``"1"``.
        noise_multiple: a difference of means counts when it exceeds this
            multiple of the larger seed std. Defaults to ``1.0``.
    """
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    shots = tuple(_checks.positive_int("probe_shots", n) for n in probe_shots)
    if deciding_probe not in ("all", *map(str, shots)):
        raise _checks.invalid("deciding_probe", f"'all' or one of {[str(n) for n in shots]}",
                              deciding_probe)
    settings = dict(
        encoder=encoder or functools.partial(kc.encoders.small_resnet, width=32),
        embedding_dim=embedding_dim, hidden_dim=hidden_dim, directclr_dim=directclr_dim,
        loss=loss if loss is not None else kc.losses.InfoNCE(0.1, similarity="cosine"),
        optimizer=optimizer or functools.partial(keras.optimizers.Adam, learning_rate=1e-3),
        batch_size=batch_size, epochs=epochs,
        steps_per_epoch=steps_per_epoch, probe_size=probe_size,
        log_every_n_epochs=log_every_n_epochs, probe_shots=shots,
        probe_draws=probe_draws, deciding_probe=deciding_probe)
    kc.distribute.check_global_batch(
        batch_size, study.strategy, settings["loss"].min_batch)
    data = _digits.load_split(dataset, test_fraction=test_fraction, seed=study.seed)
    study.log(f"{dataset}: {data[0][0].shape[0]} train / {data[1][0].shape[0]} test images")
    seeds = [study.seed + i for i in range(num_seeds)]
    rows = {v: [] for v in VARIANTS}
    for seed in seeds:
        for variant in VARIANTS:
            key = f"{variant}/seed={seed}"
            rows[variant].append(study.unit(
                key, lambda v=variant, s=seed, k=key: _run(study, k, v, s, data, settings)))
    (x_train, y_train), (x_test, y_test) = data
    raw = _probes(x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1),
                  y_test, shots, probe_draws)
    probes = ["all", *map(str, shots)]
    rep_dim = rows[VARIANTS[0]][0]["representation_dim"]
    n = len(seeds)

    def fmt(values, scale=1.0, digits=1):
        m, s = _digits.mean_std(values)
        return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"

    def scores(variant, probe, part="probes"):
        return [r[part][probe] for r in rows[variant]]

    table_rows = [
        ["DirectCLR" if v == "DirectCLR" else "SimCLR", v]
        + [fmt(scores(v, p), 100.0) for p in probes]
        + [fmt([r[name] for r in rows[v]], 1.0, d)
           for name, d in (("effective_rank", 1), ("auc", 3), ("collapsed_dims", 1))]
        for v in VARIANTS]
    table_rows.append(["DirectCLR", f"probe on r[:{directclr_dim}] only"]
                      + [fmt(scores("DirectCLR", p, "subvector_probes"), 100.0) for p in probes]
                      + ["", "", ""])
    table_rows.append(["none", "raw pixels (no training)"]
                      + [f"{100 * raw[p]:.1f}" for p in probes] + ["", "", ""])
    study.table(
        f"Table 1 analogue: linear probes on the {rep_dim}-d representation "
        f"(mean ± std over {n} seeds; spectrum measures on the training images)",
        ["loss", "projector"] + [f"probe acc., {_probe_name(p)} (%)" for p in probes]
        + ["effective rank", "AUC", "collapsed dims (λ < 1e-5 λ₁)"], table_rows)
    study.measurements.update({
        "probes": {v: {p: _digits.mean_std(scores(v, p)) for p in probes} for v in VARIANTS},
        "subvector_probes": {p: _digits.mean_std(scores("DirectCLR", p, "subvector_probes"))
                             for p in probes},
        "raw_pixel_probes": raw, "seeds": seeds, "representation_dim": rep_dim,
    })
    study.figure(_spectrum_figure(rows), "representation_spectrum.png",
                 "Fig. 7b analogue: log singular values of the representation (encoder "
                 f"output, training images), mean over {n} seeds with min-max band.")
    study.figure(_accuracy_figure({v: scores(v, deciding_probe) for v in VARIANTS},
                                  f"probe accuracy, {_probe_name(deciding_probe)} (%)",
                                  1.0 / len(np.unique(y_train))),
                 "linear_probe.png",
                 f"Table 1 analogue: the deciding probe ({_probe_name(deciding_probe)}), "
                 + (f"mean ± std over {n} seeds" if n > 1 else "one seed (no error bar)")
                 + ", from 0 with chance level marked.")

    def gap(a, b):
        """(difference of means, larger std, verdict) of two score lists."""
        (m_a, s_a), (m_b, s_b) = _digits.mean_std(a), _digits.mean_std(b)
        return m_a - m_b, max(s_a, s_b), bool(m_a - m_b > noise_multiple * max(s_a, s_b))

    rule = (f"mean of the first minus the second > {noise_multiple:g} × the larger seed std "
            f"({n} seeds)")
    setup = "digits, small ResNet, Adam (the paper: ImageNet, ResNet-50, LARS)"

    def erank_claim(claim, paper, better, worse):
        erank = {v: [r["effective_rank"] for r in rows[v]] for v in (better, worse)}
        diff, noise, verdict = gap(erank[better], erank[worse])
        study.claim(claim, paper,
                    f"representation effective rank (of {rep_dim}): {better} "
                    f"{fmt(erank[better])} vs {worse} {fmt(erank[worse])}: difference "
                    f"{diff:+.1f}, larger std {noise:.1f}",
                    verdict, criterion="effective rank, " + rule, setup=setup)

    def accuracy_claim(claim, paper, first, second, second_part="probes"):
        each = []
        for p in probes:
            diff, noise, verdict = gap(scores(first, p), scores(second, p, second_part))
            each.append((p, diff, noise, verdict))
        decided = next(v for p, _, _, v in each if p == deciding_probe)
        name = second + (f" r[:{directclr_dim}]" if second_part != "probes" else "")
        study.claim(
            claim, paper,
            "; ".join(f"{_probe_name(p)}: {100 * d:+.1f} points (larger std {100 * s:.1f}, "
                      f"{'holds' if v else 'does not hold'})" for p, d, s, v in each)
            + f". Means ({_probe_name(deciding_probe)}): {first} "
            + fmt(scores(first, deciding_probe), 100.0) + f"% vs {name} "
            + fmt(scores(second, deciding_probe, second_part), 100.0) + "%",
            decided, criterion=f"{_probe_name(deciding_probe)} probe accuracy, " + rule,
            setup=setup)

    erank_claim("Without a projector SimCLR's representation collapses more than with the "
                "2-layer projector", "Fig. 7b", "2-layer nonlinear projector", "no projector")
    erank_claim("DirectCLR's representation collapses less than SimCLR's without a projector",
                "Sec. 5, the authors' README (\"able to prevent dimensional collapse\")",
                "DirectCLR", "no projector")
    accuracy_claim("DirectCLR beats SimCLR without a projector (62.7 vs 51.5%)", "Table 1",
                   "DirectCLR", "no projector")
    accuracy_claim("DirectCLR outperforms SimCLR with a 1-layer linear projector "
                   "(62.7 vs 61.1%)", "Table 1", "DirectCLR", "1-layer linear projector")
    accuracy_claim("A 2-layer projector improves the representation over none (66.5 vs "
                   "51.5%)", "Table 1", "2-layer nonlinear projector", "no projector")
    accuracy_claim("A 2-layer nonlinear projector beats a 1-layer linear one (66.5 vs 61.1%)",
                   "Table 1", "2-layer nonlinear projector", "1-layer linear projector")
    accuracy_claim("DirectCLR's r[d0:] carries information: the whole r beats r[:d0] alone "
                   "(62.7 vs 47.9%)", "Sec. 5", "DirectCLR", "DirectCLR",
                   second_part="subvector_probes")
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(settings, rep_dim, n, dataset))
