"""Local geometry of SSL losses at the origin for linear models.

Ziyin, Lubana, Ueda, Tanaka, "What Shapes the Loss Landscape of
Self-Supervised Learning?", ICLR 2023 (arXiv 2210.00638). The paper's thesis
is that the landscape of a linear model `z = W x` around `W = 0` decides which
input directions are learned and which collapse. Only the paper's abstract
and introduction are available to this project, so the expansions below are
derived here (and checked numerically in ``tests/test_theory_landscape.py``).

Setting. Two views of an example are `x' = x + ξ`, `x'' = x + ξ'` with
`x ~ (0, diag(s))` and independent augmentations `ξ, ξ' ~ (0, diag(a))`:
`s_k` is the data variance and `a_k` the augmentation variance of input
direction `u_k`. The embeddings are `z = W x'` with `W ∈ R^{m×d}`, and weight
decay adds `γ ‖W‖_F²` to the loss.

Curvature of direction `k`. Perturb the origin along the rank-1 matrix
`W(ε) = ε e u_kᵀ` (`e` a unit vector of `R^m`); every embedding is then
`z = ε y e` with the scalar `y = x'_k` (cross-view covariance `E[y y'] = s_k`,
within-view variance `E[y²] = s_k + a_k`). The curvature is
`κ_k = d²/dε² E[L(W(ε))] |_{ε=0} + 2γ`; the direction is predicted *learned*
when `κ_k < 0` (the origin is unstable along it, so gradient descent from a
small initialisation grows it) and *collapsed* otherwise. Closed forms, with
`N` the batch size (all derived by keeping the `O(ε²)` terms):

* Spectral contrastive, `L = −2 E[z·z'] + E_{i≠j}[(z_i·z'_j)²]`: the second
  term is `O(ε⁴)`, so `κ_k = −4 s_k + 2γ`.
* InfoNCE, dot form (`logits z_i·z'_j / τ`): `log Σ_j e^{q_j} = log N +
  mean_j q_j + O(q²)` gives `ℓ_i ≈ log N − q_ii + mean_j q_ij` and, because
  only `j = i` is correlated, `E ℓ = log N − (1 − 1/N) ε² s_k / τ`:
  `κ_k = −2 (1 − 1/N) s_k / τ + 2γ`.
* InfoNCE, Gaussian form (`logits −‖z_i − z_j‖² / 2τ`): the positive costs
  `E‖z − z'‖²/2τ = ε² a_k / τ` but the `N − 1` negatives, each
  `ε² (s_k + a_k) / τ`, pay the augmentation back, leaving the same
  `κ_k = −2 (1 − 1/N) s_k / τ + 2γ`. So at second order the augmentation
  variance cancels from both InfoNCE forms: it only enters at `O(ε⁴)`
  (the height and position of the minimum, not the sign of the curvature).
* Barlow Twins (per-dimension standardisation with `ε_BN = 1e-5` and the
  biased variance): for `ε² (s + a) ≪ ε_BN` the standardised embeddings are
  `z / √ε_BN`, `C_jj ≈ ε² e_j² ŝ / ε_BN` with `E ŝ = (1 − 1/N) s_k`, and
  `Σ_j (1 − C_jj)² ≈ m − 2 Σ_j C_jj`: `κ_k = −4 (1 − 1/N) s_k / ε_BN + 2γ`.
  Without `ε_BN` the loss is scale invariant and singular at the origin; the
  epsilon is what makes the curvature finite (and huge): every direction with
  `s_k > 0` is learned for any practical `γ`.
* VICReg (`λ, μ, ν` weights, `ε_V` inside the square root, unbiased
  variance): invariance `λ mean((z − z')²) = 2 λ a_k ε² / m`; the hinge
  `relu(1 − √(Var + ε_V))` with `√(ε_V + t) ≈ √ε_V + t / (2√ε_V)` gives
  `−μ ε² (s_k + a_k) / (2 m √ε_V)`; the covariance term is `O(ε⁴)`:
  `κ_k = [4 λ a_k − μ (s_k + a_k) / √ε_V] / m + 2γ`. The variance hinge
  rewards *any* variance, augmentation included.
* NT-Xent normalises the embeddings, so the loss is scale invariant and has
  no curvature at the origin; the implemented normaliser `z / max(‖z‖, 1e-6)`
  makes it behave like a dot-form InfoNCE with an enormous scale inside
  `‖z‖ < 1e-6`: with `h = z / δ`, `δ = 1e-6`, the same expansion over the
  `2N − 1` candidates (one positive) gives
  `κ_k = −2 (1 − 1/(2N − 1)) s_k / (τ δ²) + 2γ`. This is an artefact of the
  normaliser's floor, not a property of NT-Xent: it says only that every
  direction with `s_k > 0` leaves the origin, whatever `γ` and `a_k`.

For losses singular at the origin, :func:`curvature_at_origin` also offers
the secant curvature on a small sphere, `2 (E L(r e u_kᵀ) − E L(0)) / r²`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_collapse import _checks

__all__ = [
    "BARLOW_TWINS_EPSILON",
    "CLOSED_FORM_LOSSES",
    "NORMALIZE_FLOOR",
    "agreement_rate",
    "closed_form_curvature",
    "curvature_at_origin",
    "direction_norms",
    "gaussian_views",
    "learned_directions",
    "predict_learned",
]

# Epsilon inside the batch standardisation of kc.losses.barlow_twins.
BARLOW_TWINS_EPSILON = 1e-5

CLOSED_FORM_LOSSES = ("spectral_contrastive", "info_nce", "nt_xent", "barlow_twins", "vicreg")

# Floor of the norm in kc.losses ℓ2 normalisation (sqrt of its 1e-12 epsilon).
NORMALIZE_FLOOR = 1e-6


def _variances(name, value, dim=None):
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != 1 or value.size == 0 or np.any(~np.isfinite(value)) or np.any(value < 0):
        raise _checks.invalid(name, "a non-empty 1-D array of non-negative variances",
                              value.tolist() if value.ndim <= 1 else value.shape)
    if dim is not None and value.size != dim:
        raise _checks.invalid(name, f"{dim} variances (one per input direction)",
                              value.tolist())
    return value


def gaussian_views(data_variance, augmentation_variance, batch_size=256, num_batches=1,
                   seed=0):
    """Sample two augmented views of diagonal-Gaussian data.

    `x ~ N(0, diag(s))`, `x' = x + ξ`, `x'' = x + ξ'`, `ξ, ξ' ~ N(0, diag(a))`.

    Args:
        data_variance: `(dim,)` non-negative data variances `s_k`.
        augmentation_variance: `(dim,)` non-negative augmentation variances
            `a_k` (a scalar is broadcast).
        batch_size: Examples per batch. Defaults to `256`.
        num_batches: Number of batches. Defaults to `1`.
        seed: Integer seed. Defaults to `0`.

    Returns:
        `(views_a, views_b)`, each float32 of shape
        `(num_batches, batch_size, dim)`.

    Example:

    >>> a, b = gaussian_views([1.0, 0.0], [0.0, 1.0], batch_size=4, num_batches=2)
    >>> a.shape, bool(np.all(a[..., 0] == b[..., 0]))
    ((2, 4, 2), True)
    """
    s = _variances("data_variance", data_variance)
    a = np.broadcast_to(np.asarray(augmentation_variance, np.float64), s.shape)
    a = _variances("augmentation_variance", np.array(a), s.size)
    batch_size = _checks.positive_int("batch_size", batch_size)
    num_batches = _checks.positive_int("num_batches", num_batches)
    rng = np.random.default_rng(int(seed))
    shape = (num_batches, batch_size, s.size)
    x = rng.standard_normal(shape) * np.sqrt(s)
    views_a = x + rng.standard_normal(shape) * np.sqrt(a)
    views_b = x + rng.standard_normal(shape) * np.sqrt(a)
    return views_a.astype(np.float32), views_b.astype(np.float32)


def _directions(directions, dim):
    if directions is None:
        return np.eye(dim, dtype=np.float32)
    directions = np.asarray(directions, dtype=np.float32)
    if directions.ndim != 2 or directions.shape[0] != dim:
        raise _checks.invalid("directions", f"a ({dim}, num_directions) matrix",
                              f"array of shape {directions.shape}")
    norms = np.linalg.norm(directions, axis=0)
    if np.any(norms == 0):
        raise _checks.invalid("directions", "non-zero columns", "a zero column")
    return directions / norms


def curvature_at_origin(loss_fn, views_a, views_b, output_dim=8, weight_decay=0.0,
                        directions=None, radius=0.0, per_batch=False):
    """Curvature of `E[loss]` at `W = 0` along each input direction, by autodiff.

    For each direction `u_k` the linear model is `W(ε) = ε e_1 u_kᵀ` (`e_1`
    the first output unit), the embeddings are `z = W(ε) x`, and

    * `radius == 0`: `κ_k = d²/dε² mean_b loss(z_a, z_b) |_{ε=0} + 2γ`, by
      nested `tf.GradientTape` (exact second derivative of the sampled loss);
    * `radius > 0`: the secant curvature on the sphere of radius `r`,
      `κ_k = 2 (mean_b loss(W(r)) − mean_b loss(0)) / r² + 2γ`, for losses
      that are singular at the origin.

    The same sampled batches are used for every direction (common random
    numbers). See the module docstring for the closed forms it estimates.

    Args:
        loss_fn: Callable `loss_fn(z_a, z_b)` on `(batch_size, output_dim)`
            embeddings returning per-example losses or a scalar (averaged).
        views_a: `(num_batches, batch_size, dim)` first views.
        views_b: `(num_batches, batch_size, dim)` second views.
        output_dim: Embedding dimension `m`. Defaults to `8`.
        weight_decay: `γ` of the penalty `γ ‖W‖_F²`. Defaults to `0.0`.
        directions: `(dim, K)` directions (columns, normalised here), or
            `None` for the coordinate axes. Defaults to `None`.
        radius: `0` for the Hessian, `r > 0` for the secant. Defaults to `0.0`.
        per_batch: Return each batch's curvature instead of their mean (for
            a Monte-Carlo standard error). Defaults to `False`.

    Returns:
        `(K,)` float64 array of curvatures `κ_k`, or `(K, num_batches)` with
        `per_batch=True`.

    Example:

    >>> import keras_collapse as kc
    >>> a, b = gaussian_views([1.0, 0.0], [0.5, 0.0], num_batches=8)
    >>> k = curvature_at_origin(kc.losses.spectral_contrastive, a, b)
    >>> bool(k[0] < -3.5 and abs(k[1]) < 1e-6)  # closed form -4 s_k
    True
    """
    if not callable(loss_fn):
        raise _checks.invalid("loss_fn", "a callable loss_fn(z_a, z_b)", loss_fn, TypeError)
    views_a = np.asarray(views_a, np.float32)
    views_b = np.asarray(views_b, np.float32)
    if views_a.ndim != 3 or views_a.shape != views_b.shape:
        raise ValueError(
            "Invalid value for arguments `views_a`, `views_b`. Expected two arrays of "
            "the same shape (num_batches, batch_size, dim). Received: "
            f"views_a.shape={views_a.shape}, views_b.shape={views_b.shape}"
        )
    output_dim = _checks.positive_int("output_dim", output_dim)
    weight_decay = _checks.non_negative_float("weight_decay", weight_decay)
    radius = float(radius)
    if not radius >= 0 or not np.isfinite(radius):
        raise _checks.invalid("radius", "a non-negative float", radius)
    dirs = _directions(directions, views_a.shape[-1])
    e = np.zeros((output_dim,), np.float32)
    e[0] = 1.0
    va, vb, e = tf.constant(views_a), tf.constant(views_b), tf.constant(e)

    def batch_loss(eps, ya, yb):
        return tf.reduce_mean(loss_fn(eps * ya, eps * yb))

    @tf.function(reduce_retracing=True)
    def hessian(ya, yb):
        eps = tf.constant(0.0)
        with tf.GradientTape() as outer:
            outer.watch(eps)
            with tf.GradientTape() as inner:
                inner.watch(eps)
                value = batch_loss(eps, ya, yb)
            grad = inner.gradient(value, eps)
        return outer.gradient(grad, eps)

    @tf.function(reduce_retracing=True)
    def secant(ya, yb):
        r = tf.constant(radius)
        return 2.0 * (batch_loss(r, ya, yb) - batch_loss(tf.constant(0.0), ya, yb)) / (r * r)

    estimate = hessian if radius == 0 else secant
    curvature = []
    for k in range(dirs.shape[1]):
        # z = x W^T with W = eps e u_k^T  ->  z = eps (x·u_k) e
        ya = tf.tensordot(va, dirs[:, k], axes=1)[..., tf.newaxis] * e
        yb = tf.tensordot(vb, dirs[:, k], axes=1)[..., tf.newaxis] * e
        values = [float(estimate(ya[i], yb[i])) for i in range(views_a.shape[0])]
        curvature.append(values if per_batch else np.mean(values))
    return np.asarray(curvature, np.float64) + 2.0 * weight_decay


def closed_form_curvature(loss, data_variance, augmentation_variance, weight_decay=0.0,
                          batch_size=256, output_dim=8, temperature=0.1,
                          invariance_weight=25.0, variance_weight=25.0, epsilon=1e-4):
    """Closed-form curvature `κ_k` at the origin (derived in the module docstring).

    * `"spectral_contrastive"`: `−4 s_k + 2γ`.
    * `"info_nce"` (dot or Gaussian form): `−2 (1 − 1/N) s_k / τ + 2γ`.
    * `"nt_xent"`: `−2 (1 − 1/(2N − 1)) s_k / (τ · 1e-12) + 2γ` (the
      normaliser's floor; NT-Xent itself is scale invariant).
    * `"barlow_twins"`: `−4 (1 − 1/N) s_k / 1e-5 + 2γ`.
    * `"vicreg"`: `[4 λ a_k − μ (s_k + a_k) / √ε] / m + 2γ`.

    Args:
        loss: One of :data:`CLOSED_FORM_LOSSES`.
        data_variance: `(dim,)` data variances `s_k`.
        augmentation_variance: `(dim,)` augmentation variances `a_k` (or a scalar).
        weight_decay: `γ`. Defaults to `0.0`.
        batch_size: `N`. Defaults to `256`.
        output_dim: `m` (VICReg only). Defaults to `8`.
        temperature: `τ` (InfoNCE and NT-Xent). Defaults to `0.1`.
        invariance_weight: `λ` (VICReg). Defaults to `25.0`.
        variance_weight: `μ` (VICReg). Defaults to `25.0`.
        epsilon: `ε` inside VICReg's square root. Defaults to `1e-4`.

    Returns:
        `(dim,)` float64 curvatures.

    Example:

    >>> closed_form_curvature("spectral_contrastive", [1.0, 0.1], [1.0, 1.0],
    ...                       weight_decay=0.5).tolist()
    [-3.0, 0.6]
    """
    _checks.one_of("loss", loss, CLOSED_FORM_LOSSES)
    s = _variances("data_variance", data_variance)
    a = np.broadcast_to(np.asarray(augmentation_variance, np.float64), s.shape)
    a = _variances("augmentation_variance", np.array(a), s.size)
    gamma = _checks.non_negative_float("weight_decay", weight_decay)
    n = _checks.positive_int("batch_size", batch_size)
    if loss == "spectral_contrastive":
        curvature = -4.0 * s
    elif loss == "info_nce":
        curvature = -2.0 * (1.0 - 1.0 / n) * s / _checks.positive_float("temperature", temperature)
    elif loss == "nt_xent":
        tau = _checks.positive_float("temperature", temperature)
        curvature = -2.0 * (1.0 - 1.0 / (2 * n - 1)) * s / (tau * NORMALIZE_FLOOR**2)
    elif loss == "barlow_twins":
        curvature = -4.0 * (1.0 - 1.0 / n) * s / BARLOW_TWINS_EPSILON
    else:
        m = _checks.positive_int("output_dim", output_dim)
        lam = _checks.non_negative_float("invariance_weight", invariance_weight)
        mu = _checks.non_negative_float("variance_weight", variance_weight)
        eps = _checks.positive_float("epsilon", epsilon)
        curvature = (4.0 * lam * a - mu * (s + a) / np.sqrt(eps)) / m
    return curvature + 2.0 * gamma


def predict_learned(curvature):
    """Directions predicted learned: negative curvature at the origin.

    Args:
        curvature: `(K,)` curvatures `κ_k` (weight decay included).

    Returns:
        `(K,)` bool array, `κ_k < 0`.

    >>> predict_learned([-1.0, 0.0, 2.0]).tolist()
    [True, False, False]
    """
    return np.asarray(curvature, np.float64) < 0


def direction_norms(kernel, directions=None):
    """`‖W u_k‖` for a Keras kernel `K = Wᵀ` of shape `(dim, output_dim)`.

    Args:
        kernel: `(dim, output_dim)` kernel of a `Dense` layer (`z = x K`).
        directions: `(dim, K)` directions, or `None` for the axes.

    Returns:
        `(K,)` float64 norms of the images of the directions.

    >>> direction_norms(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [5.0, 0.0]
    """
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim != 2:
        raise _checks.invalid("kernel", "a (dim, output_dim) matrix", f"shape {kernel.shape}")
    dirs = _directions(directions, kernel.shape[0]).astype(np.float64)
    return np.linalg.norm(dirs.T @ kernel, axis=1)


def learned_directions(kernel, rtol=0.1, directions=None):
    """Directions measured learned: `‖W u_k‖ > rtol · max_j ‖W u_j‖`.

    Args:
        kernel: `(dim, output_dim)` Keras kernel.
        rtol: Relative threshold in `(0, 1)`. Defaults to `0.1`.
        directions: `(dim, K)` directions or `None` for the axes.

    Returns:
        `(K,)` bool array (all False when the kernel is exactly zero).

    >>> learned_directions(np.array([[1.0], [0.05], [0.5]])).tolist()
    [True, False, True]
    """
    rtol = _checks.positive_float("rtol", rtol)
    norms = direction_norms(kernel, directions)
    top = norms.max()
    if top == 0:
        return np.zeros(norms.shape, bool)
    return norms > rtol * top


def agreement_rate(predicted, measured):
    """Fraction of entries where prediction and measurement agree.

    Args:
        predicted: bool array.
        measured: bool array of the same shape.

    Returns:
        A float in `[0, 1]`.

    >>> agreement_rate([True, False, True], [True, True, True])
    0.6666666666666666
    """
    predicted = np.asarray(predicted, bool)
    measured = np.asarray(measured, bool)
    if predicted.shape != measured.shape or predicted.size == 0:
        raise ValueError(
            "Invalid value for arguments `predicted`, `measured`. Expected non-empty "
            f"arrays of the same shape. Received: predicted.shape={predicted.shape}, "
            f"measured.shape={measured.shape}"
        )
    return float(np.mean(predicted == measured))
