"""Embedding covariance accumulated over a dataset, and its eigenvalue spectrum.

The spectrum is the one plotted on a log scale in Jing et al. 2022, Fig. 2
(arXiv 2110.09348): the eigenvalues of the embedding covariance
``C = (1/N) Σ_n (z_n − z̄)(z_n − z̄)ᵀ``, sorted in descending order.
"""

from __future__ import annotations

import numpy as np

from keras_collapse import _checks

# Floating-point dtypes whose products are kept as they come in; anything else
# (float16, bfloat16, integers) is multiplied in float32.
_PRODUCT_DTYPES = (np.float32, np.float64)
# Pending batches are multiplied once they hold this many bytes (32 MiB).
_CHUNK_BYTES = 1 << 25


def as_embeddings(z, name="z"):
    """Return ``z`` as a finite 2-D floating NumPy array, or raise ``ValueError``.

    Args:
        z: array-like of shape `(num_samples, dim)`.
        name: the argument name used in the error message.

    Returns:
        A NumPy array of shape `(num_samples, dim)`, float32 or float64.

    Raises:
        TypeError: if ``z`` is not numeric (strings, booleans, complex numbers,
            ragged nested lists).
        ValueError: if ``z`` is not of rank 2, has no rows or no columns, or
            holds NaN/Inf.
    """
    if z is None:
        raise _checks.invalid(
            name, "embeddings of shape (num_samples, dim)", None, TypeError)
    try:
        z = np.asarray(z)
        if z.dtype.kind == "O":  # e.g. a list mixing None and floats
            z = z.astype(np.float64)
    except (TypeError, ValueError):
        raise _checks.invalid(
            name, "a numeric array of embeddings, shape (num_samples, dim)",
            f"{type(z).__name__} not convertible to a float array", TypeError) from None
    if z.dtype.kind not in "iuf":
        raise _checks.invalid(
            name, "real-valued (float or integer) embeddings",
            _Shape(z.shape, f"dtype {z.dtype}"), TypeError)
    if z.ndim != 2:
        raise _checks.invalid(
            name, "embeddings of rank 2, shape (num_samples, dim)",
            _Shape(z.shape))
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise _checks.invalid(
            name, "at least one sample and one dimension", _Shape(z.shape))
    if z.dtype.type not in _PRODUCT_DTYPES:
        z = z.astype(np.float32)
    bad = z.size - np.count_nonzero(np.isfinite(z))
    if bad:
        raise _checks.invalid(
            name, "finite embeddings (no NaN or Inf)",
            _Shape(z.shape, f"{bad} non-finite values"))
    return z


class _Shape:
    """Shows an array as its shape (and a note) in error messages."""

    def __init__(self, shape, note=""):
        self.text = f"array of shape {tuple(shape)}" + (f" with {note}" if note else "")

    def __repr__(self):
        return self.text


class CovarianceAccumulator:
    """Streaming mean, covariance and uncentred second moment of embeddings.

    Accumulates, in float64, ``N``, ``s = Σ_n (z_n − k)`` and
    ``S = Σ_n (z_n − k)(z_n − k)ᵀ`` for a fixed shift ``k`` (the mean of the
    first batch), so no `(num_samples, dim)` matrix is kept (batches wait in a
    buffer of at most 32 MiB to be multiplied together) and the subtraction
    ``C = S/N − (s/N)(s/N)ᵀ`` does not cancel catastrophically when the mean is
    large.  Each batch's product ``(Z − k)ᵀ(Z − k)`` is computed in the batch's
    own precision (float32 for float32 embeddings, as fast as the plain matmul)
    and added to the float64 sum.  Then::

        mean          = k + s/N
        covariance    = S/N − (s/N)(s/N)ᵀ                  # (1/N) Σ (z − z̄)(z − z̄)ᵀ
        second_moment = covariance + mean meanᵀ            # (1/N) ZᵀZ

    ``spectrum()`` is ONE symmetric eigen-decomposition (``np.linalg.eigvalsh``)
    of the `(dim, dim)` covariance, in the precision of the products, cached
    until the next ``update``/``merge``.
    The accumulator also sums ``u − u₀`` and ``(u − u₀)²`` (``u = z/‖z‖``, ``u₀``
    the first one seen) for :func:`keras_collapse.metrics.normalized_std`.

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 2.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 1.0], [2.0, -1.0]])
    >>> acc = CovarianceAccumulator().update(z[:2]).update(z[2:])
    >>> acc.count, acc.mean.tolist()
    (4, [2.0, 0.0])
    >>> acc.covariance().tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    >>> acc.spectrum().tolist()
    [0.5, 0.5]
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._scatter = None
        self._unit_sum = None
        self._unit_sq_sum = None
        self._unit_shift = None
        self._eps = 0.0
        self._buffer = None  # rows of pending shifted batches, see _flush
        self._pending_rows = 0
        self._cache = {}

    @property
    def dim(self):
        """The embedding dimension, or ``None`` before the first batch."""
        return None if self._shift is None else self._shift.shape[0]

    def update(self, batch):
        """Adds a batch of embeddings of shape `(batch_size, dim)`; returns self.

        Raises:
            ValueError: if ``batch`` is not a finite rank-2 array, or its
                ``dim`` differs from earlier batches.
        """
        z = as_embeddings(batch, "batch")
        if self._shift is None:
            self._start(z.shape[1], z.mean(axis=0, dtype=np.float64))
        elif z.shape[1] != self.dim:
            raise _checks.invalid(
                "batch", f"embeddings of dim {self.dim} like earlier batches",
                _Shape(z.shape))
        self._eps = max(self._eps, float(np.finfo(z.dtype).eps))
        self.count += z.shape[0]
        y = self._pending_slot(z)
        np.subtract(z, self._shift.astype(z.dtype), out=y)
        self._sum += y.sum(axis=0, dtype=np.float64)
        if y.base is not self._buffer:  # a batch larger than a chunk
            self._scatter += y.T @ y
        elif self._pending_rows == len(self._buffer):
            self._flush()
        norms = np.sqrt(np.einsum("nd,nd->n", z, z))
        u = z / np.maximum(norms, 1e-12)[:, None]
        # Sums of u − u_0 (the first unit vector seen), in float64: the variance
        # E[v²] − E[v]² then does not cancel (identical rows give exactly 0).
        if self._unit_shift is None:
            self._unit_shift = u[0].astype(np.float64)
        v = u - self._unit_shift
        self._unit_sum += v.sum(axis=0)
        self._unit_sq_sum += np.einsum("nd,nd->d", v, v)
        self._cache.clear()
        return self

    def _pending_slot(self, z):
        """Where to write the shifted batch: the next rows of the chunk buffer
        (flushed first if the batch does not fit), or a new array for a batch
        larger than a chunk."""
        if self._buffer is not None and self._buffer.dtype != z.dtype:
            self._flush()
            self._buffer = None
        if self._buffer is None:
            # np.empty: pages are only touched as rows are written.
            rows = max(1, _CHUNK_BYTES // (self.dim * z.itemsize))
            self._buffer = np.empty((rows, self.dim), z.dtype)
        batch = z.shape[0]
        if batch > len(self._buffer):
            return np.empty_like(z)
        if self._pending_rows + batch > len(self._buffer):
            self._flush()
        start = self._pending_rows
        self._pending_rows += batch
        return self._buffer[start:start + batch]

    def _flush(self):
        """Adds ``YᵀY`` of the pending (shifted) batches to the float64 sum.

        Small batches are written into one chunk buffer of about
        ``_CHUNK_BYTES`` (no per-batch arrays, no concatenation), so the
        product runs at full matmul speed and the float64 addition of the
        `(dim, dim)` result happens once per chunk, not once per batch.
        """
        if not self._pending_rows:
            return
        y = self._buffer[:self._pending_rows]
        self._pending_rows = 0
        self._scatter += y.T @ y

    def merge(self, other):
        """Adds the statistics of another accumulator (of the same dim); returns self."""
        if not isinstance(other, CovarianceAccumulator):
            raise _checks.invalid(
                "other", "a CovarianceAccumulator", other, TypeError)
        if other.count == 0:
            return self
        if self._shift is None:
            self._start(other.dim, other._shift)
        elif other.dim != self.dim:
            raise _checks.invalid(
                "other", f"an accumulator of dim {self.dim}",
                f"accumulator of dim {other.dim}")
        # Move the other's sums from its shift k' to ours k: z − k = (z − k') + δ.
        other._flush()
        delta = other._shift - self._shift
        self._scatter += (other._scatter + np.outer(other._sum, delta)
                          + np.outer(delta, other._sum)
                          + other.count * np.outer(delta, delta))
        self._sum += other._sum + other.count * delta
        self.count += other.count
        if self._unit_shift is None:
            self._unit_shift = other._unit_shift.copy()
        shift = other._unit_shift - self._unit_shift
        self._unit_sq_sum += (other._unit_sq_sum + 2.0 * shift * other._unit_sum
                              + other.count * shift**2)
        self._unit_sum += other._unit_sum + other.count * shift
        self._eps = max(self._eps, other._eps)
        self._cache.clear()
        return self

    def _start(self, dim, shift):
        self._shift = np.array(shift, dtype=np.float64)
        self._sum = np.zeros(dim)
        self._scatter = np.zeros((dim, dim))
        self._unit_sum = np.zeros(dim)
        self._unit_sq_sum = np.zeros(dim)

    def _require_data(self):
        if self.count == 0:
            raise _checks.invalid(
                "accumulator", "at least one embedding (call update() first)",
                "empty CovarianceAccumulator")

    @property
    def mean(self):
        """The mean embedding ``z̄``, shape `(dim,)`, float64."""
        self._require_data()
        return self._shift + self._sum / self.count

    def covariance(self):
        """The covariance ``(1/N) Σ (z − z̄)(z − z̄)ᵀ``, shape `(dim, dim)`, float64."""
        self._require_data()
        self._flush()
        offset = self._sum / self.count
        cov = self._scatter / self.count - np.outer(offset, offset)
        return (cov + cov.T) / 2.0

    def second_moment(self):
        """The uncentred second moment ``(1/N) ZᵀZ``, shape `(dim, dim)`, float64."""
        mean = self.mean
        return self.covariance() + np.outer(mean, mean)

    def spectrum(self):
        """Eigenvalues of :meth:`covariance`, descending, shape `(dim,)`.

        Rounding can make exact zeros come out slightly negative; those are
        clipped to 0.
        """
        return self._eigenvalues("covariance", self.covariance)

    def second_moment_spectrum(self):
        """Eigenvalues of :meth:`second_moment`, descending, clipped at 0."""
        return self._eigenvalues("second_moment", self.second_moment)

    def noise_floor(self, eigenvalues):
        """Level below which eigenvalues are rounding noise: ``4·sqrt(d)·ε·λ_1``.

        ``ε`` is the machine epsilon of the precision the batch products were
        computed in (float32 for float32 embeddings).  Measured rounding noise
        of exactly rank-deficient data sits 10-100× below this level.
        """
        return 4.0 * np.sqrt(self.dim) * self._eps * float(eigenvalues[0])

    def denoised(self, eigenvalues):
        """``eigenvalues`` with those below :meth:`noise_floor` set to 0."""
        return np.where(eigenvalues < self.noise_floor(eigenvalues), 0.0, eigenvalues)

    def normalized_std(self):
        """Mean over dims of the (population) std of ``z/‖z‖`` over samples."""
        self._require_data()
        mean = self._unit_sum / self.count
        var = np.maximum(self._unit_sq_sum / self.count - mean**2, 0.0)
        return float(np.mean(np.sqrt(var)))

    def _eigenvalues(self, key, matrix_fn):
        if key not in self._cache:
            # Decomposed in the precision of the batch products: float64 would
            # only resolve their rounding noise, at twice the cost.
            dtype = np.float32 if self._eps > np.finfo(np.float64).eps else np.float64
            values = np.linalg.eigvalsh(matrix_fn().astype(dtype))[::-1].astype(np.float64)
            self._cache[key] = np.maximum(values, 0.0)
        return self._cache[key].copy()


def accumulate(z, name="z"):
    """Returns ``z`` if it is a :class:`CovarianceAccumulator`, else one fed ``z``."""
    if isinstance(z, CovarianceAccumulator):
        z._require_data()
        return z
    return CovarianceAccumulator().update(as_embeddings(z, name))


def covariance(z):
    """Embedding covariance ``C = (1/N) Σ_n (z_n − z̄)(z_n − z̄)ᵀ``.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a
            :class:`CovarianceAccumulator`.

    Returns:
        float64 array of shape `(dim, dim)`.

    Example:

    >>> import numpy as np
    >>> covariance(np.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
    [[1.0, 0.0], [0.0, 0.0]]

    Reference: Jing et al. 2022, arXiv 2110.09348, Sec. 3.
    """
    return accumulate(z).covariance()


def covariance_spectrum(z):
    """Eigenvalues of the embedding covariance, sorted descending.

    ``λ_1 ≥ … ≥ λ_d`` of ``C = (1/N) Σ (z − z̄)(z − z̄)ᵀ``; Jing et al. plot
    ``log λ_k`` against ``k`` to show dimensional collapse.

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a
            :class:`CovarianceAccumulator`.

    Returns:
        float64 array of shape `(dim,)`, non-negative.

    Example:

    >>> import numpy as np
    >>> z = np.array([[3.0, 0.0, 1.0], [-3.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, -1.0, 1.0]])
    >>> covariance_spectrum(z).tolist()
    [4.5, 0.5, 0.0]

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 2.
    """
    return accumulate(z).spectrum()


def log_spectrum(eigenvalues):
    """Natural log of an eigenvalue spectrum, with zeros floored.

    ``log(max(λ_k, ε·λ_1))`` with ``ε`` the float64 machine epsilon (values
    below that are rounding noise); an all-zero spectrum gives ``log(1e-300)``.

    Args:
        eigenvalues: shape `(dim,)`, sorted descending.

    Returns:
        float64 array of shape `(dim,)`.

    Example:

    >>> import numpy as np
    >>> np.round(log_spectrum(np.array([np.e, 1.0])), 3).tolist()
    [1.0, 0.0]
    """
    values = np.asarray(eigenvalues, dtype=np.float64)
    top = float(values.max()) if values.size else 0.0
    floor = max(np.finfo(np.float64).eps * top, 1e-300)
    return np.log(np.maximum(values, floor))
