"""Tests of keras_collapse.plots: figures built headless, PNG bytes decode."""

import io

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_collapse import metrics as km
from keras_collapse import plots


def decode(png):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_spectrum_figure_history_plots_log_eigenvalues():
    history = {"epoch 0": [4.0, 1.0, 0.25], "epoch 5": [4.0, 0.5, 0.0]}
    fig = plots.spectrum_figure(history, title="t")
    assert isinstance(fig, Figure)
    lines = fig.axes[0].lines
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), np.log([4.0, 1.0, 0.25]))
    np.testing.assert_allclose(lines[0].get_xdata(), [1, 2, 3])
    assert np.isfinite(lines[1].get_ydata()).all()  # the zero is floored
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == list(history)


def test_many_curves_keep_legend_short():
    fig = plots.spectrum_figure({f"epoch {i}": [1.0, 0.1] for i in range(20)})
    assert len(fig.axes[0].lines) == 20
    assert len(fig.axes[0].get_legend().get_texts()) == 2


def test_weight_and_alignment_figures():
    fig = plots.weight_spectra_figure({"a": [2.0, 1.0], "b": [3.0, 0.1, 0.01]})
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), np.log([3.0, 0.1, 0.01]))
    fig = plots.alignment_figure({f"p{i}": np.eye(3) for i in range(6)}, max_pairs=2)
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == ["p4", "p5"]
    np.testing.assert_allclose(heatmaps[0].images[0].get_array(), np.eye(3))
    assert plots.alignment_figure({}).axes  # empty: a note, no crash
    assert plots.weight_spectra_figure({}).axes


def test_report_figure_and_png():
    z = np.random.default_rng(0).normal(size=(100, 5)) * [2, 1, 1, 0.1, 0]
    report = km.spectrum_report(None, z)
    fig = plots.report_figure(report)
    assert len(fig.axes) == 3
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(),
                               report.cumulative_explained_variance)
    png = plots.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = decode(png)
    assert image.ndim == 3 and image.shape[0] > 100


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"argument `spectra`"):
        plots.spectrum_figure(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"argument `spectra`"):
        plots.spectrum_figure({})
    with pytest.raises(TypeError, match=r"argument `fig`"):
        plots.figure_to_png("not a figure")
    with pytest.raises(ValueError, match=r"argument `max_pairs`"):
        plots.alignment_figure({}, max_pairs=0)
