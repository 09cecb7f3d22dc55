"""Tests of keras_collapse.theory.stationary (Ziyin et al. 2023, arXiv 2210.00638).

The two results derived in the module (B of the weighted InfoNCE as written,
and the exact many-sample stationary point of InfoNCE) are checked against
the NumPy reference loss of tests/reference.py, sampled and differentiated by
finite differences, not against their own formulas.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

import reference as ref
from keras_collapse import theory


def _sampled_curvature(x, noise_std, alpha, partition, draws, h=0.05, seed=0):
    """Central second difference of the mean reference loss along a 1-d W = ε."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(draws):
        y_a = x + noise_std * rng.normal(size=x.shape)
        y_b = x + noise_std * rng.normal(size=x.shape)

        def loss(eps):
            return np.mean(ref.info_nce_gaussian_one_direction(
                eps * y_a[:, None], eps * y_b[:, None], 1.0, alpha, partition))

        total += (loss(h) - 2.0 * loss(0.0) + loss(-h)) / h ** 2
    return total / draws


@pytest.mark.parametrize("partition", ["padded", "weighted"])
def test_weighted_b_is_minus_half_the_sampled_curvature(partition):
    """κ = −2b at the origin: the paper's b = a − (1 − α)c/N for the padded
    denominator, b = N a/(N − 1 + α) for the loss as written (no noise term)."""
    x = np.random.default_rng(5).normal(size=6)
    a = np.var(x)
    b = theory.weighted_info_nce_b([a], 1.0, len(x), 0.0, partition)[0]
    other = theory.weighted_info_nce_b([a], 1.0, len(x), 0.0,
                                       {"padded": "weighted", "weighted": "padded"}[partition])[0]
    kappa = _sampled_curvature(x, 1.0, 0.0, partition, draws=3000)
    # Over seeds the estimate moves by about 0.01; the two readings differ by 0.3.
    assert abs(-kappa / 2.0 - b) < 0.1
    assert abs(other - b) > 2 * 0.1


def test_info_nce_stationary_eigenvalue_minimises_the_sampled_loss():
    """Many samples, one direction: the minimum of the reference InfoNCE over
    λ = w² is the derived stationary value, not the paper's b/(2s²)."""
    n, a, c = 1500, 1.0, 3.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    views = [(x + np.sqrt(c) * rng.normal(size=n), x + np.sqrt(c) * rng.normal(size=n))
             for _ in range(2)]

    def loss(lam):
        return np.mean([_vectorised_loss(np.sqrt(lam) * y_a, np.sqrt(lam) * y_b)
                        for y_a, y_b in views])

    # The vectorised form is the reference's per-anchor loop (O(n²) in Python).
    z, z_b = 0.3 * views[0][0][:5], 0.3 * views[0][1][:5]
    np.testing.assert_allclose(
        _vectorised_loss(z, z_b),
        ref.info_nce_gaussian_one_direction(z[:, None], z_b[:, None]).mean(), rtol=1e-12)
    grid = np.linspace(0.02, 0.09, 9)
    fit = np.polyfit(grid, [loss(g) for g in grid], 2)
    minimum = -fit[1] / (2.0 * fit[0])
    derived = theory.info_nce_stationary_eigenvalues([a], c)[0]
    paper = theory.stationary_eigenvalues([a], a + c)[0]
    assert abs(minimum / derived - 1.0) < 0.05
    assert abs(minimum / paper - 1.0) > 0.3


def _vectorised_loss(z, z_b):
    """Mean squared-distance InfoNCE (τ = 1, α = 1) of 1-d embeddings."""
    logits = -(z[:, None] - z[None, :]) ** 2 / 2.0
    positive = -(z - z_b) ** 2 / 2.0
    logits[np.arange(len(z)), np.arange(len(z))] = positive
    return np.mean(logsumexp(logits, axis=1) - positive)


def test_info_nce_stationary_eigenvalues_by_hand():
    """t² + t = 2(c + γ)/s; small weights give 2(a − γ)/(3s²); a ≤ γ collapses."""
    t = (np.sqrt(1.0 + 8.0 * 3.0 / 4.0) - 1.0) / 2.0
    np.testing.assert_allclose(theory.info_nce_stationary_eigenvalues([1.0], 3.0),
                               [(1.0 / t - 1.0) / 4.0])
    small = theory.info_nce_stationary_eigenvalues([0.01], 100.0)
    np.testing.assert_allclose(small, 2.0 * 0.01 / (3.0 * 100.01 ** 2), rtol=1e-3)
    np.testing.assert_array_equal(
        theory.info_nce_stationary_eigenvalues([0.5, 0.2], 1.0, weight_decay=0.3) > 0,
        [True, False])
    with pytest.raises(ValueError, match="argument `noise_variance`"):
        theory.info_nce_stationary_eigenvalues([1.0], -1.0)
    with pytest.raises(ValueError, match="argument `partition`"):
        theory.weighted_info_nce_b([1.0], 1.0, 10, partition="softmax")
