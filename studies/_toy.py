"""Shared toy code for the linear-network collapse studies (private).

Deep linear nets as ``keras.Sequential`` stacks of bias-free ``Dense`` layers,
the initialisation of Jing et al.'s ``case_2.py``, Gaussian data with additive
view noise, and the training that records, every ``record_every`` steps, the singular values of each kernel, the embedding
covariance eigenvalues on a fixed probe set and the layer alignment score:
training is ``SiameseModel.fit`` with ``kc.callbacks.SpectraHistory``.

Convention: a Keras kernel ``K`` (shape `(d_in, d_out)`) is the paper's ``Wᵀ``.

Used by ``jing2022_strong_augmentation``, ``jing2022_implicit_regularization``
(arXiv 2110.09348) and ``werank2023`` (arXiv 2402.09586).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse.studies import _harness

INITS = ("authors", "torch", "glorot")


def authors_kernel(dim, rng):
    """Jing et al.'s ``case_2.py`` init as a Keras kernel `(dim, dim)`.

    ``W = U diag(exp(−0.35 i)) V`` with ``U, V`` from the SVD of a uniform
    [0, 1) matrix; returns ``Wᵀ``.
    """
    u, _, v = np.linalg.svd(rng.uniform(size=(dim, dim)))
    w = u @ np.diag(np.exp(-0.35 * np.arange(dim))) @ v
    return w.T.astype("float32")


def linear_net(depth, dim=16, init="authors", seed=0, werank=0.0, activation=None,
               name="encoder", use_bias=False, regularizer=None):
    """A stack of `depth` ``Dense(dim)`` layers (bias-free by default), built on `(None, dim)`.

    Args:
        depth: Number of layers L.
        dim: Width (input = hidden = output). Defaults to `16`.
        init: `"authors"` (case_2.py), `"torch"` (PyTorch ``Linear`` default,
            U(±1/√dim), as in case_1.py) or `"glorot"`. Defaults to `"authors"`.
        seed: Seed of the initial weights. Defaults to `0`.
        werank: WERank coefficient α on every kernel (0 = none). Defaults to `0.0`.
        regularizer: A kernel regularizer for every layer instead (e.g. a
            gin-bound ``kc.regularizers.WERank``), or `None`. Defaults to `None`.
        activation: Activation between layers (not after the last). Defaults to `None`.
        name: Model name.
        use_bias: Give each layer a bias (``case_1.py``'s ``nn.Linear`` has
            one; initialised U(±1/√dim) like PyTorch's, zeros otherwise).
            Defaults to `False`.

    Returns:
        ``keras.Sequential``.
    """
    if init not in INITS:
        raise kc._checks.invalid("init", f"one of {INITS}", init)
    rng = np.random.default_rng(seed)
    layers = [keras.Input((dim,))]
    for index in range(depth):
        layers.append(keras.layers.Dense(
            dim, use_bias=use_bias, name=f"W{index + 1}",
            activation=activation if index < depth - 1 else None,
            kernel_initializer=keras.initializers.GlorotUniform(seed + index),
            kernel_regularizer=regularizer if regularizer is not None
            else kc.regularizers.WERank(werank) if werank > 0 else None))
    model = keras.Sequential(layers, name=name)
    for layer in model.layers:
        if init == "authors":
            layer.kernel.assign(authors_kernel(dim, rng))
        elif init == "torch":
            bound = 1.0 / np.sqrt(dim)
            layer.kernel.assign(rng.uniform(-bound, bound, (dim, dim)).astype("float32"))
            if use_bias:
                layer.bias.assign(rng.uniform(-bound, bound, (dim,)).astype("float32"))
    return model


def kernels(model):
    """The paper's matrices ``W_l = K_lᵀ`` of every Dense layer, float64 `(d_out, d_in)`."""
    return [np.asarray(layer.kernel.numpy(), np.float64).T
            for layer in model.layers if isinstance(layer, keras.layers.Dense)]


class Objective:
    """What :func:`train` fits: a ``SiameseModel`` of `model` and its loss.

    Args:
        model: The encoder (a linear net of :func:`linear_net`).
        loss: A kc pair loss.
        predictor: Optional predictor layer (BYOL-style models).
    """

    def __init__(self, model, loss, predictor=None):
        self.model = model
        self.loss = loss
        self.siamese = kc.models.SiameseModel(model, predictor=predictor)


def pair_objective(model, loss):
    """``mean(loss(f(x_a), f(x_b)))`` plus `model`'s regularizer penalties."""
    return Objective(model, loss)


def ema_objective(model, momentum=0.995):
    """BYOL-style student/teacher: ``kc.losses.BYOL`` with a momentum target.

    The student ``f`` (the given model) has a bias-free linear predictor
    (identity at init); the teacher is the EMA copy ``θ̄ ← m θ̄ + (1 − m) θ``
    that ``SiameseModel`` keeps for BYOL. Regularizer penalties of ``f`` are
    added (WERank). The WERank paper only says "similar to BYOL"; this is our
    reading of it.
    """
    dim = model.output_shape[-1]
    predictor = keras.layers.Dense(dim, use_bias=False, name="predictor",
                                   kernel_initializer="identity")
    return Objective(model, kc.losses.BYOL(momentum), predictor)


def noise_std(dim=16, noisy_dims=8, std=1.0):
    """Per-coordinate noise std: 0 on the first ``dim − noisy_dims``, `std` after."""
    return np.sqrt(np.diag(kc.data.block_noise_covariance(dim, noisy_dims, std ** 2)))


def views(data, std, batch_size=None, seed=0, replace=True):
    """Endless ``((x + std ⊙ ε, x + std ⊙ ε'),)`` batches, fresh noise per view and step.

    Args:
        data: Training inputs `(n, d)`.
        std: Noise standard deviation per coordinate `(d,)` (or a scalar).
        batch_size: Rows drawn at random each step; `None` = the full batch.
            Defaults to `None`.
        seed: Seed of the rows and the noise. Defaults to `0`.
        replace: Draw each batch's rows with replacement (`True`), or as
            `batch_size` distinct rows, a uniformly random subset drawn afresh
            every step (`False`: Jing et al.'s ``case_1.py`` / ``case_2.py``,
            ``np.random.choice(10000, 128, replace=False)`` each iteration).
            Defaults to `True`.

    Returns:
        An infinite ``tf.data.Dataset`` for ``SiameseModel.fit``.
    """
    data = np.asarray(data, np.float32)
    n, dim = data.shape
    std = np.broadcast_to(np.asarray(std, np.float64), (dim,))
    x = tf.constant(data)
    if batch_size is None:
        rows = tf.data.Dataset.from_tensors(x).repeat()
    elif replace:
        rows = tf.data.Dataset.random(seed=seed).batch(int(batch_size)).map(
            lambda r: tf.gather(x, r % n))
    else:
        if not 0 < int(batch_size) <= n:
            raise kc._checks.invalid("batch_size", f"at most the {n} rows of `data` when "
                                     "replace=False", batch_size)
        # The indices of the `batch_size` largest of n i.i.d. uniforms: a
        # uniformly random subset of distinct rows, new at every step.
        rows = tf.data.Dataset.counter().map(lambda step: tf.gather(x, tf.math.top_k(
            tf.random.stateless_uniform([n], tf.stack([tf.cast(seed, tf.int64), step])),
            int(batch_size)).indices))
    noise = kc.data.gaussian_noise(np.diag(std ** 2))
    steps = tf.data.Dataset.random(seed=seed + 1)
    return tf.data.Dataset.zip((steps, rows)).map(
        kc.data.views_map_fn(noise, None, seed)).prefetch(tf.data.AUTOTUNE)


def train(objective, data, std, steps, optimizer, batch_size=None, record_every=100,
          probe=None, seed=0, log_dir=None, replace=True, callbacks=()):
    """``SiameseModel.fit`` on :func:`views`, recording spectra as it goes.

    Args:
        objective: An :class:`Objective` (:func:`pair_objective`,
            :func:`ema_objective`).
        data: Training inputs `(n, d)`.
        std: Noise standard deviation per coordinate `(d,)` (or a scalar).
        steps: Number of optimizer steps.
        optimizer: A Keras optimizer.
        batch_size: Minibatch size; `None` = full batch. Defaults to `None`.
        record_every: Record the spectra every this many steps (and at 0 and
            the end); also ``steps_per_execution``. Defaults to `100`.
        probe: Inputs `(m, d)` for the embedding covariance. Defaults to `data`.
        seed: Seed of batches and noise. Defaults to `0`.
        log_dir: TensorBoard directory (``kc.callbacks.SpectrumLogger``) or `None`.
        replace: Rows of a batch drawn with replacement, or distinct (see
            :func:`views`). Defaults to `True`.
        callbacks: More Keras callbacks, called last (e.g. `Study.progress`).
            Defaults to `()`.

    Returns:
        dict of lists (:class:`keras_collapse.callbacks.SpectraHistory`):
        ``step``, ``sv`` (per record, per layer, the singular values of
        ``W_l``), ``eig`` (embedding covariance eigenvalues), ``alignment``
        (mean |diag(V_{l+1}ᵀ U_l)| per pair), and ``kernels`` (final ``W_l``
        matrices, paper convention).
    """
    probe = np.asarray(data if probe is None else probe, np.float32)
    every = min(int(record_every), int(steps))
    model = objective.siamese
    model.compile(optimizer, objective.loss, steps_per_execution=every)
    spectra = kc.callbacks.SpectraHistory(probe, every_n_steps=every)
    loggers = [kc.callbacks.SpectrumLogger(
        probe, log_dir, every_n_steps=max(every, steps // 100), images_every_n_logs=25,
        prefix=_harness.PER_STEP)] if log_dir else []
    model.fit(views(data, std, batch_size, seed, replace), epochs=1, steps_per_epoch=int(steps),
              verbose=0, callbacks=[kc.guards.NonFiniteGuard(), spectra, *loggers, *callbacks])
    history = dict(spectra.history)
    history["kernels"] = kernels(objective.model)
    return history


#: Label of the colour bar of :func:`rank_lines`; the papers' k is the noise
#: (Jing et al.'s std, WERank's variance), so the rank index is i.
RANK_INDEX = "rank index i (1 = largest)"


def rank_lines(ax, steps, values):
    """One line per column of `values` `(records, ranks)` against `steps`,
    coloured by its rank index on one colormap (16 lines in matplotlib's
    10 repeating colours cannot be told apart). Returns the mappable for
    ``fig.colorbar(..., label=RANK_INDEX)``."""
    values = np.asarray(values)
    norm = matplotlib.colors.Normalize(1, max(values.shape[1], 2))
    cmap = matplotlib.colormaps["viridis"]
    for index in range(values.shape[1]):
        ax.plot(steps, values[:, index], lw=0.9, color=cmap(norm(index + 1)))
    return ScalarMappable(norm, cmap)


def history_figure(history, title, panels=None):
    """Fig. 5 analogue: log σ_i of each W_l and log λ_i of the embedding vs step,
    coloured by rank index i.

    Args:
        history: A (JSON-loaded) result of :func:`train`.
        title: Figure title.
        panels: Which layers' singular values to draw (indices). Defaults to all.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    steps = np.asarray(history["step"])
    sv = np.asarray(history["sv"], np.float64)  # (records, layers, dim)
    panels = range(sv.shape[1]) if panels is None else panels
    series = [(f"W{p + 1}: log σ_i", np.log(np.maximum(sv[:, p], 1e-300))) for p in panels]
    series.append(("embedding: log λ_i",
                   np.log(np.maximum(np.asarray(history["eig"], np.float64), 1e-300))))
    fig = Figure(figsize=(4.0 * len(series) + 0.5, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, len(series), index + 1) for index in range(len(series))]
    for ax, (label, values) in zip(axes, series):
        colours = rank_lines(ax, steps, values)
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=9)
    fig.colorbar(colours, ax=axes, label=RANK_INDEX, pad=0.01, aspect=30)
    fig.suptitle(title, fontsize=10)
    return fig


def final_log_eig(history):
    """Natural log of the final embedding eigenvalues (descending), floored at 1e-300."""
    return np.log(np.maximum(np.asarray(history["eig"][-1], np.float64), 1e-300))

