"""Collapse diagnostics: embedding spectra, ranks, AUC, weight alignment.

Pure functions of embeddings `(num_samples, dim)` (or of a streaming
:class:`CovarianceAccumulator`), weight-matrix diagnostics of Keras models,
and :func:`spectrum_report` that gathers them for one encoder on one dataset.

References: Jing et al. 2022 (arXiv 2110.09348), Li et al. 2022
(arXiv 2209.15007), Garrido et al. 2023 (arXiv 2210.02885), Roy & Vetterli 2007.
"""

from keras_collapse.metrics.rank import (
    COLLAPSE_RTOL,
    RANKME_EPS,
    auc,
    collapsed_dimensions,
    cumulative_explained_variance,
    cumulative_from_eigenvalues,
    effective_rank,
    is_completely_collapsed,
    normalized_auc,
    normalized_std,
    rankme,
    spectral_entropy_rank,
)
from keras_collapse.metrics.report import SpectrumReport, scalar_metrics, spectrum_report
from keras_collapse.metrics.spectrum import (
    CovarianceAccumulator,
    covariance,
    covariance_spectrum,
    log_spectrum,
)
from keras_collapse.metrics.weights import (
    alignment_matrices,
    alignment_matrix,
    alignment_score,
    kernel_matrix,
    linear_kernels,
    weight_diagnostics,
    weight_singular_values,
)

__all__ = [
    "COLLAPSE_RTOL",
    "RANKME_EPS",
    "CovarianceAccumulator",
    "SpectrumReport",
    "alignment_matrices",
    "alignment_matrix",
    "alignment_score",
    "auc",
    "normalized_auc",
    "collapsed_dimensions",
    "covariance",
    "covariance_spectrum",
    "cumulative_explained_variance",
    "cumulative_from_eigenvalues",
    "effective_rank",
    "is_completely_collapsed",
    "kernel_matrix",
    "linear_kernels",
    "log_spectrum",
    "normalized_std",
    "rankme",
    "scalar_metrics",
    "spectral_entropy_rank",
    "spectrum_report",
    "weight_diagnostics",
    "weight_singular_values",
]
