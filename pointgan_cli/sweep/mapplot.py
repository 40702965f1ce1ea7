"""The stability map's figure, drawn from a ``map.json`` document alone.

Left: the success rate per cell (colour, with ``converged/n`` written in the cell), the 50% and
95% contours, the study's own settings as labelled stars. Right: per cell, the failure class
most runs ended in (orbiting / stuck / still approaching / diverged) with the number of failed
runs. Every cell is the same size whatever the values (the axes are the grid's index, labelled
with its values): a grid of weight decay 0, 0.01, 0.1 has three equal rows, where a value axis
squeezed 0 and 0.01 into a strip and a log axis could not show 0 at all. A study setting
between grid values sits between their cells (interpolated in log10 on a log grid; on the
boundary next to a 0, which has no log); its star sits in the upper part of a cell, the count in
the lower part, so neither hides the other.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from ..naming import override_words

#: Class panel colours: no failure light grey; each failure class its own hue.
CLASS_COLOURS = {
    None: "#eeeeee",
    "orbiting": "#8e6cc1",
    "stuck": "#e08a2e",
    "still_approaching": "#5fa8d3",
    "diverging": "#c0392b",
    "drifting": "#a0a060",
    "diverged": "#333333",
    "unclassified": "#b0b0b0",
}
CLASS_WORDS = {None: "no failure", "orbiting": "orbiting", "stuck": "stuck",
               "still_approaching": "still approaching", "diverging": "diverging",
               "drifting": "drifting", "diverged": "diverged",
               "unclassified": "unclassified"}


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _axis(ax, axis: dict[str, Any], which: str) -> None:
    """Index ticks labelled with the grid values (at most ~9 labelled)."""
    values = axis["values"]
    set_ticks = ax.set_xticks if which == "x" else ax.set_yticks
    every = max(1, math.ceil(len(values) / 9))
    set_ticks(range(len(values)), [_fmt(v) if i % every == 0 else ""
                                   for i, v in enumerate(values)])
    (ax.xaxis if which == "x" else ax.yaxis).set_minor_locator(_null())
    label = axis["label"]
    if axis["scale"] == "log":  # equal cells: the values are log-spaced, the axis is not
        label = (label.replace("log scale", "log-spaced grid") if "log scale" in label
                 else f"{label} (log-spaced grid)")
    (ax.set_xlabel if which == "x" else ax.set_ylabel)(label)


def position(v: float, axis: dict[str, Any]) -> float:
    """Where value ``v`` lies on the index axis: its cell's index when it is a grid value;
    between two grid values, interpolated (in log10 on a log grid when both are positive);
    next to a 0 (no log of it), on the boundary of the two cells; outside the grid, at its
    outer edge."""
    vals = [float(x) for x in axis["values"]]
    log = axis["scale"] == "log"
    for k, x in enumerate(vals):
        if math.isclose(v, x, rel_tol=1e-9, abs_tol=1e-15):
            return float(k)
    if v <= vals[0]:
        return -0.45
    if v >= vals[-1]:
        return len(vals) - 0.55
    k = max(i for i, x in enumerate(vals) if x < v)
    lo, hi = vals[k], vals[k + 1]
    if log and lo > 0:
        frac = (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    elif log or lo == 0:
        frac = 0.5
    else:
        frac = (v - lo) / (hi - lo)
    return k + frac


def _null():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def draw(doc: dict[str, Any]) -> bytes:
    """The map as PNG bytes (``figure``)."""
    import matplotlib.pyplot as plt

    fig = figure(doc)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def figure(doc: dict[str, Any]) -> Any:
    """The map's figure: success rates left, failure classes right (see the module)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    xa, ya = doc["x"], doc["y"]
    xs, ys = xa["values"], ya["values"]
    nx, ny = len(xs), len(ys)
    rate = np.full((ny, nx), np.nan)
    conv = np.zeros((ny, nx), dtype=int)
    n = np.zeros((ny, nx), dtype=int)
    dom: list[list[Any]] = [[None] * nx for _ in range(ny)]
    ix = {v: i for i, v in enumerate(xs)}
    iy = {v: i for i, v in enumerate(ys)}
    for c in doc["cells"]:
        i, j = iy[float(c[ya["field"]])], ix[float(c[xa["field"]])]
        rate[i, j], conv[i, j], n[i, j] = c["rate"], c["converged"], c["n"]
        dom[i][j] = c["dominant_failure"]
    xe, ye = np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5
    small = nx * ny > 120
    fs = 6 if small else 8
    # over about 20 x 20 cells a count no longer fits its cell: the colours, the colour bar
    # and the contours carry the map (map.csv has every count)
    counted = nx * ny <= 400

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 6.2), constrained_layout=True)
    mesh = ax.pcolormesh(xe, ye, rate, cmap="RdYlGn", vmin=0, vmax=1, shading="flat")
    cb = fig.colorbar(mesh, ax=ax, pad=0.01)
    cb.set_label("success rate (converged runs / seeds)")
    starred = _starred_cells(doc)
    for i in range(ny if counted else 0):
        for j in range(nx):
            _count(ax, j, i, f"{conv[i, j]}/{n[i, j]}", fs,
                   "white" if rate[i, j] <= 0.25 else "black", (j, i) in starred)
    handles = []
    for level, style, width in ((0.5, "--", 1.6), (0.95, "-", 2.2)):
        if _contour(ax, rate, level, style, width):
            handles.append(Line2D([], [], color="black", ls=style, lw=width,
                                  label=f"{level:.0%} success contour"))
    for k, p in enumerate(doc["study_points"]):
        px, py = position(p[xa["field"]], xa), position(p[ya["field"]], ya)
        py += STAR_UP if _cell_of(px, py) is not None else 0.0  # in a cell: above its count
        for a in (ax, bx):
            a.plot(px, py, marker="*", ms=13, mfc="white", mec="black", mew=1.1, zorder=5)
            a.annotate(f"study: {p['label']}", (px, py), xytext=(0, 7 + 11 * (k % 2)),
                       textcoords="offset points", fontsize=8, zorder=6, ha="center",
                       va="bottom",
                       bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.5",
                             "alpha": 0.85})
    if doc["study_points"]:
        handles.append(Line2D([], [], marker="*", ms=12, mfc="white", mec="black", ls="",
                              label="the study's own settings"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.13), ncol=3,
                  fontsize=8, frameon=False)
    ax.set_title("success rate per cell (converged / seeds)")

    kinds = [None, "orbiting", "stuck", "still_approaching", "diverging", "drifting", "diverged",
             "unclassified"]
    code = np.array([[kinds.index(d if d in kinds else "unclassified") for d in row]
                     for row in dom])
    cmap = ListedColormap([CLASS_COLOURS[k] for k in kinds])
    # one bin per kind: with fewer bins than colours the norm spreads the bins over the colour
    # list and a class is drawn in another's colour (still approaching came out as diverging)
    bx.pcolormesh(xe, ye, code, cmap=cmap, norm=BoundaryNorm(np.arange(len(kinds) + 1) - 0.5,
                                                             cmap.N), shading="flat")
    for i in range(ny if counted else 0):
        for j in range(nx):
            failed = n[i, j] - conv[i, j]
            dark = dom[i][j] in ("diverged", "orbiting")
            _count(bx, j, i, f"{failed}/{n[i, j]}" if failed else "", fs,
                   "white" if dark else "black", (j, i) in starred)
    present = [k for k in kinds if any(k == d for row in dom for d in row)]
    bx.legend(handles=[Patch(fc=CLASS_COLOURS[k], ec="0.4", label=CLASS_WORDS[k])
                       for k in present], loc="upper left", bbox_to_anchor=(0, -0.13),
              ncol=len(present) or 1, fontsize=8, frameon=False)
    bx.set_title("most common failure class per cell (failed runs / seeds)")
    for a in (ax, bx):
        _axis(a, xa, "x")
        _axis(a, ya, "y")
        a.set_xlim(xe[0], xe[-1])
        a.set_ylim(ye[0], ye[-1])
    crit = doc["criterion"]
    window = crit.get("success_window")
    rule = (f"inside tolerance {crit['tolerance']:g} over the last {window:.0%} of steps"
            if window else f"inside tolerance {crit['tolerance']:g} at the last step")
    seeds = doc["seeds"]
    fixed = f", {override_words(doc['fixed'])}" if doc["fixed"] else ""
    fig.suptitle(f"{doc['variant']}: {ya['label'].split('  (')[0]} x "
                 f"{xa['label'].split('  (')[0]}{fixed}\n{crit['steps']} steps, "
                 f"{len(seeds)} seeds per cell ({_seed_text(seeds)}); converged = {rule}",
                 fontsize=11)
    return fig


#: A study star sits this far (in cells) above its point, a starred cell's count this far
#: below the cell centre: star and count never overlap.
STAR_UP, COUNT_DOWN = 0.2, 0.22


def _count(ax, j: int, i: int, text: str, fs: int, colour: str, starred: bool) -> None:
    """A cell's count at its centre, or in its lower part under a study star."""
    ax.text(j, i - (COUNT_DOWN if starred else 0.0), text, ha="center", va="center",
            fontsize=fs, color=colour, zorder=4)


def _starred_cells(doc: dict[str, Any]) -> set[tuple[int, int]]:
    """(column, row) of the cells a study star falls in: their counts move down."""
    out = set()
    for p in doc["study_points"]:
        cell = _cell_of(position(p[doc["x"]["field"]], doc["x"]),
                        position(p[doc["y"]["field"]], doc["y"]))
        if cell is not None:
            out.add(cell)
    return out


def _cell_of(px: float, py: float) -> tuple[int, int] | None:
    """The cell a point marks: the one whose centre it is within 0.3 cells of (a setting of
    0.003 on a grid point of 0.00316), else None (it sits between cells, on their boundary)."""
    cx, cy = round(px), round(py)
    if abs(px - cx) <= 0.3 and abs(py - cy) <= 0.3:
        return int(cx), int(cy)
    return None


def _contour(ax, rate: np.ndarray, level: float, style: str, width: float) -> bool:
    """The ``level`` contour of the cell rates, interpolated between cell centres on the
    index grid, labelled at its vertex farthest from every cell centre (off the counts).
    False when no cell pair straddles the level."""
    import contourpy

    ny, nx = rate.shape
    if nx < 2 or ny < 2:
        return False
    tx, ty = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
    found = contourpy.contour_generator(tx, ty, rate).lines(level)
    lines = [np.asarray(ln) for ln in found if len(ln) >= 2]
    if not lines:
        return False
    for ln in lines:
        ax.plot(ln[:, 0], ln[:, 1], color="black", ls=style, lw=width, zorder=3)
    centres = np.array([(a, b) for a in tx for b in ty])
    # candidates: the vertices and the middle of each segment (a contour through cell centres
    # has its vertices on the counts)
    verts = np.concatenate([np.concatenate([ln, (ln[1:] + ln[:-1]) / 2]) for ln in lines])
    gap = np.min(np.linalg.norm(verts[:, None, :] - centres[None], axis=2), axis=1)
    mx, my = verts[int(np.argmax(gap))]
    ax.text(mx, my, f"{level:.0%}", fontsize=9, ha="center", va="center", zorder=4,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "black", "lw": 0.8})
    return True


def _seed_text(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
    return f"{len(seeds)} seeds"
