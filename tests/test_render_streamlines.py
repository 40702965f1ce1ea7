"""The vectorised streamlines: they follow the field, keep their distance from each other,
carry an arrow pointing downstream, stop where the field vanishes; the Dirac grid figure keeps
every panel's content with labels on the outer panels only."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection

from pointgan_cli.render import streamlines
from pointgan_cli.render.phase import grid_figure, palette_png
from pointgan_cli.spec import resolve_spec

N = 21
AXIS = np.linspace(-1.0, 1.0, N)
X, Y = np.meshgrid(AXIS, AXIS)  # rows: y


def _data(line):
    return line * 2.0 - 1.0  # axes units -> the grid's [-1, 1]


def test_lines_of_a_rotation_are_circles_with_arrows_turning_anticlockwise():
    lines, pos, dirs = streamlines.streamlines(-Y, X)  # (u, v) = (-y, x): circles
    assert len(lines) > 10 and len(pos) == len(dirs) == len(lines)
    for line in lines:
        r = np.hypot(*_data(line[1:-1]).T)  # the last point may lie past the border
        inner = r[r < 0.95]
        if len(inner):
            assert inner.max() - inner.min() < 0.03, (inner.min(), inner.max())
    p = _data(pos)
    cross = p[:, 0] * dirs[:, 1] - p[:, 1] * dirs[:, 0]  # r x direction > 0: anticlockwise
    assert np.all(cross > 0)


def test_lines_keep_apart_and_are_at_least_minlength():
    m = int(30 * 0.9)
    lines, _, _ = streamlines.streamlines(np.ones((N, N)), 0.3 * np.ones((N, N)))
    owner = {}
    for k, line in enumerate(lines):
        inside = line[((line >= 0) & (line <= 1)).all(axis=1)]
        assert np.hypot(*np.diff(line, axis=0).T).sum() > 0.1
        for cell in {tuple(c) for c in np.rint(inside * (m - 1)).astype(int)}:
            assert owner.setdefault(cell, k) == k, cell  # no mask cell holds two lines
    covered = len(owner) / m**2
    assert covered > 0.3  # the lines fill the square, as streamplot's would


def test_a_vanishing_field_draws_nothing_and_a_sink_stops_lines_at_it():
    lines, pos, _ = streamlines.streamlines(np.zeros((N, N)), np.zeros((N, N)))
    assert lines == [] and pos.shape == (0, 2)
    lines, _, _ = streamlines.streamlines(-X, -Y)  # every line runs into (0, 0)
    ends = np.array([np.hypot(*_data(line[-1])) for line in lines])
    assert np.all(np.isfinite(ends)) and len(lines) > 5


def test_draw_adds_one_line_collection_and_one_set_of_arrowheads():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    streamlines.draw(ax, AXIS, AXIS, -Y, X, color="#9a9a9a", linewidth=0.6)
    lc = [c for c in ax.collections if isinstance(c, LineCollection)]
    heads = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(lc) == len(heads) == 1 and len(lc[0].get_segments()) == len(heads[0].get_paths())
    assert not lc[0].get_in_layout() and not heads[0].get_in_layout()


@pytest.mark.parametrize("n, ncols", [(5, 3), (1, 1)])
def test_grid_figure_labels_the_outer_panels_and_keeps_each_panels_content(n, ncols):
    spec = resolve_spec(None, overrides={"game": "dirac"})
    t = np.linspace(0, 3, 30)
    panels = [{"spec": spec, "theta": np.cos(t), "psi": np.sin(t), "title": f"p{i}",
               "ok": i % 2 == 0} for i in range(n)]
    fig = grid_figure(panels, ncols, "grid")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [f"p{i}" for i in range(n)]
    assert [ax.get_ylabel() != "" for ax in axes] == [i % ncols == 0 for i in range(n)]
    assert [ax.get_xlabel() != "" for ax in axes] == [i + ncols >= n for i in range(n)]
    for ax in axes:
        assert len(ax.collections) == 2  # the field: streamlines and their arrowheads
        markers = {line.get_marker() for line in ax.lines}
        assert {"*", "^", "o"} <= markers  # equilibrium, start, end
        assert ax.get_xlim() == ax.get_ylim() == (-2.2, 2.2)
    png = palette_png(fig, 60)
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(png)) as im:
        assert im.mode == "P" and im.size == (round(2.9 * ncols * 60),
                                              round((3.1 * -(-n // ncols) + 0.5) * 60))
