"""Additive Gaussian-noise views for the papers' toy models.

Jing et al. 2022 (arXiv 2110.09348) build each view of ``x ~ N(0, I_16)`` as
``x + [0_8, noise * N(0, I_8)]``: ``noise`` is a standard deviation, so the
noise covariance is ``block-diag(0, noise**2 * I_8)``. WERank (arXiv
2402.09586) states the same construction with covariance ``k * I`` on the
noisy block, i.e. ``k`` is a variance. :func:`block_noise_covariance` takes
the variance; pass ``variance=noise**2`` to reproduce Jing et al.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_collapse import _checks


def psd_factor(covariance, name="covariance"):
    """Return ``L`` with ``L @ L.T == covariance`` for a symmetric PSD matrix.

    Uses the eigendecomposition ``V diag(lambda) V^T`` so singular covariances
    such as ``block-diag(0, k I)`` work: ``L = V diag(sqrt(max(lambda, 0)))``.

    Args:
        covariance: ``(dim, dim)`` symmetric positive semi-definite matrix.
        name: argument name used in error messages. Defaults to
            ``"covariance"``.

    Returns:
        ``(dim, dim)`` float64 NumPy array.

    >>> psd_factor([[4.0, 0.0], [0.0, 0.0]]).round(3).tolist()
    [[0.0, 2.0], [0.0, 0.0]]
    """
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise _checks.invalid(name, "a square (dim, dim) matrix", f"array of shape {cov.shape}")
    scale = max(1.0, float(np.abs(cov).max()))
    if not np.allclose(cov, cov.T, atol=1e-8 * scale):
        raise _checks.invalid(name, "a symmetric matrix", cov.tolist())
    eigvals, eigvecs = np.linalg.eigh(cov)
    if eigvals.min() < -1e-8 * scale * cov.shape[0]:
        raise _checks.invalid(
            name, f"a positive semi-definite matrix (smallest eigenvalue {eigvals.min():.3g})",
            cov.tolist())
    return eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))


class GaussianNoise:
    """Add zero-mean Gaussian noise with a given covariance to each vector.

    ``view = x + L z`` with ``z ~ N(0, I)`` drawn statelessly from ``seed`` and
    ``L L^T = covariance`` (see :func:`psd_factor`).

    Args:
        covariance: ``(dim, dim)`` symmetric PSD noise covariance.

    Call args:
        x: ``(batch_size, dim)`` batch.
        seed: integer tensor of shape ``(2,)``.

    >>> op = GaussianNoise(block_noise_covariance(4, 2, variance=1.0))
    >>> y = op(np.zeros((3, 4), np.float32), seed=[0, 1]).numpy()
    >>> y.shape, bool(np.all(y[:, :2] == 0))
    ((3, 4), True)
    """

    def __init__(self, covariance):
        self.covariance = np.asarray(covariance, dtype=np.float64)
        self._factor_t = tf.constant(psd_factor(covariance).T, tf.float32)

    def __call__(self, x, seed):
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        dim = self.covariance.shape[0]
        if x.shape[-1] is not None and x.shape[-1] != dim:
            raise _checks.invalid(
                "x", f"a batch of shape (batch_size, {dim}) matching the covariance",
                f"tensor of shape {tuple(x.shape)}")
        seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
        z = tf.random.stateless_normal(tf.shape(x), seed)
        return x + tf.matmul(z, self._factor_t)


def gaussian_noise(covariance):
    """Additive Gaussian noise with covariance ``covariance`` (a callable).

    Args:
        covariance: ``(dim, dim)`` symmetric PSD matrix, possibly singular.

    Returns:
        A :class:`GaussianNoise` callable ``(x, seed) -> x + noise``.

    >>> aug = gaussian_noise(np.eye(2))
    >>> aug(np.zeros((5, 2)), seed=[0, 0]).shape
    TensorShape([5, 2])
    """
    return GaussianNoise(covariance)


class IsotropicNoise:
    """Add isotropic noise ``std * N(0, I)`` (covariance ``std**2 I``), any dim.

    Args:
        std: noise standard deviation (>= 0).

    Call args:
        x: ``(batch_size, dim)`` batch.
        seed: integer tensor of shape ``(2,)``.

    >>> op = IsotropicNoise(0.0)
    >>> op(np.ones((2, 3)), seed=[0, 0]).numpy().tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, std):
        self.std = _checks.non_negative_float("std", std)

    def __call__(self, x, seed):
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
        return x + self.std * tf.random.stateless_normal(tf.shape(x), seed)


def isotropic_noise(std):
    """Additive isotropic noise ``std * N(0, I)`` (covariance ``std**2 I``).

    Jing et al. 2022 (arXiv 2110.09348, case 2) use ``std=0.001``.

    Args:
        std: noise standard deviation (>= 0).

    Returns:
        An :class:`IsotropicNoise` callable ``(x, seed) -> x + noise``.

    >>> isotropic_noise(0.5)(np.zeros((4, 3)), seed=[0, 0]).shape
    TensorShape([4, 3])
    """
    return IsotropicNoise(std)


def block_noise_covariance(dim=16, noisy_dims=8, variance=1.0):
    """The covariance ``block-diag(0_{dim - noisy_dims}, variance * I_noisy_dims)``.

    The last ``noisy_dims`` coordinates are noisy. Jing et al. 2022 (arXiv
    2110.09348) give the noise as a standard deviation ``noise``: use
    ``variance=noise**2``; WERank (arXiv 2402.09586) gives ``k`` with
    covariance ``k * I``: use ``variance=k``.

    Args:
        dim: vector dimension. Defaults to ``16``.
        noisy_dims: number of noisy (trailing) coordinates. Defaults to ``8``.
        variance: noise variance on the noisy block. Defaults to ``1.0``.

    Returns:
        ``(dim, dim)`` float64 NumPy array.

    >>> block_noise_covariance(4, 2, variance=2.25).diagonal().tolist()
    [0.0, 0.0, 2.25, 2.25]
    """
    dim = _checks.positive_int("dim", dim)
    noisy_dims = _checks.positive_int("noisy_dims", noisy_dims)
    if noisy_dims > dim:
        raise _checks.invalid("noisy_dims", f"an integer <= dim={dim}", noisy_dims)
    variance = _checks.non_negative_float("variance", variance)
    diag = np.zeros(dim)
    diag[dim - noisy_dims:] = variance
    return np.diag(diag)
