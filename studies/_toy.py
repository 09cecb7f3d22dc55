"""Shared toy code for the linear-network collapse studies (private).

Deep linear nets as ``keras.Sequential`` stacks of bias-free ``Dense`` layers,
the initialisation of Jing et al.'s ``case_2.py``, Gaussian data with additive
view noise, and a fast ``tf.function`` training loop that records, every
``record_every`` steps, the singular values of each kernel, the embedding
covariance eigenvalues on a fixed probe set and the layer alignment score.

Convention: a Keras kernel ``K`` (shape `(d_in, d_out)`) is the paper's ``Wᵀ``.

Used by ``jing2022_strong_augmentation``, ``jing2022_implicit_regularization``
(arXiv 2110.09348) and ``werank2023`` (arXiv 2402.09586).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse._quiet import quiet_retracing

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
               name="encoder"):
    """A stack of `depth` bias-free ``Dense(dim)`` layers, built on inputs `(None, dim)`.

    Args:
        depth: Number of layers L.
        dim: Width (input = hidden = output). Defaults to `16`.
        init: `"authors"` (case_2.py), `"torch"` (PyTorch ``Linear`` default,
            U(±1/√dim), as in case_1.py) or `"glorot"`. Defaults to `"authors"`.
        seed: Seed of the initial weights. Defaults to `0`.
        werank: WERank coefficient α on every kernel (0 = none). Defaults to `0.0`.
        activation: Activation between layers (not after the last). Defaults to `None`.
        name: Model name.

    Returns:
        ``keras.Sequential``.
    """
    if init not in INITS:
        raise ValueError(f"Invalid value for argument `init`. Expected one of {INITS}. "
                         f"Received: init={init!r}")
    rng = np.random.default_rng(seed)
    layers = [keras.Input((dim,))]
    for index in range(depth):
        layers.append(keras.layers.Dense(
            dim, use_bias=False, name=f"W{index + 1}",
            activation=activation if index < depth - 1 else None,
            kernel_initializer=keras.initializers.GlorotUniform(seed + index),
            kernel_regularizer=kc.regularizers.WERank(werank) if werank > 0 else None))
    model = keras.Sequential(layers, name=name)
    for layer in model.layers:
        if init == "authors":
            layer.kernel.assign(authors_kernel(dim, rng))
        elif init == "torch":
            bound = 1.0 / np.sqrt(dim)
            layer.kernel.assign(rng.uniform(-bound, bound, (dim, dim)).astype("float32"))
    return model


def kernels(model):
    """The paper's matrices ``W_l = K_lᵀ`` of every Dense layer, float64 `(d_out, d_in)`."""
    return [np.asarray(layer.kernel.numpy(), np.float64).T
            for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def product(weights):
    """``W_L ⋯ W_1`` of a list ``[W_1, …, W_L]``."""
    total = weights[0]
    for w in weights[1:]:
        total = w @ total
    return total


class PairObjective:
    """``mean(loss(f(x_a), f(x_b))) + Σ regularizer penalties`` for a kc pair loss."""

    def __init__(self, model, loss):
        self.model = model
        self.loss = loss
        self.trainable_variables = model.trainable_variables

    def __call__(self, x_a, x_b):
        value = tf.reduce_mean(self.loss(self.model(x_a), self.model(x_b)))
        return value + tf.add_n([tf.constant(0.0)] + list(self.model.losses))

    def after_step(self):
        pass


class EMAObjective:
    """BYOL-style student/teacher: ``byol((p(f(x_a)), f̄(x_b)), (p(f(x_b)), f̄(x_a)))``.

    The student ``f`` (the given model) has a bias-free linear predictor ``p``
    (identity init); the teacher ``f̄`` is a copy updated as
    ``θ̄ ← m θ̄ + (1 − m) θ`` after each step. Regularizer penalties of ``f`` are
    added (WERank). The WERank paper only says "similar to BYOL"; this is our
    reading of it.
    """

    def __init__(self, model, momentum=0.995):
        self.model = model
        self.momentum = momentum
        dim = model.output_shape[-1]
        self.predictor = keras.layers.Dense(dim, use_bias=False, name="predictor",
                                            kernel_initializer="identity")
        self.predictor.build((None, dim))
        self.teacher = keras.models.clone_model(model)
        self.teacher.set_weights(model.get_weights())
        self.trainable_variables = model.trainable_variables + self.predictor.trainable_variables

    def __call__(self, x_a, x_b):
        t_a = tf.stop_gradient(self.teacher(x_a))
        t_b = tf.stop_gradient(self.teacher(x_b))
        p_a = self.predictor(self.model(x_a))
        p_b = self.predictor(self.model(x_b))
        value = tf.reduce_mean(kc.losses.byol((p_a, t_b), (p_b, t_a)))
        return value + tf.add_n([tf.constant(0.0)] + list(self.model.losses))

    def after_step(self):
        for target, online in zip(self.teacher.weights, self.model.weights):
            target.assign(self.momentum * target + (1.0 - self.momentum) * online)


def noise_std(dim=16, noisy_dims=8, std=1.0):
    """Per-coordinate noise std: 0 on the first ``dim − noisy_dims``, `std` after."""
    return np.sqrt(np.diag(kc.data.block_noise_covariance(dim, noisy_dims, std ** 2)))


def embedding_spectrum(model, probe):
    """Eigenvalues (descending) of the covariance of ``model(probe)``."""
    z = np.asarray(model(probe), np.float64)
    return kc.metrics.covariance_spectrum(z)


def train(objective, data, std, steps, optimizer, batch_size=None, record_every=100,
          probe=None, seed=0, log_dir=None):
    """Train on views ``x + std ⊙ ε`` (ε ~ N(0, I), fresh per view and step).

    Args:
        objective: A :class:`PairObjective` or :class:`EMAObjective`.
        data: Training inputs `(n, d)`.
        std: Noise standard deviation per coordinate `(d,)` (or a scalar).
        steps: Number of optimizer steps.
        optimizer: A Keras optimizer.
        batch_size: Minibatch size (sampled uniformly with replacement, as the
            authors' code does); `None` = full batch. Defaults to `None`.
        record_every: Record the spectra every this many steps (and at 0 and
            the end). Defaults to `100`.
        probe: Inputs `(m, d)` for the embedding covariance. Defaults to `data`.
        seed: Seed of batches and noise. Defaults to `0`.
        log_dir: TensorBoard directory for scalars (or `None`).

    Returns:
        dict of lists: ``step``, ``loss``, ``sv`` (per record, per layer, the
        singular values of ``W_l``), ``eig`` (embedding covariance
        eigenvalues), ``alignment`` (mean |diag(V_{l+1}ᵀ U_l)| per pair) and
        ``kernels`` (final ``W_l`` matrices, paper convention).
    """
    model = objective.model
    data = tf.constant(np.asarray(data, np.float32))
    probe = data if probe is None else np.asarray(probe, np.float32)
    std = tf.constant(np.broadcast_to(np.asarray(std, np.float32), (data.shape[1],)))
    generator = tf.random.Generator.from_seed(seed)
    n, dim = data.shape
    size = n if batch_size is None else int(batch_size)
    variables = objective.trainable_variables

    @tf.function
    @quiet_retracing  # one traced loop per model, by design (see kc._quiet)
    def chunk(count):
        total = tf.constant(0.0)
        for _ in tf.range(count):
            if batch_size is None:
                x = data
            else:
                x = tf.gather(data, generator.uniform((size,), 0, n, dtype=tf.int32))
            x_a = x + std * generator.normal((size, dim))
            x_b = x + std * generator.normal((size, dim))
            with tf.GradientTape() as tape:
                value = objective(x_a, x_b)
            optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
            objective.after_step()
            total += value
        return total / tf.cast(count, tf.float32)

    history = {"step": [], "loss": [], "sv": [], "eig": [], "alignment": []}
    writer = tf.summary.create_file_writer(log_dir) if log_dir else None

    def record(step, loss):
        weights = kernels(model)
        svs = [np.linalg.svd(w, compute_uv=False) for w in weights]
        eig = embedding_spectrum(model, probe)
        align = [kc.metrics.alignment_score(kc.metrics.alignment_matrix(a, b))
                 for a, b in zip(weights, weights[1:])]
        for key, value in (("step", step), ("loss", loss), ("sv", svs), ("eig", eig),
                           ("alignment", align)):
            history[key].append(value)
        if writer is not None:
            with writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("embedding/effective_rank",
                                  kc.metrics.spectral_entropy_rank(np.sqrt(np.maximum(eig, 0))))
                for k, value in enumerate(kc.metrics.log_spectrum(eig)):
                    tf.summary.scalar(f"embedding/log_eigenvalue_{k:02d}", value)
                for layer, s in enumerate(svs):
                    for k, value in enumerate(np.log(np.maximum(s, 1e-300))):
                        tf.summary.scalar(f"W{layer + 1}/log_singular_value_{k:02d}", value)
                for pair, value in enumerate(align):
                    tf.summary.scalar(f"alignment/W{pair + 1}_W{pair + 2}", value)

    record(0, float("nan"))
    done = 0
    while done < steps:
        count = min(record_every, steps - done)
        loss = float(chunk(tf.constant(count)))
        if not math.isfinite(loss):
            learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            raise kc.guards.NonFiniteLossError(
                f"Non-finite training loss ({loss}) in steps {done + 1}-{done + count} of "
                f"{steps}. Objective: {type(objective).__name__} of "
                f"{getattr(objective, 'loss', objective)!r}; optimizer "
                f"{type(optimizer).__name__}, learning rate {learning_rate:g}. Likely "
                "cause: the learning rate is too large for this objective (lower it in "
                "the study's gin bindings).",
                step=done + count, loss=loss, objective=type(objective).__name__,
                causes=["learning rate too large"])
        done += count
        record(done, loss)
    if writer is not None:
        writer.flush()
    history["kernels"] = kernels(model)
    return history


def history_figure(history, title, panels=None):
    """Fig. 5 analogue: log σ_k of each W_l and log λ_k of the embedding vs step.

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
    series = [(f"W{p + 1}: log σ_k", np.log(np.maximum(sv[:, p], 1e-300))) for p in panels]
    series.append(("embedding: log λ_k",
                   np.log(np.maximum(np.asarray(history["eig"], np.float64), 1e-300))))
    fig = Figure(figsize=(4.0 * len(series), 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    for index, (label, values) in enumerate(series):
        ax = fig.add_subplot(1, len(series), index + 1)
        ax.plot(steps, values, lw=0.9)
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def final_log_eig(history):
    """Natural log of the final embedding eigenvalues (descending), floored at 1e-300."""
    return np.log(np.maximum(np.asarray(history["eig"][-1], np.float64), 1e-300))

