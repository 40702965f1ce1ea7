"""The stability map's figure, drawn from a ``map.json`` document alone.

Left: the success rate per cell (colour, with ``converged/n`` written in the cell), the 50% and
95% contours, the study's own settings as labelled stars. Right: per cell, the failure class
most runs ended in (orbiting / stuck / still approaching / diverged) with the number of failed
runs. Log axes are drawn on log scales; cell edges sit halfway between grid values (in log for a
log axis), so every cell is centred on its value.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

#: Class panel colours: no failure light grey; each failure class its own hue.
CLASS_COLOURS = {
    None: "#eeeeee",
    "orbiting": "#8e6cc1",
    "stuck": "#e08a2e",
    "still_approaching": "#5fa8d3",
    "diverged": "#333333",
    "unclassified": "#b0b0b0",
}
CLASS_WORDS = {None: "no failure", "orbiting": "orbiting", "stuck": "stuck",
               "still_approaching": "still approaching", "diverged": "diverged",
               "unclassified": "unclassified"}


def _edges(values: list[float], log: bool) -> np.ndarray:
    """Cell edges around sorted ``values``: midpoints (geometric on a log axis), the outer
    ones as far out as the nearest inner one."""
    v = np.log10(values) if log else np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2
    e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return 10 ** e if log else e


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _axis(ax, axis: dict[str, Any], which: str) -> None:
    values, log = axis["values"], axis["scale"] == "log"
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    set_ticks = ax.set_xticks if which == "x" else ax.set_yticks
    if log:
        set_scale("log")
    every = max(1, math.ceil(len(values) / 9))  # at most ~9 labelled ticks
    set_ticks(values, [_fmt(v) if i % every == 0 else "" for i, v in enumerate(values)])
    (ax.xaxis if which == "x" else ax.yaxis).set_minor_locator(_null())
    (ax.set_xlabel if which == "x" else ax.set_ylabel)(axis["label"])


def _null():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def draw(doc: dict[str, Any]) -> bytes:
    """The map as PNG bytes."""
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
    xe, ye = _edges(xs, xa["scale"] == "log"), _edges(ys, ya["scale"] == "log")
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
            _count(ax, xs[j], ys[i], f"{conv[i, j]}/{n[i, j]}", fs,
                   "white" if rate[i, j] <= 0.25 else "black", (xs[j], ys[i]) in starred)
    handles = []
    for level, style, width in ((0.5, "--", 1.6), (0.95, "-", 2.2)):
        if _contour(ax, xs, ys, rate, level, xa["scale"] == "log", ya["scale"] == "log",
                    style, width):
            handles.append(Line2D([], [], color="black", ls=style, lw=width,
                                  label=f"{level:.0%} success contour"))
    for k, p in enumerate(doc["study_points"]):
        px, py = p[xa["field"]], p[ya["field"]]
        for a in (ax, bx):
            a.plot(px, py, marker="*", ms=17, mfc="white", mec="black", mew=1.2, zorder=5)
            # above the star, inside its cell's upper half (the counts sit at mid-height)
            a.annotate(f"study: {p['label']}", (px, py), xytext=(0, 10 + 12 * (k % 2)),
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

    kinds = [None, "orbiting", "stuck", "still_approaching", "diverged", "unclassified"]
    code = np.array([[kinds.index(d) if d in kinds else 5 for d in row] for row in dom])
    cmap = ListedColormap([CLASS_COLOURS[k] for k in kinds])
    bx.pcolormesh(xe, ye, code, cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, 6), cmap.N),
                  shading="flat")
    for i in range(ny if counted else 0):
        for j in range(nx):
            failed = n[i, j] - conv[i, j]
            dark = dom[i][j] in ("diverged", "orbiting")
            _count(bx, xs[j], ys[i], f"{failed}/{n[i, j]}" if failed else "", fs,
                   "white" if dark else "black", (xs[j], ys[i]) in starred)
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
    fixed = "".join(f", {k}={v}" for k, v in doc["fixed"].items())
    fig.suptitle(f"{doc['variant']}: {ya['label'].split('  (')[0]} x "
                 f"{xa['label'].split('  (')[0]}{fixed}\n{crit['steps']} steps, "
                 f"{len(seeds)} seeds per cell ({_seed_text(seeds)}); converged = {rule}",
                 fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _count(ax, x: float, y: float, text: str, fs: int, colour: str, starred: bool) -> None:
    """A cell's count at its centre, or just below a study star drawn there."""
    ax.annotate(text, (x, y), xytext=(0, -13 if starred else 0), textcoords="offset points",
                ha="center", va="center", fontsize=fs, color=colour, zorder=4)


def _near(v: float, axis: dict[str, Any]) -> float | None:
    """The grid value whose cell centre ``v`` covers (within 0.3 of a grid step), or None."""
    log = axis["scale"] == "log"
    t = np.log10(axis["values"]) if log else np.asarray(axis["values"], dtype=float)
    tv = math.log10(v) if log else v
    k = int(np.argmin(np.abs(t - tv)))
    step = float(np.min(np.abs(np.diff(t)))) if len(t) > 1 else 1.0
    return axis["values"][k] if abs(t[k] - tv) <= 0.3 * step else None


def _starred_cells(doc: dict[str, Any]) -> set[tuple[float, float]]:
    """Cells whose centre a study star covers: their counts move below the star."""
    out = set()
    for p in doc["study_points"]:
        cx, cy = _near(p[doc["x"]["field"]], doc["x"]), _near(p[doc["y"]["field"]], doc["y"])
        if cx is not None and cy is not None:
            out.add((cx, cy))
    return out


def _contour(ax, xs: list[float], ys: list[float], rate: np.ndarray, level: float,
             xlog: bool, ylog: bool, style: str, width: float) -> bool:
    """The ``level`` contour of the cell rates, interpolated between cell centres in the
    axes' own scale (in log10 on a log axis, so it is straight where the map is), labelled
    where its longest piece is midway. False when no cell pair straddles the level."""
    import contourpy

    if len(xs) < 2 or len(ys) < 2:
        return False
    tx = np.log10(xs) if xlog else np.asarray(xs, dtype=float)
    ty = np.log10(ys) if ylog else np.asarray(ys, dtype=float)
    lines = contourpy.contour_generator(tx, ty, rate).lines(level)
    lines = [ln for ln in lines if len(ln) >= 2]
    if not lines:
        return False
    for ln in lines:
        px = 10 ** ln[:, 0] if xlog else ln[:, 0]
        py = 10 ** ln[:, 1] if ylog else ln[:, 1]
        ax.plot(px, py, color="black", ls=style, lw=width, zorder=3)
    # label at the vertex farthest from every cell centre (in cell steps): off the counts
    centres = np.array([(a, b) for a in tx for b in ty])
    scale = np.array([np.min(np.abs(np.diff(tx))), np.min(np.abs(np.diff(ty)))])
    verts = np.concatenate(lines)
    gap = np.min(np.linalg.norm((verts[:, None, :] - centres[None]) / scale, axis=2), axis=1)
    mx, my = verts[int(np.argmax(gap))]
    ax.text(10 ** mx if xlog else mx, 10 ** my if ylog else my, f"{level:.0%}", fontsize=9,
            ha="center", va="center", zorder=4, fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "black", "lw": 0.8})
    return True


def _seed_text(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
    return f"{len(seeds)} seeds"
