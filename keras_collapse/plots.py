"""Figures of embedding spectra, weight spectra and alignment matrices.

Built on ``matplotlib.figure.Figure`` directly (no pyplot, no global state,
Agg canvas), so they work headless and inside training callbacks.  Every
function returns a ``matplotlib.figure.Figure``; :func:`figure_to_png` turns
one into PNG bytes (for TensorBoard or files).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_collapse import _checks
from keras_collapse.metrics import cumulative_from_eigenvalues, log_spectrum

_MAX_LEGEND = 8
# Heatmaps show at most this many cells a side (a panel is ~250 pixels wide).
_MAX_CELLS = 128


def _new_figure(ncols=1, width=5.0, height=3.6, bottom=0.6):
    fig = Figure(figsize=(width * ncols, height), dpi=80)
    FigureCanvasAgg(fig)
    # Fixed margins in inches (room for tick labels, axis labels and a
    # two-line title) rather than a layout engine: constrained layout drew
    # every figure twice and was ~40% of the SpectrumLogger's image time.
    total = width * ncols
    fig.subplots_adjust(left=0.75 / total, right=1 - 0.2 / total, bottom=bottom / height,
                        top=1 - 0.5 / height, wspace=1.1 / (width - 0.95))
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _as_curves(curves, name):
    """A 1-D array → ``{"": array}``; a mapping is kept in order."""
    if hasattr(curves, "items"):
        items = [(str(k), np.asarray(v, dtype=np.float64)) for k, v in curves.items()]
    else:
        items = [("", np.asarray(curves, dtype=np.float64))]
    if not items or any(v.ndim != 1 or v.size == 0 for _, v in items):
        raise _checks.invalid(
            name, "a non-empty 1-D array or a mapping label → 1-D array",
            {k: v.shape for k, v in items})
    return items


def _plot_history(ax, items, transform):
    """One curve per item, coloured from light (first) to dark (last)."""
    colors = _colors(len(items))
    for (label, values), color in zip(items, colors):
        ax.plot(np.arange(1, values.size + 1), transform(values), color=color,
                label=label or None, lw=1.2)
    if any(label for label, _ in items):
        shown = items if len(items) <= _MAX_LEGEND else [items[0], items[-1]]
        handles = [h for h in ax.get_lines() if h.get_label() in {k for k, _ in shown}]
        # A fixed corner: loc="best" searches all the data (most of the cost of
        # drawing); spectra fall from the upper left, so the upper right is free.
        ax.legend(handles=handles, fontsize=7, loc="upper right")


def _colors(n):
    from matplotlib import colormaps

    cmap = colormaps["viridis_r"]
    return [cmap(0.15 + 0.85 * i / max(n - 1, 1)) for i in range(n)]


def plot_log_spectrum(ax, spectra):
    """Draws ``log λ_k`` against ``k`` (one curve per entry) on ``ax``."""
    _plot_history(ax, _as_curves(spectra, "spectra"), log_spectrum)
    ax.set_xlabel("singular value rank index k")
    ax.set_ylabel("log of eigenvalue λ_k")
    ax.set_title("covariance spectrum")


def spectrum_figure(spectra, title=None):
    """Log-scale covariance spectrum, optionally its history over training.

    Plots ``log λ_k`` (natural log, zeros floored at float64 resolution) against
    the rank index ``k``, as in Jing et al. 2022, Fig. 2.

    Args:
        spectra: eigenvalues of shape `(dim,)`, sorted descending, or a mapping
            label (e.g. ``"epoch 3"``) → eigenvalues, oldest first.
        title: figure title. Defaults to `None`.

    Returns:
        ``matplotlib.figure.Figure``.

    Example:

    >>> fig = spectrum_figure({"epoch 0": [3.0, 1.0, 0.1], "epoch 9": [3.0, 0.5, 0.0]})
    >>> len(fig.axes[0].lines)
    2

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 2.
    """
    fig, (ax,) = _new_figure()
    plot_log_spectrum(ax, spectra)
    if title:
        ax.set_title(title)
    return fig


def plot_weight_spectra(ax, singular_values):
    """Draws ``log σ_k`` of each layer's kernel on ``ax``."""
    if not singular_values:
        ax.text(0.5, 0.5, "no Dense/Conv kernels", ha="center", va="center")
    else:
        _plot_history(ax, _as_curves(singular_values, "singular_values"),
                      lambda s: np.log(np.maximum(s, 1e-300)))
    ax.set_xlabel("singular value rank index k")
    ax.set_ylabel("log of singular value σ_k")
    ax.set_title("weight matrix spectra")


def weight_spectra_figure(singular_values):
    """Singular values of each layer's kernel, log scale (Jing et al. Fig. 5).

    Args:
        singular_values: mapping layer path → singular values `(rank,)`, e.g.
            from :func:`keras_collapse.metrics.weight_singular_values`.

    Returns:
        ``matplotlib.figure.Figure``.

    Example:

    >>> fig = weight_spectra_figure({"dense": [2.0, 1.0], "dense_1": [1.0, 0.1]})
    >>> len(fig.axes[0].lines)
    2

    Reference: Jing et al. 2022, arXiv 2110.09348, Fig. 5.
    """
    fig, (ax,) = _new_figure()
    plot_weight_spectra(ax, singular_values)
    return fig


def alignment_figure(matrices, max_pairs=4):
    """Heatmaps of alignment matrices ``|V_{l+1}ᵀ U_l|`` (Jing et al. Fig. 4).

    Args:
        matrices: mapping ``"first -> second"`` → matrix, e.g. from
            :func:`keras_collapse.metrics.alignment_matrices`.
        max_pairs: at most this many (the last ones, nearest the output).
            Defaults to `4`.

    Returns:
        ``matplotlib.figure.Figure``.

    Example:

    >>> import numpy as np
    >>> fig = alignment_figure({"a -> b": np.eye(3)})
    >>> len(fig.axes)
    2

    Reference: Jing et al. 2022, arXiv 2110.09348, Theorem 2, Fig. 4.
    """
    max_pairs = _checks.positive_int("max_pairs", max_pairs)
    items = list(matrices.items())[-max_pairs:]
    fig, axes = _new_figure(ncols=max(len(items), 1), width=3.6, height=3.4, bottom=0.8)
    if not items:
        axes[0].text(0.5, 0.5, "no consecutive linear layers", ha="center", va="center")
        axes[0].set_axis_off()
    for ax, (pair, matrix) in zip(axes, items):
        cells, block = _max_pool(np.abs(np.asarray(matrix)), _MAX_CELLS)
        image = ax.imshow(cells, vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest",
                          aspect="auto",
                          extent=(-0.5, matrix.shape[1] - 0.5, matrix.shape[0] - 0.5, -0.5))
        first, arrow, second = pair.partition(" -> ")
        ax.set_title(f"{_tail(first)}\n→ {_tail(second)}" if arrow else _tail(pair), fontsize=7)
        ax.set_xlabel("left singular vector of W_l"
                      + ("" if block == 1 else f"\n(max over {block}×{block} blocks)"))
        ax.set_ylabel("right sing. vector of W_l+1")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _tail(name, width=34):
    """The end of a long layer path, which names the layer (titles must fit)."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _max_pool(matrix, max_cells):
    """`(pooled, block)`: the maximum over `block × block` blocks, so that no
    side exceeds `max_cells` (a large entry stays visible; rendering a
    512×512 image into a small panel cost most of the logger's image time)."""
    block = max(1, -(-max(matrix.shape) // max_cells))
    if block == 1:
        return matrix, 1
    rows, cols = (-(-n // block) * block for n in matrix.shape)
    padded = np.zeros((rows, cols), matrix.dtype)
    padded[:matrix.shape[0], :matrix.shape[1]] = matrix
    return padded.reshape(rows // block, block, cols // block, block).max(axis=(1, 3)), block


def report_figure(report, weights=True):
    """Log spectrum, cumulative explained variance and weight spectra side by side.

    Args:
        report: a :class:`keras_collapse.metrics.SpectrumReport`.
        weights: draw the weight spectra panel. Defaults to `True`.

    Returns:
        ``matplotlib.figure.Figure`` with three axes (two without weights).

    Example:

    >>> import numpy as np, keras_collapse as kc
    >>> z = np.random.default_rng(0).normal(size=(64, 4))
    >>> report = kc.metrics.spectrum_report(None, z)
    >>> len(report_figure(report).axes), len(report_figure(report, weights=False).axes)
    (3, 2)

    Reference: Jing et al. 2022, arXiv 2110.09348; Li et al. 2022, arXiv 2209.15007.
    """
    fig, axes = _new_figure(ncols=3 if weights else 2, width=4.2)
    ax_spec, ax_cum = axes[:2]
    plot_log_spectrum(ax_spec, report.eigenvalues)
    curve = cumulative_from_eigenvalues(report.eigenvalues)
    ax_cum.plot(np.arange(1, curve.size + 1), curve, color="C0")
    ax_cum.set_ylim(0.0, 1.02)
    ax_cum.set_xlabel("k")
    ax_cum.set_ylabel("e_k = Σ_{i≤k} σ_i / Σ σ_i")
    ax_cum.set_title(f"cumulative explained variance (AUC {report.auc:.3f})")
    if weights:
        plot_weight_spectra(axes[2], report.weight_singular_values)
    return fig


def figure_to_png(fig, dpi=None):
    """PNG bytes of a figure.

    Args:
        fig: ``matplotlib.figure.Figure``.
        dpi: resolution. Defaults to `None` (the figure's own).

    Returns:
        bytes starting with the PNG signature.

    Example:

    >>> figure_to_png(spectrum_figure([2.0, 1.0]))[:4]
    b'\\x89PNG'
    """
    if not isinstance(fig, Figure):
        raise _checks.invalid("fig", "a matplotlib.figure.Figure", fig, TypeError)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
