"""Scalar collapse measures computed from the embedding spectrum.

All functions take embeddings of shape `(num_samples, dim)` or a
:class:`~keras_collapse.metrics.CovarianceAccumulator` holding streamed
statistics; singular values come from the eigenvalues of the `(dim, dim)`
matrices: centred ``σ_k = sqrt(N λ_k(C))``, uncentred ``σ_k = sqrt(N λ_k(ZᵀZ/N))``.
Every measure below is invariant to the factor ``N``.  Eigenvalues below the
accumulator's rounding-noise floor (``4·sqrt(d)·ε·λ_1``, ``ε`` the machine
epsilon of the products: about 1e-5 relative for float32, 1e-14 for float64)
are taken as 0 in the entropy ranks and the AUC, the way
``numpy.linalg.matrix_rank`` ignores singular values below its tolerance;
otherwise the square root ``σ = sqrt(Nλ)`` would turn rounding noise of
exactly collapsed directions into visible singular values.
"""

from __future__ import annotations

import numbers

import numpy as np

from keras_collapse import _checks
from keras_collapse.metrics.spectrum import accumulate

#: Default relative threshold of :func:`collapsed_dimensions`.
COLLAPSE_RTOL = 1e-5
#: RankMe's ε (Garrido et al. 2023).
RANKME_EPS = 1e-7


def _singular_values(eigenvalues, count):
    """``σ = sqrt(N λ)``, keeping the ``min(N, dim)`` largest (an SVD's count)."""
    return np.sqrt(count * eigenvalues[: min(count, eigenvalues.shape[0])])


def spectral_entropy_rank(singular_values, eps=0.0):
    """``exp(−Σ_k p_k log p_k)`` with ``p_k = σ_k/‖σ‖₁ + eps``.

    An all-zero spectrum (no dimension used) gives ``0.0``.

    Args:
        singular_values: non-negative, shape `(rank,)`.
        eps: added to every ``p_k``. Defaults to `0.0`.

    Example:

    >>> round(spectral_entropy_rank([2.0, 2.0, 0.0]), 6)
    2.0
    """
    sigma = np.asarray(singular_values, dtype=np.float64)
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma / total + eps
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def effective_rank(z):
    """Effective rank (Roy & Vetterli 2007) of the CENTRED embeddings.

    ``p_k = σ_k/‖σ‖₁``, ``erank = exp(−Σ_k p_k log p_k)``, where ``σ_k`` are the
    singular values of the centred matrix ``Z − z̄`` (square roots of ``N`` times
    the covariance eigenvalues).  Centring makes it count the directions along
    which the embeddings actually vary ("dimensions used"): a constant offset
    does not add a dimension.  ``1 ≤ erank ≤ rank``; ``0`` if all embeddings
    are equal.  Data of rank ``k`` with equal variances give exactly ``k``.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.

    Returns:
        float.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0, 5.0], [-1.0, 0.0, 5.0], [0.0, 1.0, 5.0], [0.0, -1.0, 5.0]])
    >>> round(effective_rank(z), 6)
    2.0

    Reference: Roy & Vetterli, "The effective rank", EUSIPCO 2007.
    """
    acc = accumulate(z)
    return spectral_entropy_rank(
        _singular_values(acc.denoised(acc.spectrum()), acc.count))


def rankme(z, eps=RANKME_EPS):
    """RankMe (Garrido et al. 2023) of the UNCENTRED embeddings.

    ``p_k = σ_k/‖σ‖₁ + ε``, ``RankMe = exp(−Σ_k p_k log p_k)``, where ``σ_k``
    are the ``min(N, dim)`` singular values of the raw matrix ``Z``.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.
        eps: the ε added to each ``p_k``. Defaults to `1e-7`.

    Returns:
        float.

    Example:

    >>> import numpy as np
    >>> round(rankme(np.eye(4)), 4)
    4.0

    Reference: Garrido et al. 2023, "RankMe", arXiv 2210.02885.
    """
    eps = _checks.non_negative_float("eps", eps)
    acc = accumulate(z)
    return spectral_entropy_rank(
        _singular_values(acc.denoised(acc.second_moment_spectrum()), acc.count), eps)


def cumulative_explained_variance(z):
    """The curve behind :func:`auc`: ``e_k = Σ_{i≤k} σ_i / Σ_i σ_i``.

    ``σ`` are the singular values (NOT squared) of the centred embeddings,
    descending.  All embeddings equal gives all ones.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.

    Returns:
        float64 array of shape `(dim,)`, non-decreasing, ending at 1.

    Example:

    >>> import numpy as np
    >>> z = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> cumulative_explained_variance(z).tolist()
    [0.75, 1.0]

    Reference: Li et al. 2022, arXiv 2209.15007, Eq. 2.
    """
    acc = accumulate(z)
    return cumulative_from_eigenvalues(acc.denoised(acc.spectrum()))


def cumulative_from_eigenvalues(eigenvalues):
    """:func:`cumulative_explained_variance` from covariance eigenvalues.

    ``σ_k ∝ sqrt(λ_k)`` (the factor ``N`` cancels).

    Args:
        eigenvalues: non-negative, descending, shape `(dim,)`.

    Returns:
        float64 array of shape `(dim,)`.

    Example:

    >>> cumulative_from_eigenvalues([9.0, 1.0]).tolist()
    [0.75, 1.0]
    """
    sigma = np.sqrt(np.maximum(np.asarray(eigenvalues, dtype=np.float64), 0.0))
    total = sigma.sum()
    if total <= 0:
        return np.ones_like(sigma)
    curve = np.cumsum(sigma) / total
    curve[-1] = 1.0
    return curve


def auc(z):
    """AUC collapse metric of Li et al. 2022: ``(1/d) Σ_k e_k``.

    ``e_k`` is :func:`cumulative_explained_variance` (centred, singular values
    not squared).  Range ``[(d+1)/(2d), 1]``: a flat spectrum gives about 0.5,
    complete collapse (one or no direction) gives 1.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.

    Returns:
        float.

    Example:

    >>> import numpy as np
    >>> z = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> auc(z)
    0.875

    Reference: Li, Efros & Pathak 2022, arXiv 2209.15007, Eq. 2.
    """
    return float(np.mean(cumulative_explained_variance(z)))


def normalized_auc(auc_value, dim):
    """Li et al.'s AUC mapped from ``[(d+1)/(2d), 1]`` onto ``[0, 1]``.

    ``(AUC − (d+1)/(2d)) / (1 − (d+1)/(2d))``: 0 for a flat spectrum, 1 for
    complete collapse, so representations of different sizes compare (Li et
    al. compare AUCs of encoders of different widths).

    Args:
        auc_value: AUC value(s) from :func:`auc`.
        dim: representation size ``d`` (an integer >= 2).

    Returns:
        float or array of the same shape as ``auc_value``.

    Example:

    >>> normalized_auc(9 / 16, 8), normalized_auc(1.0, 8)
    (0.0, 1.0)

    Reference: Li, Efros & Pathak 2022, arXiv 2209.15007, Eq. 2.
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 2:
        raise _checks.invalid("dim", "an integer >= 2", dim)
    floor = (dim + 1) / (2.0 * dim)
    value = (np.asarray(auc_value, dtype=np.float64) - floor) / (1.0 - floor)
    return float(value) if value.ndim == 0 else value


def collapsed_dimensions(z, rtol=COLLAPSE_RTOL):
    """Number of covariance eigenvalues below ``rtol`` times the largest.

    ``#{k : λ_k < rtol · λ_1}``; all ``dim`` if every eigenvalue is 0.  The
    default ``1e-5`` sits well above float32 rounding of the batch products
    (about ``1e-7`` relative) and below any direction a model really uses.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.
        rtol: relative threshold. Defaults to `1e-5`.

    Returns:
        int.

    Example:

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(100, 2)) @ np.ones((2, 5))
    >>> collapsed_dimensions(z)
    4

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 2.
    """
    rtol = _checks.positive_float("rtol", rtol)
    eigenvalues = accumulate(z).spectrum()
    top = eigenvalues[0]
    if top <= 0:
        return int(eigenvalues.shape[0])
    return int(np.count_nonzero(eigenvalues < rtol * top))


def normalized_std(z):
    """Mean over dims of the per-dim std of ℓ2-normalised embeddings.

    ``mean_j std_n(z_nj / ‖z_n‖)`` (population std).  About ``1/sqrt(dim)``
    for isotropic embeddings, 0 at complete collapse.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.

    Returns:
        float.

    Example:

    >>> import numpy as np
    >>> normalized_std(np.array([[2.0, 0.0], [0.0, 3.0]]))
    0.5

    Reference: Chen & He 2021 (SimSiam), arXiv 2011.10566, Sec. 4.1.
    """
    return accumulate(z).normalized_std()


def is_completely_collapsed(z, rtol=1e-8):
    """Whether all embeddings are (numerically) the same point.

    ``trace(C) ≤ rtol · trace(ZᵀZ/N)``: the total variance is negligible
    against the mean squared norm (all-zero embeddings count as collapsed).

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.
        rtol: relative threshold. Defaults to `1e-8`.

    Returns:
        bool.

    Example:

    >>> import numpy as np
    >>> is_completely_collapsed(np.ones((8, 3))), is_completely_collapsed(np.eye(3))
    (True, False)
    """
    rtol = _checks.positive_float("rtol", rtol)
    acc = accumulate(z)
    variance = float(acc.spectrum().sum())
    return bool(variance <= rtol * float(acc.second_moment_spectrum().sum()))
