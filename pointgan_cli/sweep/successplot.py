"""``success.png``: each group's success rate with its Wilson 95% interval, as a dot plot.

Why a dot plot with the groups as rows: a study has dozens of groups (the article's 72), and
bars with one rotated label each made a 5,082 px wide picture nobody could read. Rows keep
every label horizontal; a study's groups are split into small multiples, one panel per
experiment with its grid points as rows (the same rows in every panel), so a budget or a
learning rate is read across panels; a sweep of presets alone is one panel.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from .charts import _png, drawn_groups, experiments, split_group

#: Inches per group row, and the most panels side by side.
ROW_IN = 0.26
MAX_PANEL_COLUMNS = 3
DOT = "#1f77b4"


def panels(groups: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(title, groups) per panel: one per experiment when an experiment has several grid
    points, else one untitled panel with every group."""
    exps = experiments(groups)
    if all(len(gs) == 1 for gs in exps.values()):
        return [("", groups)]
    return list(exps.items())


def plot_success(summary: dict[str, Any]) -> bytes:
    """``success.png`` as a palette PNG (``charts._png``)."""
    fig, plt = success_figure(summary)
    return _png(fig, plt)


def success_figure(summary: dict[str, Any]) -> tuple[Any, Any]:
    """The dot plot (see the module): per row the converged fraction (dot), its Wilson 95%
    interval (line) and converged/n at the right edge. Text is sized to the figure: the title
    wraps to its width, labels get the room their longest one needs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups, few = drawn_groups(summary["groups"])
    parts = panels(groups)
    ncols = min(MAX_PANEL_COLUMNS, len(parts))
    nrows = -(-len(parts) // ncols)
    labels = [[_label(g, bool(title)) for g in gs] for title, gs in parts]
    longest = max(len(x) for ls in labels for x in ls)
    label_in = 0.3 + 0.062 * longest  # inches for the row labels at 8 pt
    plot_in, count_in = 2.6, 0.55
    pw = label_in + plot_in + count_in
    most = max(len(gs) for _, gs in parts)
    ph = most * ROW_IN + 0.75
    width = max(ncols * pw + 0.3, 6.0)
    title = ("Success rate per group: dot = converged fraction, line = Wilson 95% interval, "
             "right: converged/n" + (f" ({few})" if few else ""))
    lines = textwrap.wrap(title, max(30, int(width * 72 / (10 * 0.6))))
    top_in = 0.05 + 0.2 * len(lines)
    height = nrows * ph + top_in + 0.1
    fig = plt.figure(figsize=(width, height))
    fig.suptitle("\n".join(lines), fontsize=10, y=1 - 0.1 / height, va="top")
    x0 = (width - ncols * pw) / 2
    for k, (name, gs) in enumerate(parts):
        r, c = divmod(k, ncols)
        left = x0 + c * pw + label_in
        bottom = height - top_in - (r + 1) * ph + 0.5
        ax = fig.add_axes((left / width, bottom / height, plot_in / width,
                           (ph - 0.75) / height))
        y = np.arange(len(gs))[::-1].astype(float)  # first group on top
        rate = np.array([g["success_rate"] for g in gs])
        low = np.array([g["wilson_low"] for g in gs])
        high = np.array([g["wilson_high"] for g in gs])
        ax.hlines(y, low, high, color="0.25", lw=1.4)
        ax.plot(rate, y, "o", color=DOT, ms=5, zorder=3, clip_on=False)
        ax.set_yticks(y, labels[k], fontsize=8)
        ax.set_ylim(-0.6, most - 0.4)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xticks(np.linspace(0, 1, 5), ["0", "25%", "50%", "75%", "100%"], fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        for yi, g in zip(y, gs):
            ax.annotate(f"{g['converged']}/{g['n']}", (1, yi), xytext=(5, 0),
                        textcoords="offset points", xycoords=("axes fraction", "data"),
                        va="center", ha="left", fontsize=7)
        if name:
            ax.set_title(name, fontsize=9, pad=3)
        ax.set_xlabel("converged fraction", fontsize=7, labelpad=1)
    return fig, plt


def _label(g: dict[str, Any], in_panel: bool) -> str:
    """A row's label: the grid point inside an experiment's panel, else the group name."""
    point = split_group(g["group"])[1]
    return point if in_panel and point else g["group"]
