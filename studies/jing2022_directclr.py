"""Projector vs DirectCLR (Jing et al. 2022, arXiv 2110.09348, Table 1 and Fig. 7b) on digits.

SimCLR is trained with a 2-layer nonlinear projector, a 1-layer linear
projector and no projector, and DirectCLR (the contrastive loss on the
ℓ2-normalised first ``d0`` features of the representation, no projector),
all with the same encoder, loss, optimizer, augmentations and step budget.
Reported per variant over several seeds: the linear-probe accuracy of the
representation (encoder output; Table 1 analogue) and its covariance spectrum
(Fig. 7b), effective rank, AUC and number of collapsed dimensions.

Scale differences from the paper (ResNet-50 on ImageNet for 100 epochs with
LARS): a three-block conv net on 8×8 digits, Adam, a few hundred steps.
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
from keras_collapse.studies import _digits
from keras_collapse.studies._harness import describe_optimizer, factory_name

#: The four variants of Table 1, in the paper's order.
VARIANTS = ("2-layer nonlinear projector", "1-layer linear projector", "no projector",
            "DirectCLR")


def make_head(variant, representation_dim, embedding_dim, hidden_dim, directclr_dim):
    """The head of one Table-1 variant (``None`` for no projector).

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
        return kc.layers.ProjectionHead(embedding_dim, hidden_dims=(hidden_dim,))
    if variant == "1-layer linear projector":
        return kc.layers.ProjectionHead(embedding_dim)
    if variant == "no projector":
        return None
    if variant == "DirectCLR":
        if not 0 < directclr_dim <= representation_dim:
            raise _checks.invalid(
                "directclr_dim", f"an integer in (0, representation_dim={representation_dim}]",
                directclr_dim)
        return kc.layers.DirectCLRHead(directclr_dim)
    raise _checks.invalid("variant", f"one of {VARIANTS}", variant)


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
        every_n_epochs=settings["log_every_n_epochs"])
    started = time.time()
    history = _digits.fit_siamese(
        model, settings["loss"], settings["optimizer"](), dataset,
        settings["epochs"], settings["steps_per_epoch"], callbacks=[logger],
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
        "accuracy": kc.evaluation.linear_probe(None, (r_train, y_train), (r_test, y_test), max_iter=3000).accuracy,
        "few_label_accuracy": _few_label(r_train, y_train, r_test, y_test, settings),
        "loss": history["loss"],
        "train_seconds": train_seconds,
        **measures,
    }
    if variant == "DirectCLR":
        d0 = settings["directclr_dim"]
        result["subvector_accuracy"] = kc.evaluation.linear_probe(None, (r_train[:, :d0], y_train), (r_test[:, :d0], y_test), max_iter=3000).accuracy
    return result



def _few_label(r_train, y_train, r_test, y_test, settings):
    """The few-label probe's mean accuracy, or None when the study uses all labels."""
    if settings["probe_labels_per_class"] is None:
        return None
    return kc.evaluation.few_label_probe(
        None, (r_train, y_train), (r_test, y_test), settings["probe_labels_per_class"],
        settings["probe_draws"], max_iter=3000)[0]


def _settings(s, rep_dim, num_seeds, dataset):
    """Rows `setting | paper | this run | why` (paper: arXiv 2110.09348 Table 1;
    the authors' ``directclr`` code)."""
    cpu = "what the 2-core CPU trains in about 10 minutes"
    few = s["probe_labels_per_class"]
    return [
        ["data", "ImageNet", dataset, "the offline real image data here"],
        ["encoder", "ResNet-50, 2048-d representation",
         f"{factory_name(s['encoder'])}, {rep_dim}-d representation", cpu],
        ["DirectCLR d0", "360 of 2048 (18%)", f"{s['directclr_dim']} of {rep_dim}",
         "about the same share"],
        ["projectors", "2-layer nonlinear, 1-layer linear, none",
         f"2-layer ({s['hidden_dim']} hidden), 1-layer, none; embedding {s['embedding_dim']}-d",
         "the same kinds, scaled down"],
        ["loss", "symmetric InfoNCE on ℓ2-normalised (sub-)vectors, τ = 0.1, negatives "
         "from the other view", f"{describe_loss(s['loss'])}: negatives from both views",
         "SimCLR's form for every variant alike"],
        ["optimizer, budget", "LARS, 100 epochs (not in our copy)",
         f"{describe_optimizer(s['optimizer'])}, {s['epochs'] * s['steps_per_epoch']} steps of "
         f"{s['batch_size']}", cpu],
        ["evaluation", "linear probe on all ImageNet labels",
         (f"linear probe on {few} labelled image(s) per class, mean of {s['probe_draws']} "
          "draws (all-label probe also reported)") if few else "linear probe, all labels",
         "all-label probes saturate near 99% on digits (regime search)" if few else
         "as the paper"],
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


def _accuracy_figure(rows, score="accuracy", label="linear probe accuracy (%)"):
    """Table 1 as bars: the claims' probe accuracy per variant (mean ± std over seeds)."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    stats = [_digits.mean_std([r[score] for r in rows[v]]) for v in VARIANTS]
    ax.bar(range(len(VARIANTS)), [100 * m for m, _ in stats],
           yerr=[100 * s for _, s in stats], capsize=4)
    ax.set_xticks(range(len(VARIANTS)))
    ax.set_xticklabels([v.replace(" projector", "\nprojector") for v in VARIANTS], fontsize=8)
    ax.set_ylabel(label)
    low = min(100 * (m - s) for m, s in stats)
    ax.set_ylim(max(0.0, low - 5.0), 100.0)
    return fig


@gin.configurable
def jing2022_directclr(
    study,
    dataset="digits",
    test_fraction=0.25,
    encoder=None,
    embedding_dim=64,
    hidden_dim=128,
    directclr_dim=32,
    loss=None,
    optimizer=None,
    batch_size=256,
    epochs=60,
    steps_per_epoch=5,
    num_seeds=3,
    probe_size=512,
    log_every_n_epochs=10,
    probe_labels_per_class=None,
    probe_draws=20,
):
    """Table 1 and Fig. 7b of Jing et al. 2022 (arXiv 2110.09348) at digits scale.

    Args:
        study: the :class:`keras_collapse.studies._harness.Study` context.
        dataset: ``"digits"`` or a TFDS image dataset name. Defaults to ``"digits"``.
        test_fraction: held-out share for the probe. Defaults to ``0.25``.
        encoder: factory ``input_shape -> keras.Model``, the same for every
            variant (e.g. ``@directclr/encoders.convnet`` with ``width``
            bound, or ``@directclr/encoders.resnet`` for a TFDS dataset);
            ``None`` for ``kc.encoders.convnet`` of width 32 (128-d).
            Defaults to ``None``.
        embedding_dim: output size of both projectors. Defaults to ``64``.
        hidden_dim: hidden width of the 2-layer projector. Defaults to ``128``.
        directclr_dim: DirectCLR's ``d0`` (the paper: 360 of 2048). Defaults to ``32``.
        loss: the contrastive loss shared by all variants; ``None`` for
            ``kc.losses.NTXent(temperature=0.1)``. Defaults to ``None``.
        optimizer: optimizer factory (``@directclr/optimizers.Adam``); ``None``
            for Adam 1e-3. Defaults to ``None``.
        batch_size: examples per batch. Defaults to ``256``.
        epochs: epochs of ``steps_per_epoch`` steps. Defaults to ``60``.
        steps_per_epoch: steps per epoch. Defaults to ``5``.
        num_seeds: seeds per variant (``study.seed + i``). Defaults to ``3``.
        probe_size: training images in the SpectrumLogger probe. Defaults to ``512``.
        log_every_n_epochs: SpectrumLogger cadence. Defaults to ``10``.
        probe_labels_per_class: If set, the accuracy claims read a linear
            probe trained on this many labelled images per class
            (:func:`keras_collapse.evaluation.few_label_probe`; on digits the
            full-label probe saturates near 99% for every variant); ``None``
            for the full-label probe. Defaults to ``None``.
        probe_draws: Label draws the few-label probe averages. Defaults to ``20``.
    """
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise _checks.invalid("num_seeds", "a positive integer", num_seeds)
    settings = dict(
        encoder=encoder or functools.partial(kc.encoders.convnet, width=32),
        embedding_dim=embedding_dim, hidden_dim=hidden_dim, directclr_dim=directclr_dim,
        loss=loss if loss is not None else kc.losses.NTXent(temperature=0.1),
        optimizer=optimizer or functools.partial(keras.optimizers.Adam, 1e-3),
        batch_size=batch_size, epochs=epochs,
        steps_per_epoch=steps_per_epoch, probe_size=probe_size,
        log_every_n_epochs=log_every_n_epochs, probe_labels_per_class=probe_labels_per_class,
        probe_draws=probe_draws)
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

    stats = {}
    for variant in VARIANTS:
        runs = rows[variant]
        stats[variant] = {
            name: _digits.mean_std([r[name] for r in runs])
            for name in ("accuracy", "effective_rank", "auc", "collapsed_dims", "train_seconds")
        }
        if probe_labels_per_class is not None:
            stats[variant]["few_label_accuracy"] = _digits.mean_std(
                [r["few_label_accuracy"] for r in runs])
    few = probe_labels_per_class is not None
    score = "few_label_accuracy" if few else "accuracy"
    probe_name = (f"{probe_labels_per_class}-label-per-class probe ({probe_draws} draws)"
                  if few else "probe")
    (x_train, y_train), (x_test, y_test) = data
    raw = kc.evaluation.linear_probe(None, (x_train, y_train), (x_test, y_test),
                                     max_iter=3000).accuracy
    raw_few = (_few_label(x_train.reshape(len(x_train), -1), y_train,
                          x_test.reshape(len(x_test), -1), y_test, settings) if few else None)
    rep_dim = rows[VARIANTS[0]][0]["representation_dim"]
    n = len(seeds)

    def fmt(variant, name, scale=1.0, digits=1):
        m, s = stats[variant][name]
        return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"

    table_rows = []
    for variant in VARIANTS:
        table_rows.append([
            "DirectCLR" if variant == "DirectCLR" else "SimCLR", variant,
            fmt(variant, "accuracy", 100.0)]
            + ([fmt(variant, "few_label_accuracy", 100.0)] if few else [])
            + [fmt(variant, "effective_rank"), fmt(variant, "auc", 1.0, 3),
               fmt(variant, "collapsed_dims")])
    table_rows.append(["none", "raw pixels (no training)", f"{100 * raw:.1f}"]
                      + ([f"{100 * raw_few:.1f}"] if few else []) + ["", "", ""])
    study.table(
        f"Table 1 analogue: linear probe on the {rep_dim}-d representation "
        f"(mean ± std over {n} seeds; spectrum measures on the training images)",
        ["loss", "projector", "probe acc., all labels (%)"]
        + ([f"probe acc., {probe_labels_per_class} label(s) per class (%)"] if few else [])
        + ["effective rank", "AUC", "collapsed dims (λ < 1e-5 λ₁)"], table_rows)
    sub = _digits.mean_std([r["subvector_accuracy"] for r in rows["DirectCLR"]])
    study.measurements.update({
        "stats": stats,
        "raw_pixel_accuracy": {"all_labels": raw, "few_labels": raw_few},
        "directclr_subvector_accuracy": sub,
        "seeds": seeds,
        "representation_dim": rep_dim,
    })

    # Claim 1: no projector collapses the representation most (effective rank).
    erank = {v: stats[v]["effective_rank"][0] for v in VARIANTS}
    others = [v for v in VARIANTS if v != "no projector"]
    lowest = min(others, key=lambda v: erank[v])
    study.claim(
        "Without a projector SimCLR collapses the representation most",
        "Fig. 7b",
        f"representation effective rank (of {rep_dim}) mean over {n} seeds: "
        + ", ".join(f"{v} {fmt(v, 'effective_rank')}" for v in VARIANTS)
        + "; collapsed dims: " + ", ".join(f"{v} {fmt(v, 'collapsed_dims')}" for v in VARIANTS)
        + ". Holds if no projector has the lowest mean effective rank of the four "
        f"(next lowest: {lowest}).",
        erank["no projector"] < erank[lowest])

    study.figure(_spectrum_figure(rows), "representation_spectrum.png",
                 "Fig. 7b analogue: log singular values of the representation (encoder "
                 f"output, training images), mean over {n} seeds with min-max band.")
    study.figure(_accuracy_figure(rows, score, f"{probe_name} accuracy (%)"), "linear_probe.png",
                 f"Table 1 analogue: {probe_name} accuracy (the one the claims read), mean ± "
                 f"std over {n} seeds.")

    def beats(better, worse, paper_claim, paper_ref):
        (m_b, s_b), (m_w, s_w) = stats[better][score], stats[worse][score]
        diff, noise = m_b - m_w, max(s_b, s_w)
        study.claim(
            paper_claim, paper_ref,
            f"{probe_name} accuracy {better} {100 * m_b:.1f} ± {100 * s_b:.1f}% vs {worse} "
            f"{100 * m_w:.1f} ± {100 * s_w:.1f}% ({n} seeds): difference "
            f"{100 * diff:+.1f} points. Holds if the difference is positive and larger "
            f"than the larger seed std ({100 * noise:.1f}).",
            diff > 0 and diff > noise)

    beats("DirectCLR", "no projector",
          "DirectCLR beats SimCLR without a projector (62.7 vs 51.5%)", "Table 1")
    beats("DirectCLR", "1-layer linear projector",
          "DirectCLR outperforms SimCLR with a 1-layer linear projector (62.7 vs 61.1%)",
          "Table 1")
    beats("2-layer nonlinear projector", "no projector",
          "A projector improves the representation (66.5% with 2-layer vs 51.5% without)",
          "Table 1")
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _settings(settings, rep_dim, n, dataset))
    study.log(f"DirectCLR probe on r[:d0] only: {100 * sub[0]:.1f} ± {100 * sub[1]:.1f}% "
              f"(whole r: {fmt('DirectCLR', 'accuracy', 100.0)}%)")
