"""Data sources: the papers' Gaussian toy data, bundled digits, and TFDS.

Nothing here downloads by default: :func:`digits` ships with scikit-learn and
:func:`tfds` reads a prepared copy unless ``download=True``.
"""

from __future__ import annotations

import numpy as np

from keras_collapse import _checks
from keras_collapse.data.noise import psd_factor


def _component_counts(weights, n):
    """Split ``n`` by ``weights`` exactly (largest remainders)."""
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.size == 0 or np.any(weights < 0) or weights.sum() <= 0:
        raise _checks.invalid("mixture", "non-negative 'weights' with a positive sum",
                              weights.tolist())
    share = weights / weights.sum() * n
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def synthetic_gaussian(n, dim, covariance=None, seed=0, mixture=None):
    """Gaussian toy data ``x ~ N(0, covariance)`` or an imbalanced mixture.

    Jing et al. 2022 (arXiv 2110.09348) use ``n=10_000``, ``dim=16``,
    ``covariance=I``. With ``mixture``, component ``j`` gets exactly
    ``round(weights[j] / sum(weights) * n)`` points (largest remainders) drawn
    from ``N(means[j], covariances[j])`` and the labels ``j`` are returned,
    e.g. for a data-imbalance study (Ziyin et al., arXiv 2210.00638).

    Args:
        n: number of points.
        dim: dimension ``d``.
        covariance: ``(dim, dim)`` symmetric PSD matrix (may be singular), or
            ``None`` for the identity. Defaults to ``None``.
        seed: integer seed. Defaults to ``0``.
        mixture: ``None`` or a dict with ``"weights"`` ``(k,)``, ``"means"``
            ``(k, dim)`` and optional ``"covariances"`` ``(k, dim, dim)``
            (default: ``covariance`` for every component). Defaults to ``None``.

    Returns:
        ``x`` of shape ``(n, dim)`` float32, or ``(x, labels)`` with int64
        labels ``(n,)`` (shuffled) when ``mixture`` is given.

    >>> synthetic_gaussian(100, 16, seed=0).shape
    (100, 16)
    >>> x, y = synthetic_gaussian(10, 2, mixture={"weights": [0.9, 0.1],
    ...                                           "means": [[0, 0], [5, 5]]})
    >>> np.bincount(y).tolist()
    [9, 1]
    """
    n = _checks.positive_int("n", n)
    dim = _checks.positive_int("dim", dim)
    if covariance is None:
        covariance = np.eye(dim)
    factor = psd_factor(covariance)
    if factor.shape[0] != dim:
        raise _checks.invalid("covariance", f"a ({dim}, {dim}) matrix",
                              f"array of shape {factor.shape}")
    rng = np.random.default_rng(int(seed))
    if mixture is None:
        return (rng.standard_normal((n, dim)) @ factor.T).astype(np.float32)
    if not isinstance(mixture, dict) or not {"weights", "means"} <= set(mixture):
        raise _checks.invalid("mixture", "a dict with 'weights' and 'means'", mixture, TypeError)
    counts = _component_counts(mixture["weights"], n)
    means = np.asarray(mixture["means"], dtype=np.float64)
    if means.shape != (counts.size, dim):
        raise _checks.invalid("mixture", f"'means' of shape ({counts.size}, {dim})",
                              f"means of shape {means.shape}")
    covariances = mixture.get("covariances")
    if covariances is not None and len(covariances) != counts.size:
        raise _checks.invalid("mixture", f"{counts.size} 'covariances'",
                              f"{len(covariances)} covariances")
    parts, labels = [], []
    for j, count in enumerate(counts):
        comp_factor = factor if covariances is None else psd_factor(covariances[j])
        parts.append(means[j] + rng.standard_normal((count, dim)) @ comp_factor.T)
        labels.append(np.full(count, j, dtype=np.int64))
    order = rng.permutation(n)
    return np.concatenate(parts)[order].astype(np.float32), np.concatenate(labels)[order]


def digits(test_fraction=None, seed=0):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline).

    Args:
        test_fraction: ``None`` for all the data, or the share held out in a
            deterministic stratified split. Defaults to ``None``.
        seed: seed of the split. Defaults to ``0``.

    Returns:
        ``(x, y)`` with ``x`` float32 ``(N, 8, 8, 1)`` in ``[0, 1]`` and int64
        labels ``(N,)``; or ``((x_train, y_train), (x_test, y_test))``.

    >>> x, y = digits()
    >>> x.shape, x.dtype.name, float(x.max())
    ((1797, 8, 8, 1), 'float32', 1.0)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    if test_fraction is None:
        return x, y
    test_fraction = _checks.probability("test_fraction", test_fraction)
    if not 0.0 < test_fraction < 1.0:
        raise _checks.invalid("test_fraction", "a float in (0, 1)", test_fraction)
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=int(seed), stratify=y)
    return (x_tr, y_tr), (x_te, y_te)


def tfds(name, split="train", data_dir=None, download=False, as_numpy=False,
         max_examples=None):
    """Images and labels of a TensorFlow Datasets image dataset.

    Reads a prepared copy (``download=False``, the default) so it never
    touches the network unless asked. Works with ``cifar10``, ``stl10``,
    ``imagenet2012`` (manual download) or any dataset with ``image`` and
    ``label`` features.

    Args:
        name: TFDS name, e.g. ``"cifar10"``.
        split: TFDS split string. Defaults to ``"train"``.
        data_dir: directory with the prepared dataset; ``None`` for the TFDS
            default (``~/tensorflow_datasets``). Defaults to ``None``.
        download: download and prepare when missing. Defaults to ``False``.
        as_numpy: return NumPy arrays ``(images, labels)`` instead of a
            ``tf.data.Dataset``. Defaults to ``False``.
        max_examples: keep at most this many examples. Defaults to ``None``.

    Returns:
        A ``tf.data.Dataset`` of ``(image, label)`` (uint8 images
        ``(height, width, channels)``), or arrays ``(images, labels)`` with
        images ``(N, height, width, channels)``.

    Raises:
        ValueError: unknown name, or the dataset is not prepared in
            ``data_dir`` and ``download=False``.

    >>> import tensorflow_datasets as tensorflow_datasets
    >>> with tensorflow_datasets.testing.mock_data(num_examples=4):
    ...     x, y = tfds("cifar10", as_numpy=True)
    >>> x.shape, y.shape
    ((4, 32, 32, 3), (4,))
    """
    import tensorflow_datasets

    try:
        builder = tensorflow_datasets.builder(name, data_dir=data_dir)
    except tensorflow_datasets.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"Invalid value for argument `name`. Expected a TensorFlow Datasets name "
            f"such as 'cifar10', 'stl10' or 'imagenet2012' (see "
            f"tensorflow_datasets.list_builders()). Received: name={name!r}") from None
    if download:
        builder.download_and_prepare()
    try:
        dataset = builder.as_dataset(split=split, as_supervised=True)
    except (AssertionError, FileNotFoundError,
            tensorflow_datasets.core.registered.DatasetNotFoundError) as error:
        raise ValueError(
            f"Dataset {name!r} (split {split!r}) is not prepared in data_dir={data_dir!r} "
            f"and download=False. Pass data_dir=... pointing at a prepared copy, or "
            f"run with internet and download=True to download and prepare it. "
            f"TFDS said: {error}") from None
    if max_examples is not None:
        dataset = dataset.take(_checks.positive_int("max_examples", max_examples))
    if not as_numpy:
        return dataset
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)
