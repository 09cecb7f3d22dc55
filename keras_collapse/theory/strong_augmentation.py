"""Collapse by strong augmentation: the matrix X of Jing et al. 2022.

For a linear encoder ``z = W x`` (``W`` of shape `(d_out, d_in)`, the paper's
convention; a Keras ``Dense`` kernel is ``K = Wᵀ``) trained with InfoNCE on
views ``x`` and ``x'``, gradient flow is ``dW/dt = W X`` (Lemma 1, Eq. 5).
Lemma 2 writes ``X = Σ̂0 − Σ̂1`` with

* ``Σ̂0 = Σ_{i,j} α_ij (x_i − x_j)(x_i − x_j)ᵀ`` (weighted data covariance),
* ``Σ̂1 = Σ_i (1 − α_ii)(x'_i − x_i)(x'_i − x_i)ᵀ`` (weighted augmentation
  covariance),

where ``α`` is the row softmax of the embeddings' similarities. Theorem 1: with
``X`` fixed, ``W(t) = W(0) exp(X t)``, so the input directions along which
``X`` has negative eigenvalues (the eigenvectors, i.e. right singular vectors
of ``W``) shrink to zero.

Two similarity forms are supported everywhere:

* ``"gaussian"`` (the paper's analysis): ``s_ij = −‖z_i − z_j‖² / (2τ)`` for
  ``j ≠ i`` and ``s_ii = −‖z_i − z'_i‖² / (2τ)``; ``τ = 1`` is the paper.
* ``"dot"`` (the authors' code, ``case_1.py``): ``s_ij = z_i · z'_j / τ``
  (negatives are the other view), ``τ = 0.1`` in the code.

:func:`strong_augmentation_x` is Lemma 2's symmetric ``Σ̂0 − Σ̂1`` (for
``"dot"`` it is the same formula with the code's ``α``, an analogue that the
paper does not derive). :func:`infonce_gradient_x` is the exact matrix with
``∂L/∂W = −W X`` for the one-directional InfoNCE sum (Eq. 6 for
``"gaussian"``); it equals autodiff of :func:`keras_collapse.losses.info_nce`
with ``symmetric=False`` summed over the batch.

Reference: Jing, Vincent, LeCun, Tian, "Understanding Dimensional Collapse in
Contrastive Self-Supervised Learning", ICLR 2022, arXiv 2110.09348.
"""

from __future__ import annotations

import numpy as np

from keras_collapse import _checks

__all__ = [
    "contrastive_weights",
    "infonce_gradient_x",
    "predicted_collapsing_directions",
    "strong_augmentation_terms",
    "strong_augmentation_x",
    "subspace_overlap",
]

_SIMILARITIES = ("gaussian", "dot")


def _matrix(name, value, ndim=2):
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a {ndim}-D array. "
            f"Received: {name}.shape={array.shape}"
        )
    return array


def _inputs(weights, x, x_prime):
    w = _matrix("weights", weights)
    x = _matrix("x", x)
    x_prime = _matrix("x_prime", x_prime)
    if x.shape != x_prime.shape:
        raise ValueError(
            "Invalid value for argument `x_prime`. Expected the shape of `x`. "
            f"Received: x.shape={x.shape}, x_prime.shape={x_prime.shape}"
        )
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            "Invalid value for argument `weights`. Expected W of shape "
            f"(d_out, {x.shape[1]}) (z = W x; a Keras kernel is Wᵀ). "
            f"Received: weights.shape={w.shape}"
        )
    if x.shape[0] < 2:
        raise ValueError(
            "Invalid value for argument `x`. Expected at least 2 samples. "
            f"Received: x.shape={x.shape}"
        )
    return w, x, x_prime


def _softmax_rows(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def contrastive_weights(z, z_prime, temperature=1.0, similarity="gaussian"):
    """The softmax weights ``α`` of InfoNCE for each anchor ``z_i``.

    Gaussian form: ``α_ij = exp(−‖z_i − z_j‖²/(2τ)) / Z_i`` for ``j ≠ i`` and
    ``α_ii = exp(−‖z_i − z'_i‖²/(2τ)) / Z_i``. Dot form:
    ``α_ij = exp(z_i · z'_j / τ) / Z_i``. Each row sums to 1.

    Args:
        z: Embeddings of the first view, shape `(n, d)`.
        z_prime: Embeddings of the second view, shape `(n, d)`.
        temperature: Positive τ. Defaults to `1.0` (the paper).
        similarity: `"gaussian"` or `"dot"`. Defaults to `"gaussian"`.

    Returns:
        float64 array `(n, n)`; the diagonal holds the positive pairs.

    Example:

    >>> import numpy as np
    >>> a = contrastive_weights(np.zeros((2, 1)), np.zeros((2, 1)))
    >>> a.tolist()  # all similarities equal
    [[0.5, 0.5], [0.5, 0.5]]
    """
    temperature = _checks.positive_float("temperature", temperature)
    _checks.one_of("similarity", similarity, _SIMILARITIES)
    z = _matrix("z", z)
    z_prime = _matrix("z_prime", z_prime)
    if similarity == "dot":
        logits = z @ z_prime.T / temperature
    else:
        sq = np.sum(z * z, axis=1)
        dist = sq[:, None] + sq[None, :] - 2.0 * z @ z.T
        logits = -np.maximum(dist, 0.0) / (2.0 * temperature)
        positive = -np.sum((z - z_prime) ** 2, axis=1) / (2.0 * temperature)
        np.fill_diagonal(logits, positive)
    return _softmax_rows(logits)


def strong_augmentation_terms(weights, x, x_prime, temperature=1.0, similarity="gaussian"):
    """Lemma 2's two PSD matrices ``(Σ̂0, Σ̂1)`` for embeddings ``z = W x``.

    ``Σ̂0 = Σ_{i,j} α_ij (x_i − x_j)(x_i − x_j)ᵀ / τ`` and
    ``Σ̂1 = Σ_i (1 − α_ii)(x'_i − x_i)(x'_i − x_i)ᵀ / τ`` (the ``1/τ`` is the
    gradient's scale; ``τ = 1`` is the paper).

    Args:
        weights: ``W``, shape `(d_out, d_in)` (a Keras kernel transposed; for a
            deep linear net the product ``W_L ⋯ W_1``).
        x: Inputs, shape `(n, d_in)`.
        x_prime: Their augmented views, shape `(n, d_in)`.
        temperature: Positive τ. Defaults to `1.0`.
        similarity: `"gaussian"` or `"dot"`. Defaults to `"gaussian"`.

    Returns:
        Tuple of two float64 arrays `(d_in, d_in)`.
    """
    w, x, x_prime = _inputs(weights, x, x_prime)
    alpha = contrastive_weights(x @ w.T, x_prime @ w.T, temperature, similarity)
    # Σ_ij α_ij (x_i − x_j)(x_i − x_j)ᵀ = xᵀ (diag(r) + diag(c) − α − αᵀ) x.
    laplacian = np.diag(alpha.sum(axis=1) + alpha.sum(axis=0)) - alpha - alpha.T
    sigma0 = x.T @ laplacian @ x
    delta = x_prime - x
    sigma1 = (delta * (1.0 - np.diag(alpha))[:, None]).T @ delta
    return sigma0 / temperature, sigma1 / temperature


def strong_augmentation_x(weights, x, x_prime, temperature=1.0, similarity="gaussian"):
    """Lemma 2's ``X = Σ̂0 − Σ̂1`` (symmetric, `(d_in, d_in)`).

    Negative eigenvalues of ``X`` mark the input directions that collapse
    under strong augmentation (Theorem 1). See :func:`strong_augmentation_terms`.

    Args:
        weights: ``W``, shape `(d_out, d_in)`.
        x: Inputs, shape `(n, d_in)`.
        x_prime: Augmented views, shape `(n, d_in)`.
        temperature: Positive τ. Defaults to `1.0`.
        similarity: `"gaussian"` or `"dot"`. Defaults to `"gaussian"`.

    Returns:
        float64 array `(d_in, d_in)`.

    Example:

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> x_prime = x + np.array([[0.0, 3.0], [0.0, -3.0]])
    >>> np.round(strong_augmentation_x(np.zeros((2, 2)), x, x_prime), 3).tolist()
    [[4.0, 0.0], [0.0, -9.0]]

    Reference: Jing et al. 2022, arXiv 2110.09348, Lemma 2 and Theorem 1.
    """
    sigma0, sigma1 = strong_augmentation_terms(weights, x, x_prime, temperature, similarity)
    return sigma0 - sigma1


def infonce_gradient_x(weights, x, x_prime, temperature=1.0, similarity="gaussian"):
    """The exact ``X`` with ``∂L/∂W = −W X`` (so gradient flow is ``Ẇ = W X``).

    ``L = Σ_i ℓ_i`` is the one-directional InfoNCE with anchors ``z_i = W x_i``
    and positives ``z'_i = W x'_i``. Gaussian form (Eq. 6 divided by τ; the
    paper prints a minus sign before the first sum, which contradicts its
    Eq. 4 and Lemma 2 and fails the autodiff check)::

        X = [Σ_i (Σ_{j≠i} α_ij (x'_i − x_j) + Σ_{j≠i} α_ji (x_i − x_j)) x_iᵀ
             − Σ_i (1 − α_ii)(x'_i − x_i) x'_iᵀ] / τ

    Dot form (derived the same way for ``ℓ_i = −s_ii + log Σ_j e^{s_ij}``,
    ``s_ij = z_i · z'_j / τ``)::

        X = [Σ_i (x'_i x_iᵀ + x_i x'_iᵀ) − Σ_{i,j} α_ij (x'_j x_iᵀ + x_i x'_jᵀ)] / τ

    Args:
        weights: ``W``, shape `(d_out, d_in)`.
        x: Inputs, shape `(n, d_in)`.
        x_prime: Augmented views, shape `(n, d_in)`.
        temperature: Positive τ. Defaults to `1.0`.
        similarity: `"gaussian"` or `"dot"`. Defaults to `"gaussian"`.

    Returns:
        float64 array `(d_in, d_in)` (not symmetric in general for the Gaussian
        form).

    Reference: Jing et al. 2022, arXiv 2110.09348, Lemma 1, Eqs. 4-6.
    """
    w, x, x_prime = _inputs(weights, x, x_prime)
    alpha = contrastive_weights(x @ w.T, x_prime @ w.T, temperature, similarity)
    if similarity == "dot":
        cross = alpha @ x_prime  # row i: Σ_j α_ij x'_j
        positive = x_prime.T @ x + x.T @ x_prime
        return (positive - cross.T @ x - x.T @ cross) / temperature
    off = alpha.copy()
    np.fill_diagonal(off, 0.0)
    row = off.sum(axis=1)
    col = off.sum(axis=0)
    # Σ_{j≠i} α_ij (x'_i − x_j) + Σ_{j≠i} α_ji (x_i − x_j), one row per i.
    g = row[:, None] * x_prime - off @ x + col[:, None] * x - off.T @ x
    delta = x_prime - x
    return (g.T @ x - (delta * (1.0 - np.diag(alpha))[:, None]).T @ x_prime) / temperature


def predicted_collapsing_directions(x_matrix, rtol=0.0):
    """Eigenvectors of ``X`` with negative eigenvalues (Theorem 1).

    The symmetric part ``(X + Xᵀ)/2`` is used. An eigenvalue counts as
    negative when ``λ < −rtol · max|λ|``.

    Args:
        x_matrix: ``X``, shape `(d, d)`.
        rtol: Non-negative relative tolerance. Defaults to `0.0`.

    Returns:
        Tuple ``(eigenvalues, directions)``: the negative eigenvalues `(m,)`,
        most negative first, and the unit eigenvectors as columns `(d, m)`.

    Example:

    >>> import numpy as np
    >>> values, vectors = predicted_collapsing_directions(np.diag([2.0, -1.0]))
    >>> values.tolist(), np.abs(vectors).tolist()
    ([-1.0], [[0.0], [1.0]])
    """
    rtol = _checks.non_negative_float("rtol", rtol)
    m = _matrix("x_matrix", x_matrix)
    if m.shape[0] != m.shape[1]:
        raise ValueError(
            "Invalid value for argument `x_matrix`. Expected a square matrix. "
            f"Received: x_matrix.shape={m.shape}"
        )
    values, vectors = np.linalg.eigh(0.5 * (m + m.T))
    scale = np.max(np.abs(values)) if values.size else 0.0
    keep = values < -rtol * scale
    return values[keep], vectors[:, keep]


def subspace_overlap(a, b):
    """Overlap ``‖P_a P_b‖_F² / min(rank a, rank b)`` of two column spans, in [0, 1].

    1 when the smaller subspace lies inside the larger one, 0 when they are
    orthogonal; for random subspaces of dimensions ``p, q`` in ``R^d`` about
    ``max(p, q)/d``.

    Args:
        a: Basis vectors as columns, shape `(d, p)` (orthonormalised here).
        b: Basis vectors as columns, shape `(d, q)`.

    Returns:
        float (``nan`` when either subspace is empty).

    Example:

    >>> import numpy as np
    >>> subspace_overlap(np.eye(3)[:, :2], np.eye(3)[:, 1:])
    0.5
    """
    a = _matrix("a", a)
    b = _matrix("b", b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            "Invalid value for argument `b`. Expected as many rows as `a`. "
            f"Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    if a.shape[1] == 0 or b.shape[1] == 0:
        return float("nan")
    qa = np.linalg.qr(a)[0]
    qb = np.linalg.qr(b)[0]
    return float(np.sum((qa.T @ qb) ** 2) / min(qa.shape[1], qb.shape[1]))
