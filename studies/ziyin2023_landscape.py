"""Ziyin et al. 2023 (arXiv 2210.00638): which directions linear InfoNCE keeps, by the paper's own theory and experiments.

The paper's linear set-up (its workshop version's Appendix A): data
``N(0, I_32)``, a linear ``f(x) = W x`` with ``d1 = d0 = 32``, views
``x + ε``, ``ε ~ N(0, σ² I)``, the squared-distance InfoNCE with no
temperature, its weighted form (the positive's term in the denominator times
``α``), Adam lr 6e-4, full batch, 5,000 iterations. Its theory
(:mod:`keras_collapse.theory.stationary`): at a stationary point ``WᵀW =
½ Σ⁻¹ (B − γ)_M Σ⁻¹`` with ``B = A0 − (1 − α) C / N``; a direction collapses
when ``b_i ≤ γ``; with normalisation it can collapse far earlier; a bias
matters only with normalisation, where it makes complete collapse possible.
Experiments (:mod:`keras_collapse.studies._ziyin_experiments`), each run
trained with ``SiameseModel.fit`` on ``kc.data.two_views`` of a fixed dataset
(fresh noise every iteration):

1. ``"infonce"``: InfoNCE against σ²: the smallest eigenvalues of ``WᵀW``
   against the theory's ``b/(2s²)``; never zero.
2. ``"weighted"``: weighted InfoNCE, α = 0.1, σ = 5, dataset size N swept,
   for both partitions (the loss as written, and the denominator padded with
   ``1 − α`` that the paper's expansion assumes); ``"curvature"``: the
   curvature at the origin by autodiff against the stated ``B``.
3. ``"normalisation"``: normalised InfoNCE (``f/‖f‖``): collapse at σ² far
   below the smallest data variance.
4. ``"weight_decay"``: the threshold ``b_i ≤ γ``, judged on the directions
   the run's length can resolve.
5. ``"bias"``: a bias without normalisation; ``"complete_collapse"``: with
   normalisation, whether the trivial solution is a minimum where the theory
   makes complete collapse possible (every ``b_i ≤ 0``).

Every claim's threshold is a gin-bound argument (``gin/ziyin2023_landscape.gin``
gives each one's reason). Experiments 1 and 4 run two optimizer readings: the
paper's (constant learning rate) and a cosine-annealed one (not the paper's),
which removes Adam's step noise from the stationary point.

Reference: Ziyin, Lubana, Ueda, Tanaka, "What Shapes the Loss Landscape of
Self-Supervised Learning?", ICLR 2023, arXiv 2210.00638.
"""

from __future__ import annotations

import functools

import gin
import keras
import numpy as np

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.studies import _harness, _ziyin_experiments, _ziyin_settings

EXPERIMENTS = ("infonce", "weighted", "curvature", "normalisation", "weight_decay", "bias",
               "complete_collapse")


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


def _flow_time(optimizer, variable, steps):
    """``Σ_t η_t / √v̂``: the run's length in gradient-flow time on `variable`.

    Adam divides each step by ``√v̂`` (its bias-corrected second moment), so
    near a stationary point it moves like gradient descent with rate
    ``η_t / √v̂``; the median over the kernel's entries is returned. For an
    optimizer without second moments, ``Σ_t η_t``.
    """
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        total = float(np.sum(np.asarray(schedule(np.arange(steps)))))
    else:
        total = float(np.asarray(optimizer.learning_rate)) * steps
    velocities = getattr(optimizer, "_velocities", None)
    if not velocities:
        return total
    v = np.asarray(velocities[optimizer._get_variable_index(variable)].numpy(), np.float64)
    v_hat = v / (1.0 - optimizer.beta_2 ** int(optimizer.iterations.numpy()))
    return total / float(np.median(np.sqrt(v_hat) + optimizer.epsilon))


def _train(study, key, x, noise_std, loss, optimizer, steps, seed, spectrum_every, basis,
           **encoder):
    """Full-batch training on views ``x + σ ε``; eigenvalues of ``WᵀW`` and more.

    Returns ``eig`` (ascending), ``along`` (``uᵀ WᵀW u`` for each column `u`
    of `basis`, the data's eigenvectors), ``init_median`` (median eigenvalue
    of the initial ``WᵀW``), ``flow_time`` (:func:`_flow_time`), the bias
    norm and the std of the normalised embeddings of `x`.
    """
    def compute():
        encoder_model = _encoder(x.shape[1], seed, **encoder)
        dense = encoder_model.get_layer("W")
        start = np.asarray(dense.kernel.numpy(), np.float64)  # Keras kernel = Wᵀ
        model = kc.models.SiameseModel(encoder_model)
        model.compile(optimizer(), loss, steps_per_execution=min(spectrum_every, steps))
        views = kc.data.two_views(x, kc.data.isotropic_noise(noise_std), batch_size=len(x),
                                  seed=seed, shuffle=False).repeat()
        model.fit(views, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[
            kc.guards.NonFiniteGuard(),  # first: no other callback sees a NaN step
            kc.callbacks.SpectrumLogger(x, study.tensorboard_dir(key),
                                        every_n_steps=spectrum_every,
                                        prefix=_harness.PER_STEP),
            study.progress(key)])
        kernel = np.asarray(dense.kernel.numpy(), np.float64)
        gram = kernel @ kernel.T  # WᵀW
        z = np.asarray(model.embed(x), np.float64)
        return {"eig": np.sort(np.linalg.eigvalsh(gram)),
                "along": np.einsum("ik,ij,jk->k", basis, gram, basis),
                "init_median": float(np.median(np.linalg.eigvalsh(start @ start.T))),
                "flow_time": _flow_time(model.optimizer, dense.kernel, steps),
                "bias_norm": float(np.linalg.norm(dense.bias.numpy())) if encoder.get(
                    "use_bias") else 0.0,
                "normalized_std": float(kc.metrics.normalized_std(z))}
    return study.unit(key, compute)


class Context:
    """What every experiment shares: the study, its settings, the runner, the data.

    Attributes:
        study: The :class:`keras_collapse.studies._harness.Study`.
        cfg: The entry function's arguments (a dict).
        readings: ``{"constant": factory, "cosine": factory}``: the paper's
            optimizer and the same one with a cosine-annealed learning rate.
    """

    def __init__(self, study, cfg):
        self.study = study
        self.cfg = cfg
        optimizer, steps = cfg["optimizer"], cfg["steps"]
        start = optimizer().learning_rate
        start = float(start.numpy()) if hasattr(start, "numpy") else float(start)
        self.readings = {"constant": optimizer, "cosine": functools.partial(
            optimizer, learning_rate=keras.optimizers.schedules.CosineDecay(start, steps))}
        self._data = {}

    def dataset(self, n):
        """The draw of `n` points, its data eigenvalues (ascending) and eigenvectors."""
        if n not in self._data:
            x = np.asarray(self.cfg["data"](n, self.cfg["dim"], seed=self.cfg["seed"]),
                           np.float32)
            self._data[n] = (x, *np.linalg.eigh(np.cov(x.T.astype(np.float64), bias=True)))
        return self._data[n]

    def loss(self, alpha=1.0, partition="weighted"):
        """The study's loss with positive weight α and the given partition."""
        return self.cfg["loss"](positive_weight=alpha, partition=partition)

    def train(self, key, n, noise_variance, loss, reading="constant", **encoder):
        """One unit: :func:`_train` on the dataset of `n` points."""
        x, _, vectors = self.dataset(n)
        cfg = self.cfg
        return _train(self.study, key, x, np.sqrt(noise_variance), loss,
                      self.readings[reading], cfg["steps"], cfg["seed"],
                      cfg["spectrum_every"], vectors, **encoder)


@gin.configurable
def ziyin2023_landscape(
    study,
    data=kc.data.synthetic_gaussian,
    loss=functools.partial(kc.losses.InfoNCE, 1.0, "gaussian", symmetric=False),
    optimizer=functools.partial(keras.optimizers.Adam, learning_rate=6e-4),
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
    complete_collapse_multiples=(0.5, 2.0),
    complete_collapse_training=True,
    collapse_ratio=1e-3,
    expansion_limit=0.125,
    eigenvalue_tolerance=0.25,
    curvature_tolerance=0.25,
    far_below=0.5,
    bias_tolerance=1e-3,
    sign_standard_errors=4.0,
    curvature_batches=256,
    spectrum_every=500,
    experiments=EXPERIMENTS,
    seed=None,
):
    """The paper's three linear experiments plus weight decay and bias.

    Args:
        study: The :class:`keras_collapse.studies._harness.Study` context.
        data: ``data(n, dim, seed=...)`` giving the dataset (the paper:
            ``N(0, I)``, :func:`keras_collapse.data.synthetic_gaussian`).
        loss: ``loss(positive_weight=α, partition=...)`` giving the objective:
            the weighted squared-distance InfoNCE (``kc.losses.InfoNCE`` bound
            to ``similarity='gaussian'``, ``temperature=1``, one direction).
        optimizer: ``optimizer()`` giving a fresh optimizer per run (Adam
            6e-4); ``optimizer(learning_rate=schedule)`` gives the annealed
            reading.
        dim: Input and embedding width (32).
        num_samples: Dataset size N of experiments 3-5 (not stated; 100 gives
            the smallest data eigenvalue of about 0.2 that the paper quotes).
        steps: Full-batch iterations per run (5,000).
        noise_variances: σ² of experiment 1.
        sweep_num_samples: Dataset size of experiment 1 (not stated).
        weighted_alpha: α of experiments 2 and 5 (0.1).
        weighted_noise_std: σ of experiment 2 (5).
        dataset_sizes: N of experiment 2 (the paper sweeps about 60-130).
        normalized_noise_variances: σ² of experiment 3.
        weight_decays: γ (penalty γ‖W‖²) of experiment 4.
        weight_decay_noise_variance: σ² of experiments 4 and 5's bias runs.
        complete_collapse_multiples: σ² of experiment 5's complete-collapse
            runs, as multiples of the critical σ² above which every ``b_i ≤ 0``.
        complete_collapse_training: Also train (and report, not judge) the
            normalised models with and without a bias at those σ²; the claim
            reads the curvature at the trivial solution.
        collapse_ratio: An eigenvalue of ``WᵀW`` counts as collapsed below this
            fraction of the largest; complete collapse is a std of the
            normalised embeddings below its square root times the isotropic
            std (an amplitude, where eigenvalues are squared amplitudes).
        expansion_limit: Experiment 1 judges ``b/(2s²)`` at the σ² where the
            expansion's small parameter ``u = b/(2s)`` of the three smallest
            directions is at most this.
        eigenvalue_tolerance: Allowed relative error of the measured smallest
            eigenvalues against ``b/(2s²)`` there.
        curvature_tolerance: Allowed relative error of the measured curvature
            shift against the paper's ``2(1 − α) σ² / N``.
        far_below: "Far below the data variance" means σ² at most this
            fraction of the smallest data eigenvalue.
        bias_tolerance: Largest relative change of an eigenvalue of ``WᵀW``
            that a bias may cause without normalisation.
        sign_standard_errors: A sampled curvature's sign counts as decided
            when the curvature is this many standard errors from 0.
        curvature_batches: Noise draws for the autodiff curvature.
        spectrum_every: Steps between TensorBoard spectra.
        experiments: Which experiments to run (names in ``EXPERIMENTS``).
        seed: Seed of data, init and noise. Defaults to `None`: the
            experiment's seed.
    """
    seed = study.seed if seed is None else seed
    for name in ("data", "loss", "optimizer"):
        if not callable(locals()[name]):
            raise _checks.invalid(name, "a callable (a gin configurable)", locals()[name], TypeError)
    unknown = sorted(set(experiments) - set(EXPERIMENTS))
    if unknown or not experiments:
        raise _checks.invalid("experiments", f"a non-empty subset of {EXPERIMENTS}", experiments)
    _checks.non_negative_float("weighted_alpha", weighted_alpha)
    cfg = {key: value for key, value in locals().items() if key not in ("study", "name",
                                                                       "unknown")}
    ctx = Context(study, cfg)
    for name in EXPERIMENTS:
        if name in experiments:
            getattr(_ziyin_experiments, name)(ctx)
    study.table("Settings: the paper's and this run's", ["setting", "paper", "this run", "why"],
                _ziyin_settings.rows(ctx))
