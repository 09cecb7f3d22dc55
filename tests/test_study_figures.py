"""What a reader stumbled on in the tour's figures (issue 25), drawn from made-up data."""

import numpy as np
from matplotlib.container import ErrorbarContainer
from matplotlib.ticker import NullFormatter

from keras_collapse.studies import _toy, _ziyin_experiments, jing2022_directclr


def test_probe_bars_start_at_zero_mark_chance_and_say_one_seed():
    scores = {variant: [0.95] for variant in jing2022_directclr.VARIANTS}
    ax = jing2022_directclr._accuracy_figure(scores, "accuracy (%)", 0.1).axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    assert ax.get_legend_handles_labels()[1] == ["chance (10%)", "one seed: no error bar"]
    assert not [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    scores = {variant: [0.9, 0.95] for variant in jing2022_directclr.VARIANTS}
    ax = jing2022_directclr._accuracy_figure(scores, "accuracy (%)", 0.1).axes[0]
    assert "mean ± std over 2 seeds" in ax.get_legend_handles_labels()[1]
    assert [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_sixteen_line_spectra_coloured_by_rank_index_with_a_colour_bar():
    values = np.exp(-np.arange(16.0))[None, None, :] * np.ones((3, 2, 1))
    history = {"step": [0, 100, 200], "sv": values, "eig": values[:, 0]}
    fig = _toy.history_figure(history, "t")
    panels, bar = fig.axes[:-1], fig.axes[-1]
    assert len(panels) == 3 and bar.get_ylabel() == _toy.RANK_INDEX == "rank index i (1 = largest)"
    for ax in panels:
        assert len({tuple(line.get_color()) for line in ax.get_lines()}) == 16
        assert "_k" not in ax.get_title()  # k is the papers' noise


def test_ziyin_log_axes_labelled_at_the_measured_values():
    class Study:
        def figure(self, fig, filename, caption):
            self.fig = fig

    study = Study()

    def draw(ax):
        for index in range(2):
            ax.loglog([2.0, 10.0], [1e-2, 1e-3], **_ziyin_experiments._STYLES[index],
                      label=str(index))
    _ziyin_experiments._figure(study, [draw], "f.png", "caption")
    ax = study.fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "10"]
    assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
    first, second = ax.get_lines()
    assert first.get_markerfacecolor() == "none" and first.get_markersize() > second.get_markersize()
    assert first.get_linestyle() != second.get_linestyle()
