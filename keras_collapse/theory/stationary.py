"""Ziyin et al.'s stationary points of linear InfoNCE (arXiv 2210.00638).

The theory of "What Shapes the Loss Landscape of Self-Supervised Learning?"
(Ziyin, Lubana, Ueda, Tanaka; ICLR 2023, and its NeurIPS 2022 SSL-workshop
version) for a linear model ``f(x) = W x`` with views ``x̂ + ε``, data
covariance ``A0``, noise covariance ``C`` and augmented covariance
``Σ = A0 + C``, all commuting (eigenvalues ``a_i``, ``c_i``, ``s_i = a_i + c_i``
in a shared basis). Every loss it considers expands at the origin as
``L = −Tr[W B Wᵀ] + O(W⁴) + γ ‖W‖²``:

* stationary points have ``WᵀW = ½ Σ⁻¹ (B − γ)_M Σ⁻¹``: direction ``i``
  survives with eigenvalue ``(b_i − γ) / (2 s_i²)`` when ``b_i > γ`` and
  collapses (eigenvalue 0) otherwise (:func:`stationary_eigenvalues`);
* weighted InfoNCE (positive weight ``α`` in the denominator, squared-distance
  kernel): the paper states ``B = A0 − (1 − α) C / N`` for a dataset of ``N``
  points (:func:`weighted_info_nce_b`);
* normalisation ``‖f‖² = c`` in the hard limit: a direction survives only if
  ``λ_i + 2c / d_M > λ̄``, ``λ_i`` the eigenvalues of ``Σ⁻¹ B_M`` over the
  surviving set ``M`` and ``λ̄`` their mean (:func:`normalized_survivors`).

These are the paper's statements, implemented as stated so a study can test
them; ``keras_collapse.theory.landscape`` holds this project's own
second-order expansions of the implemented losses. Two results derived here
sit beside them, each named as such:

* ``B`` of the weighted InfoNCE *as written* (:func:`weighted_info_nce_b`
  with ``partition="weighted"``). With the squared-distance kernel, views
  ``x + ε``, negatives the anchor view's other ``N − 1`` examples and a fixed
  dataset (``a`` its biased variance, so ``E_{i≠j}(x_i − x_j)² = 2Na/(N − 1)``),
  ``log Z`` expands at the origin with the softmax weights ``α/(N − 1 + α)``
  (positive) and ``1/(N − 1 + α)`` (each negative), and per direction (per unit
  ``λ`` of ``WᵀW``) ``E ℓ = c − [αc + Na + (N − 1)c] / (N − 1 + α)``: the noise
  cancels for every α and ``b = N a / (N − 1 + α)``. The paper's
  ``b = a − (1 − α) c / N`` is the same computation with the weights ``α/N``
  and ``1/N``, i.e. for the denominator padded with ``1 − α``
  (``kc.losses.InfoNCE(partition="padded")``).
* The exact stationary point of InfoNCE for many samples
  (:func:`info_nce_stationary_eigenvalues`), not truncated at fourth order.
"""

from __future__ import annotations

import numpy as np

from keras_collapse import _checks

__all__ = ["info_nce_stationary_eigenvalues", "normalized_survivors", "stationary_eigenvalues",
           "weighted_info_nce_b"]

PARTITIONS = ("padded", "weighted")


def _vector(name, value):
    value = np.asarray(value, np.float64)
    if value.ndim != 1 or value.size == 0 or not np.all(np.isfinite(value)):
        raise _checks.invalid(name, "a non-empty 1-d array of finite floats",
                              f"array of shape {value.shape}")
    return value


def _positive_like(name, value, like):
    """`value` (a scalar or an array) broadcast to `like`'s shape, all > 0."""
    value = np.broadcast_to(np.asarray(value, np.float64), like.shape)
    if not np.all(value > 0):
        raise _checks.invalid(name, "positive values", value.min())
    return value


def weighted_info_nce_b(data_variance, noise_variance, num_samples, positive_weight=1.0,
                        partition="padded"):
    """``b_i`` of the weighted InfoNCE: the paper's, or that of the loss as written.

    Args:
        data_variance: `(d,)` eigenvalues ``a_i`` of the data covariance.
        noise_variance: Scalar or `(d,)` noise variances ``c_i``.
        num_samples: Dataset size ``N``.
        positive_weight: ``α`` (1 = InfoNCE, 0 = the paper's NT-Xent).
            Defaults to `1.0`.
        partition: `"padded"`: the paper's ``b_i = a_i − (1 − α) c_i / N``,
            which is the expansion of the loss whose denominator is padded
            with ``1 − α`` (``kc.losses.InfoNCE(partition="padded")``);
            `"weighted"`: ``b_i = N a_i / (N − 1 + α)``, the expansion of the
            loss as written (derived in the module docstring; the noise drops
            out). Defaults to `"padded"`.

    Returns:
        `(d,)` float64 ``b_i``; direction ``i`` collapses when ``b_i ≤ 0``.

    >>> weighted_info_nce_b([1.0, 0.2], 25.0, 100, positive_weight=0.1).round(3).tolist()
    [0.775, -0.025]
    >>> weighted_info_nce_b([1.0, 0.2], 25.0, 100, 0.1, "weighted").round(4).tolist()
    [1.0091, 0.2018]
    """
    a = _vector("data_variance", data_variance)
    c = np.broadcast_to(np.asarray(noise_variance, np.float64), a.shape)
    n = _checks.positive_int("num_samples", num_samples)
    alpha = _checks.non_negative_float("positive_weight", positive_weight)
    _checks.one_of("partition", partition, PARTITIONS)
    if partition == "weighted":
        return n * a / (n - 1.0 + alpha)
    return a - (1.0 - alpha) * c / n


def info_nce_stationary_eigenvalues(data_variance, noise_variance, weight_decay=0.0):
    """Eigenvalues of ``WᵀW`` at the stationary point of the exact many-sample InfoNCE.

    Derived here, not the paper's. For the squared-distance InfoNCE (τ = 1),
    Gaussian data and noise, a linear ``f = W x`` and many samples (the
    positive's single term in the denominator and the difference between the
    dataset and a Gaussian of its covariance neglected), the negatives'
    average is a Gaussian integral: with ``S = W Σ Wᵀ``,
    ``E_j exp(−‖z_i − z_j‖²/2) = det(I + S)^{−1/2} exp(−z_iᵀ (I + S)⁻¹ z_i / 2)``,
    so the expected loss is, up to ``log N``,
    ``Tr[W C Wᵀ] − ½ log det(I + S) − ½ Tr[S (I + S)⁻¹] + γ ‖W‖²``. In the
    commuting case it separates over directions ``i`` with ``u = s_i λ_i``;
    ``dL/dλ_i = 0`` reads ``t² + t = 2 (c_i + γ) / s_i`` with ``t = 1/(1 + u)``, so
    ``λ_i = (1/t − 1) / s_i``, ``t = (√(1 + 8 (c_i + γ)/s_i) − 1) / 2``. A
    direction survives iff ``a_i > γ`` (the paper's threshold ``b_i ≤ γ`` with
    ``b = a``), and for small weights ``λ_i ≈ 2 (a_i − γ) / (3 s_i²)``: 4/3 of
    the paper's ``(b_i − γ) / (2 s_i²)``, whose fourth-order term differs.

    Args:
        data_variance: `(d,)` eigenvalues ``a_i`` of the data covariance.
        noise_variance: Scalar or `(d,)` noise variances ``c_i``.
        weight_decay: ``γ`` of ``γ ‖W‖²``. Defaults to `0.0`.

    Returns:
        `(d,)` float64; zero where ``a_i ≤ γ``.

    >>> info_nce_stationary_eigenvalues([1.0], 3.0).round(4).tolist()  # t = 0.8229
    [0.0538]
    """
    a = _vector("data_variance", data_variance)
    c = np.broadcast_to(np.asarray(noise_variance, np.float64), a.shape)
    if not np.all(c >= 0):
        raise _checks.invalid("noise_variance", "non-negative values", c.min())
    gamma = _checks.non_negative_float("weight_decay", weight_decay)
    s = _positive_like("data_variance", a + c, a)
    t = (np.sqrt(1.0 + 8.0 * (c + gamma) / s) - 1.0) / 2.0
    return np.where(a > gamma, (1.0 / np.minimum(t, 1.0) - 1.0) / s, 0.0)


def stationary_eigenvalues(b, augmented_variance, weight_decay=0.0):
    """Eigenvalues of ``WᵀW`` at the paper's stationary point, ``max(b − γ, 0) / (2 s²)``.

    Args:
        b: `(d,)` eigenvalues of ``B``.
        augmented_variance: Scalar or `(d,)` eigenvalues ``s_i`` of ``Σ = A0 + C``.
        weight_decay: ``γ`` of ``γ ‖W‖²``. Defaults to `0.0`.

    Returns:
        `(d,)` float64; zero on collapsed directions (``b_i ≤ γ``).

    >>> stationary_eigenvalues([1.0, 0.1], 2.0, weight_decay=0.2).tolist()
    [0.1, 0.0]
    """
    b = _vector("b", b)
    s = _positive_like("augmented_variance", augmented_variance, b)
    gamma = _checks.non_negative_float("weight_decay", weight_decay)
    return np.maximum(b - gamma, 0.0) / (2.0 * s ** 2)


def normalized_survivors(b, augmented_variance, norm=1.0):
    """Directions that survive hard normalisation ``‖f‖² = c`` (the κ → ∞ limit).

    Starting from the directions with ``b_i > 0``, repeatedly keeps those with
    ``λ_i + 2c / d_M > λ̄`` (``λ_i = b_i / s_i``, ``λ̄`` their mean over the
    current set ``M`` of size ``d_M``) until the set no longer changes.

    Args:
        b: `(d,)` eigenvalues of ``B``.
        augmented_variance: Scalar or `(d,)` eigenvalues ``s_i`` of ``Σ``.
        norm: ``c``, the squared norm the embedding is held at. Defaults to `1.0`.

    Returns:
        `(d,)` bool array, True where the direction survives.

    >>> normalized_survivors([1.0, 1.0, 0.5], [1.1, 1.1, 0.6], norm=0.01).tolist()
    [True, True, False]
    """
    b = _vector("b", b)
    s = _positive_like("augmented_variance", augmented_variance, b)
    c = _checks.positive_float("norm", norm)
    lam = b / s
    keep = b > 0
    while keep.any():
        mean = lam[keep].mean()
        new = keep & (lam + 2.0 * c / keep.sum() > mean)
        if np.array_equal(new, keep):
            break
        keep = new
    return keep
