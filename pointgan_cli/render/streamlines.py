"""Evenly spaced streamlines of a 2-D field, integrated for all seeds at once.

Matplotlib's ``streamplot`` integrates one streamline at a time in Python and draws one
``FancyArrowPatch`` per line; for the Dirac study's 20 panels that was most of a sweep report's
time (about 0.3 s of integration and 0.1 s of arrow drawing per panel). This module keeps
streamplot's picture -- its occupancy mask of ``30 * density`` cells per axis, seeds spiralling
in from the border, lines stopped where they enter a cell another line (or their own earlier
part) took, lines shorter than ``minlength`` dropped, one arrow at each line's middle -- but
integrates every seed's path in both directions together with numpy (midpoint rule at unit
speed, half a mask cell per step), and only the cheap mask bookkeeping runs seed by seed.
``draw`` adds the result to an axes as two artists: one ``LineCollection`` and one
``PolyCollection`` of arrowheads sized in points.

Coordinates: the field is given on an evenly spaced ``(n, n)`` grid over a square domain;
positions are in axes units, ``[0, 1]`` per axis (what ``maxlength``/``minlength`` measure).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.transforms import Affine2D

ARROW_LENGTH, ARROW_WIDTH = 5.0, 4.0  # arrowhead size in points (streamplot's at arrowsize 0.7)


def spiral(m: int) -> np.ndarray:
    """Mask cells (x, y) from the corner (0, 0) along the border and spiralling inwards, as
    streamplot seeds them: outer lines first give the even look."""
    out = np.empty((m * m, 2), dtype=np.int64)
    x = y = 0
    xfirst, yfirst, xlast, ylast = 0, 1, m - 1, m - 1
    direction = "right"
    for i in range(m * m):
        out[i] = x, y
        if direction == "right":
            x += 1
            if x >= xlast:
                xlast -= 1
                direction = "up"
        elif direction == "up":
            y += 1
            if y >= ylast:
                ylast -= 1
                direction = "left"
        elif direction == "left":
            x -= 1
            if x <= xfirst:
                xfirst += 1
                direction = "down"
        else:
            y -= 1
            if y <= yfirst:
                yfirst += 1
                direction = "right"
    return out


def _unit_field(u: np.ndarray, v: np.ndarray):
    """``f(p)``: the field's direction at points ``p`` (N,) in axes units, as complex numbers
    ``x + iy`` (one interpolation gives both components), bilinear between grid nodes; NaN
    where the field vanishes or is not finite, or ``p`` is (the line stops there)."""
    n = u.shape[0]
    w = (u + 1j * v).ravel()  # (n * n,), row-major: index row * n + column

    def f(p: np.ndarray) -> np.ndarray:
        lost = ~np.isfinite(p)  # a midpoint after the field vanished
        gx = np.clip(np.where(lost, 0.0, p.real), 0.0, 1.0) * (n - 1)
        gy = np.clip(np.where(lost, 0.0, p.imag), 0.0, 1.0) * (n - 1)
        c = np.minimum(gx.astype(np.int64), n - 2)
        r = np.minimum(gy.astype(np.int64), n - 2)
        tx, ty, k = gx - c, gy - r, r * n + c
        lo = w[k] + (w[k + 1] - w[k]) * tx
        hi = w[k + n] + (w[k + n + 1] - w[k + n]) * tx
        z = lo + (hi - lo) * ty
        speed = np.abs(z)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = z / speed
        d[lost | ~(speed > 0)] = np.nan
        return d

    return f


def _paths(u, v, seeds: np.ndarray, h: float, steps: int) -> np.ndarray:
    """(2, steps + 1, S, 2): every seed's path backwards (0) and forwards (1) in time, NaN
    after it stops. A path's last point may lie just outside the domain (the axes clip it)."""
    f = _unit_field(u, v)
    s = len(seeds)
    sign = np.repeat([-h, h], s)  # (2S,): the step, backwards then forwards
    p = np.tile(seeds[:, 0] + 1j * seeds[:, 1], 2)
    out = np.full((steps + 1, 2 * s), np.nan, dtype=complex)
    out[0] = p
    live = np.arange(2 * s)  # the paths still inside the domain and moving
    for k in range(steps):
        q, sg = p[live], sign[live]
        new = q + sg * f(q + 0.5 * sg * f(q))  # midpoint rule
        ok = np.isfinite(new)
        out[k + 1, live[ok]] = new[ok]
        inside = ok & (new.real >= 0.0) & (new.real <= 1.0) & (new.imag >= 0.0) & (
            new.imag <= 1.0)
        live = live[inside]
        if len(live) == 0:
            break
        p[live] = new[inside]
    xy = np.stack([out.real, out.imag], axis=-1)  # (steps + 1, 2S, 2)
    return xy.reshape(steps + 1, 2, s, 2).transpose(1, 0, 2, 3)


def _cut(path: np.ndarray, m: int, taken: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of one direction's ``path`` (K, 2) before it enters a cell that is ``taken``
    or that it visited before; returns (points, their cells; -1 for a point outside)."""
    pts = path[np.isfinite(path[:, 0])]
    inside = ((pts >= 0.0) & (pts <= 1.0)).all(axis=1)
    cell = np.rint(np.clip(pts, 0.0, 1.0) * (m - 1)).astype(np.int64)
    cells = np.where(inside, cell[:, 1] * m + cell[:, 0], -1)
    entry = np.flatnonzero(cells[1:] != cells[:-1]) + 1  # indices where a new cell begins
    seq = np.concatenate([cells[:1], cells[entry]])
    _, first, inv = np.unique(seq, return_index=True, return_inverse=True)
    seen = first[inv] != np.arange(len(seq))
    bad = (seq >= 0) & (taken[np.maximum(seq, 0)] | seen)
    bad[0] = False
    stop = np.flatnonzero(bad)
    k = len(pts) if len(stop) == 0 else entry[stop[0] - 1]
    return pts[:k], cells[:k]


def streamlines(u: np.ndarray, v: np.ndarray, density: float = 0.9, maxlength: float = 2.0,
                minlength: float = 0.1) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Streamlines of the field ``(u, v)`` (each (n, n), rows along y), in axes units:
    (lines: list of (k, 2), arrow positions (A, 2), arrow directions (A, 2)).
    ``maxlength`` bounds each direction from a seed, ``minlength`` the whole line."""
    m = int(30 * density)
    h = 0.5 / m  # half a mask cell: no cell on the way is skipped
    seeds_xy = spiral(m)
    paths = _paths(u, v, seeds_xy / (m - 1), h, int(np.ceil(maxlength / h)))
    taken = np.zeros(m * m, dtype=bool)
    lines, pos, dirs = [], [], []
    for i, (x, y) in enumerate(seeds_xy):
        if taken[y * m + x]:
            continue
        back, cb = _cut(paths[0, :, i], m, taken)
        mark = cb[cb >= 0]
        taken[mark] = True
        fwd, cf = _cut(paths[1, :, i], m, taken)
        line = np.concatenate([back[::-1], fwd[1:]])
        seg = np.hypot(*np.diff(line, axis=0).T)
        if seg.sum() <= minlength:
            taken[mark] = False
            continue
        taken[cf[cf >= 0]] = True
        lines.append(line)
        j = min(int(np.searchsorted(np.cumsum(seg), seg.sum() / 2)), len(line) - 2)
        pos.append((line[j] + line[j + 1]) / 2)
        dirs.append(line[j + 1] - line[j])
    return lines, np.array(pos).reshape(-1, 2), np.array(dirs).reshape(-1, 2)


def arrowheads(dirs: np.ndarray, length: float = ARROW_LENGTH,
               width: float = ARROW_WIDTH) -> np.ndarray:
    """(A, 3, 2) triangles in points, tip ahead of the origin along each direction."""
    d = dirs / np.maximum(np.hypot(*dirs.T), 1e-300)[:, None]
    nrm = np.stack([-d[:, 1], d[:, 0]], axis=1)
    tip = 0.5 * length * d
    base = -0.5 * length * d
    return np.stack([tip, base + 0.5 * width * nrm, base - 0.5 * width * nrm], axis=1)


def draw(ax: Axes, x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, color: str,
         linewidth: float, density: float = 0.9, zorder: float = 1) -> None:
    """Streamlines of ``(u, v)`` given on the grid ``x`` (n,) by ``y`` (n,) (evenly spaced,
    square in data units: the field's direction is the same in axes and data units), drawn into
    ``ax`` as one line collection and one collection of arrowheads (left out of layout)."""
    lines, pos, dirs = streamlines(u, v, density)
    origin, scale = np.array([x[0], y[0]]), np.array([x[-1] - x[0], y[-1] - y[0]])
    lc = LineCollection([origin + ln * scale for ln in lines], colors=color,
                        linewidths=linewidth, zorder=zorder)
    heads = PolyCollection(list(arrowheads(dirs * scale)), offsets=origin + pos * scale,
                           offset_transform=ax.transData, facecolors=color, edgecolors="none",
                           zorder=zorder)
    heads.set_transform(Affine2D().scale(1 / 72) + ax.figure.dpi_scale_trans)  # points
    for artist in (lc, heads):
        artist.set_in_layout(False)
        ax.add_collection(artist, autolim=False)
