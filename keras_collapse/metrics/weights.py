"""Singular values of Dense/Conv kernels and the alignment between layers.

Conventions: a Keras ``Dense`` kernel ``K`` has shape `(d_in, d_out)` and
computes ``y = x K``, so the paper's weight matrix (``z = W x``, shape
`(d_out, d_in)`) is ``W = Kᵀ``.  Conv kernels `(kh, kw, c_in, c_out)` are
flattened to `(kh·kw·c_in, c_out)` first.  With ``W_l = U_l S_l V_lᵀ``, the
alignment matrix of consecutive layers is ``A = V_{l+1}ᵀ U_l`` (Jing et al.
2022, Theorem 2, Fig. 4).
"""

from __future__ import annotations

import collections

import keras
import numpy as np

from keras_collapse import _checks

_LINEAR_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
                  keras.layers.Conv3D)


def kernel_matrix(kernel):
    """A Dense/Conv kernel as the paper's matrix ``W``, shape `(d_out, d_in)`.

    ``W = reshape(K, (-1, c_out))ᵀ``.

    Args:
        kernel: array of shape `(d_in, d_out)` or `(*window, c_in, c_out)`.

    Returns:
        float64 array of shape `(d_out, prod(window)·c_in)`.

    Example:

    >>> import numpy as np
    >>> kernel_matrix(np.zeros((3, 3, 2, 4))).shape
    (4, 18)
    """
    try:
        k = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise _checks.invalid("kernel", "a numeric kernel array",
                              f"{type(kernel).__name__} not convertible to floats",
                              TypeError) from None
    if k.ndim < 2:
        raise _checks.invalid(
            "kernel", "a kernel of rank >= 2", f"array of shape {k.shape}")
    return k.reshape(-1, k.shape[-1]).T


def linear_kernels(layers):
    """Ordered dict ``layer path → W`` for every Dense/Conv layer under ``layers``.

    Args:
        layers: a Keras layer/model, or a list of them (searched recursively,
            in order; each layer counted once).

    Returns:
        ``collections.OrderedDict`` of float64 matrices `(d_out, d_in)`.
    """
    roots = layers if isinstance(layers, (list, tuple)) else [layers]
    kernels = collections.OrderedDict()
    for root in roots:
        if not isinstance(root, keras.layers.Layer):
            raise _checks.invalid("layers", "Keras layers or models", root, TypeError)
        for layer in root._flatten_layers(include_self=True, recursive=True):
            if isinstance(layer, _LINEAR_LAYERS) and layer.built:
                path = getattr(layer, "path", None) or layer.name
                kernels.setdefault(path, kernel_matrix(keras.ops.convert_to_numpy(layer.kernel)))
    return kernels


def weight_singular_values(layers):
    """Singular values of every Dense/Conv kernel, descending.

    Args:
        layers: a Keras layer/model, or a list of them.

    Returns:
        ``collections.OrderedDict`` layer path → float64 array `(min(d_in, d_out),)`.

    Example:

    >>> import keras, numpy as np
    >>> dense = keras.layers.Dense(2, use_bias=False, name="d")
    >>> dense.build((None, 2))
    >>> _ = dense.kernel.assign(np.diag([3.0, 0.5]))
    >>> {k: v.tolist() for k, v in weight_singular_values(dense).items()}
    {'d': [3.0, 0.5]}

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 5.
    """
    return collections.OrderedDict(
        (path, np.linalg.svd(w, compute_uv=False))
        for path, w in linear_kernels(layers).items())


def alignment_matrix(w_first, w_second):
    """Absolute alignment matrix ``|A| = |V_2ᵀ U_1|`` of two consecutive layers.

    ``W_1 = U_1 S_1 V_1ᵀ`` maps ``x → h``, ``W_2 = U_2 S_2 V_2ᵀ`` maps
    ``h → z`` (paper convention, ``W = Kᵀ`` of a Keras kernel).
    ``A[k, j] = ⟨v_2k, u_1j⟩``.  Singular vectors are defined only up to sign,
    so the absolute value is returned; aligned layers give the identity.

    Args:
        w_first: ``W_1``, shape `(d_h, d_in)`.
        w_second: ``W_2``, shape `(d_out, d_h)`.

    Returns:
        float64 array of shape `(min(d_out, d_h), min(d_h, d_in))`.

    Example:

    >>> import numpy as np
    >>> u = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> w1 = u @ np.diag([2.0, 1.0])      # U_1 = u, V_1 = I
    >>> w2 = np.diag([3.0, 0.5]) @ u.T    # U_2 = I, V_2 = u
    >>> alignment_matrix(w1, w2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]

    Reference: Jing et al. 2022, arXiv 2110.09348, Theorem 2, Fig. 4.
    """
    w1 = np.asarray(w_first, dtype=np.float64)
    w2 = np.asarray(w_second, dtype=np.float64)
    if w1.ndim != 2 or w2.ndim != 2 or w2.shape[1] != w1.shape[0]:
        raise _checks.invalid(
            "w_second", f"a matrix of shape (d_out, {w1.shape[0]}) following "
            f"w_first of shape {w1.shape}", f"array of shape {w2.shape}")
    u1 = np.linalg.svd(w1, full_matrices=False)[0]
    v2t = np.linalg.svd(w2, full_matrices=False)[2]
    return np.abs(v2t @ u1)


def alignment_matrices(layers):
    """``|V_{l+1}ᵀ U_l|`` for each consecutive pair of Dense/Conv layers.

    Pairs are consecutive in :func:`linear_kernels` order whose shapes chain
    (``d_out`` of the first = ``d_in`` of the second after flattening, e.g.
    Dense → Dense or 1×1 convs); other pairs are skipped.

    Args:
        layers: a Keras layer/model, or a list of them.

    Returns:
        ``collections.OrderedDict`` ``"first -> second"`` → matrix.
    """
    items = list(linear_kernels(layers).items())
    return collections.OrderedDict(
        (f"{p1} -> {p2}", alignment_matrix(w1, w2))
        for (p1, w1), (p2, w2) in zip(items, items[1:])
        if w2.shape[1] == w1.shape[0])


def weight_diagnostics(layers):
    """:func:`weight_singular_values` and :func:`alignment_matrices` together,
    with ONE SVD per kernel (instead of up to three).

    Args:
        layers: a Keras layer/model, or a list of them.

    Returns:
        ``(singular_values, alignment)``, both ``collections.OrderedDict``.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    >>> sv, align = weight_diagnostics(model)
    >>> [v.shape for v in sv.values()], [a.shape for a in align.values()]
    ([(3,), (2,)], [(2, 3)])
    """
    items = list(linear_kernels(layers).items())
    svds = [np.linalg.svd(w, full_matrices=False) for _, w in items]
    singular_values = collections.OrderedDict(
        (path, svd[1]) for (path, _), svd in zip(items, svds))
    alignment = collections.OrderedDict(
        (f"{p1} -> {p2}", np.abs(svd2[2] @ svd1[0]))
        for (p1, w1), (p2, w2), svd1, svd2 in zip(items, items[1:], svds, svds[1:])
        if w2.shape[1] == w1.shape[0])
    return singular_values, alignment


def alignment_score(matrix):
    """Mean of ``|diag(A)|``: 1 for perfectly aligned layers.

    For independent random orthogonal bases of size ``d`` it is about
    ``sqrt(2/(π d))``.

    Args:
        matrix: alignment matrix of shape `(r_2, r_1)`.

    Returns:
        float.

    Example:

    >>> import numpy as np
    >>> alignment_score(np.eye(3))
    1.0

    Reference: Jing et al. 2022, arXiv 2110.09348, Theorem 2.
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise _checks.invalid("matrix", "a non-empty 2-D matrix",
                              f"array of shape {a.shape}")
    return float(np.mean(np.abs(np.diag(a))))
