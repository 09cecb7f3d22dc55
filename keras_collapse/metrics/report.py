"""Everything about one encoder's collapse on one dataset, in one object."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_collapse import _checks
from keras_collapse.metrics import rank, weights
from keras_collapse.metrics._probe import accumulate_embeddings, input_rank, resolve
from keras_collapse.metrics.spectrum import accumulate


def scalar_metrics(z, rtol=rank.COLLAPSE_RTOL):
    """The scalar collapse measures of embeddings, as a dict.

    Keys: ``effective_rank`` (centred), ``rankme`` (uncentred), ``auc``,
    ``collapsed_dims`` (relative threshold ``rtol``), ``normalized_std`` and
    ``complete_collapse`` (0 or 1, see
    :func:`~keras_collapse.metrics.is_completely_collapsed`).

    Args:
        z: embeddings of shape `(num_samples, dim)`, or a CovarianceAccumulator.
        rtol: threshold of :func:`~keras_collapse.metrics.collapsed_dimensions`.
            Defaults to `1e-5`.

    Returns:
        dict str → float.

    Example:

    >>> import numpy as np
    >>> m = scalar_metrics(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
    >>> {k: round(v, 4) for k, v in m.items()}
    {'effective_rank': 2.0, 'rankme': 2.0, 'auc': 0.75, 'collapsed_dims': 0.0, 'normalized_std': 0.7071, 'complete_collapse': 0.0}
    """
    acc = accumulate(z)
    return {
        "effective_rank": rank.effective_rank(acc),
        "rankme": rank.rankme(acc),
        "auc": rank.auc(acc),
        "collapsed_dims": float(rank.collapsed_dimensions(acc, rtol)),
        "normalized_std": rank.normalized_std(acc),
        "complete_collapse": float(rank.is_completely_collapsed(acc)),
    }


@dataclasses.dataclass
class SpectrumReport:
    """Collapse diagnostics of one encoder output on one dataset.

    Attributes:
        eigenvalues: covariance eigenvalues, descending, shape `(dim,)`.
        cumulative_explained_variance: ``e_k`` behind ``auc``, shape `(dim,)`.
        effective_rank: Roy & Vetterli effective rank of the centred embeddings.
        rankme: RankMe of the uncentred embeddings (arXiv 2210.02885).
        auc: Li et al. AUC (arXiv 2209.15007), in ``[(d+1)/(2d), 1]``.
        collapsed_dims: eigenvalues below ``rtol`` times the largest.
        normalized_std: mean per-dim std of ``z/‖z‖``.
        complete_collapse: all embeddings numerically equal.
        num_samples: how many embeddings were streamed.
        weight_singular_values: layer path → singular values of its kernel.
        alignment: ``"first -> second"`` → ``|V_2ᵀ U_1|`` (arXiv 2110.09348).
    """

    eigenvalues: np.ndarray
    cumulative_explained_variance: np.ndarray
    effective_rank: float
    rankme: float
    auc: float
    collapsed_dims: int
    normalized_std: float
    complete_collapse: bool
    num_samples: int
    weight_singular_values: dict
    alignment: dict

    @property
    def singular_values(self):
        """Singular values of the centred `(num_samples, dim)` matrix, ``sqrt(N λ)``."""
        return np.sqrt(np.maximum(self.eigenvalues, 0.0) * self.num_samples)

    @property
    def alignment_scores(self):
        """Pair → mean ``|diag(A)|`` (1 when aligned)."""
        return {pair: weights.alignment_score(a) for pair, a in self.alignment.items()}

    def to_dict(self, matrices=False):
        """A JSON-friendly dict (lists and floats).

        Args:
            matrices: include the full alignment matrices (can be large) in
                ``"alignment"``; otherwise only ``"alignment_scores"``.
                Defaults to `False`.
        """
        out = {
            "eigenvalues": self.eigenvalues.tolist(),
            "singular_values": self.singular_values.tolist(),
            "cumulative_explained_variance": self.cumulative_explained_variance.tolist(),
            "effective_rank": float(self.effective_rank),
            "rankme": float(self.rankme),
            "auc": float(self.auc),
            "collapsed_dims": int(self.collapsed_dims),
            "normalized_std": float(self.normalized_std),
            "complete_collapse": bool(self.complete_collapse),
            "num_samples": int(self.num_samples),
            "weight_singular_values": {
                k: v.tolist() for k, v in self.weight_singular_values.items()},
            "alignment_scores": self.alignment_scores,
        }
        if matrices:
            out["alignment"] = {k: v.tolist() for k, v in self.alignment.items()}
        return out

    def figure(self):
        """Log spectrum, cumulative explained variance and weight spectra."""
        from keras_collapse import plots

        return plots.report_figure(self)


def spectrum_report(model, dataset, *, layer=None, output=None, batch_size=256,
                    rtol=rank.COLLAPSE_RTOL, include_weights=True, max_examples=None):
    """Spectrum, ranks, AUC, collapsed dims, weight spectra and alignment.

    Streams the embeddings of ``dataset`` through ``model`` into float64 sums
    (no `(num_samples, dim)` matrix is kept), then does one eigen-decomposition
    of the `(dim, dim)` covariance and one of the second moment.  Works on the
    representation and on the embedding (Jing et al. 2022, Fig. 7):

    * ``model`` a Keras layer/model: its output;
    * ``layer="name"``: the output of that layer (of a functional/Sequential
      model, or of ``model.encoder``);
    * a model with ``encoder``/``head`` attributes: ``output="representation"``
      (encoder output) or ``"embedding"`` (head output, the default);
    * ``model=None``: ``dataset`` already holds the embeddings.

    Args:
        model: Keras layer/model, siamese-like model, or None.
        dataset: an array of shape `(num_samples, ...)`, or a tf.data.Dataset
            of batches or of single examples (batched here), whose elements
            are ``x``, ``(x, y)`` (``x`` is used), dicts with ``"image"``, or
            two-view training elements ``((view_a, view_b),)`` (view a is
            used).
        layer: name of the layer whose output is analysed. Defaults to `None`.
        output: ``"representation"`` or ``"embedding"`` for siamese-like
            models. Defaults to `None` (``"embedding"``).
        batch_size: batch size used to split arrays. Defaults to `256`.
        rtol: threshold of collapsed dimensions. Defaults to `1e-5`.
        include_weights: compute weight spectra and alignment. Defaults to `True`.
        max_examples: use only the first this-many examples. Defaults to
            `None` (all; an infinite dataset, e.g. from ``.repeat()``, then
            raises instead of reading forever).

    Returns:
        :class:`SpectrumReport`.

    Raises:
        ValueError: empty or infinite dataset (without ``max_examples``),
            NaN/Inf or non-rank-2 embeddings, unknown layer or output name.

    Example:

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(512, 4)) * [1.0, 1.0, 0.0, 0.0]
    >>> report = spectrum_report(None, z)
    >>> report.collapsed_dims, round(report.effective_rank, 1)
    (2, 2.0)

    Reference: Jing et al. 2022, arXiv 2110.09348; Li et al. 2022, arXiv 2209.15007.
    """
    rtol = _checks.positive_float("rtol", rtol)
    embed_fn, roots = resolve(model, layer=layer, output=output)
    if max_examples is not None:
        max_examples = _checks.positive_int("max_examples", max_examples)
    acc = accumulate_embeddings(
        embed_fn, dataset, batch_size, "dataset",
        "dataset" if model is None else "embeddings", max_examples,
        2 if model is None else input_rank(model))
    scalars = scalar_metrics(acc, rtol)
    weight_sv, alignment = (weights.weight_diagnostics(roots) if include_weights and roots
                            else ({}, {}))
    return SpectrumReport(
        eigenvalues=acc.spectrum(),
        cumulative_explained_variance=rank.cumulative_explained_variance(acc),
        effective_rank=scalars["effective_rank"],
        rankme=scalars["rankme"],
        auc=scalars["auc"],
        collapsed_dims=int(scalars["collapsed_dims"]),
        normalized_std=scalars["normalized_std"],
        complete_collapse=bool(scalars["complete_collapse"]),
        num_samples=acc.count,
        weight_singular_values=weight_sv,
        alignment=alignment,
    )
