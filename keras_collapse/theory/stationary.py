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
second-order expansions of the implemented losses.
"""

from __future__ import annotations

import numpy as np

from keras_collapse import _checks

__all__ = ["normalized_survivors", "stationary_eigenvalues", "weighted_info_nce_b"]


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


def weighted_info_nce_b(data_variance, noise_variance, num_samples, positive_weight=1.0):
    """The paper's ``b_i = a_i − (1 − α) c_i / N`` of the weighted InfoNCE.

    Args:
        data_variance: `(d,)` eigenvalues ``a_i`` of the data covariance.
        noise_variance: Scalar or `(d,)` noise variances ``c_i``.
        num_samples: Dataset size ``N``.
        positive_weight: ``α`` (1 = InfoNCE, 0 = the paper's NT-Xent).
            Defaults to `1.0`.

    Returns:
        `(d,)` float64 ``b_i``; direction ``i`` collapses when ``b_i ≤ 0``.

    >>> weighted_info_nce_b([1.0, 0.2], 25.0, 100, positive_weight=0.1).round(3).tolist()
    [0.775, -0.025]
    """
    a = _vector("data_variance", data_variance)
    c = np.broadcast_to(np.asarray(noise_variance, np.float64), a.shape)
    n = _checks.positive_int("num_samples", num_samples)
    alpha = _checks.non_negative_float("positive_weight", positive_weight)
    return a - (1.0 - alpha) * c / n


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
