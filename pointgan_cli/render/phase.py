"""The Dirac-GAN's picture: the (theta, psi) plane with the training vector field, the run's
trajectory, its start and the equilibrium (0, 0), as Mescheder et al. (2018) draw it.

``phase_panel`` draws one static panel (the Dirac study's grid figure uses it); ``PhaseRenderer``
animates runs: the field, the start and the equilibrium are drawn once into a background, and
each frame restores it and draws only the trajectory so far, the current point and the title.
The field is the spec's expected update direction (``dirac.expected_field``: instance noise in
expectation, consensus included), so what the arrows show is what the run follows on average.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import streamlines
from .data import Cell, DiracTrack
from .scene import CONVERGED_COLOR, FAILED_COLOR, G_COLOR, new_figure, pixel_size, wrap_text

LIM = 2.2  # the panels show theta, psi in [-LIM, LIM]: the paper's start (1, 1) and around
FIELD_POINTS = 21  # streamline grid resolution per axis
START_COLOR = "#d62728"  # the paper marks the starting iterate in red
FIELD_COLOR = "#9a9a9a"


def field_on_grid(spec, lim: float = LIM, n: int = FIELD_POINTS):
    """(theta (n, n), psi (n, n), u, v): the expected update direction on a grid (torch
    loads here: ``palette_png``, which sweep charts use, needs none)."""
    import torch

    from ..engine.dirac import expected_field

    axis = np.linspace(-lim, lim, n)
    th, ps = np.meshgrid(axis, axis)  # rows: psi, columns: theta
    pts = torch.from_numpy(np.stack([th.ravel(), ps.ravel()], axis=1))
    with torch.no_grad():
        v = expected_field(pts, spec).detach().numpy()
    return th, ps, v[:, 0].reshape(n, n), v[:, 1].reshape(n, n)


def draw_field(ax: Axes, spec, lim: float = LIM) -> None:
    """Streamlines of the field, the equilibrium and the axes' furniture."""
    th, ps, u, v = field_on_grid(spec, lim)
    streamlines.draw(ax, th[0], ps[:, 0], u, v, color=FIELD_COLOR, linewidth=0.6, density=0.9,
                     zorder=1)
    ax.plot([0.0], [0.0], marker="*", color="black", markersize=11, zorder=5, ls="none",
            label="equilibrium (0, 0)")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\theta$ (generator)")
    ax.set_ylabel(r"$\psi$ (discriminator)")


def _clip(theta: np.ndarray, psi: np.ndarray, lim: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """The trajectory with points beyond the frame (or non-finite) masked; whether it left."""
    out = ~(np.isfinite(theta) & np.isfinite(psi)) | (np.abs(theta) > 3 * lim) | \
        (np.abs(psi) > 3 * lim)
    left = bool(out.any() or (np.abs(theta) > lim).any() or (np.abs(psi) > lim).any())
    return np.where(out, np.nan, theta), np.where(out, np.nan, psi), left


def phase_panel(ax: Axes, spec, theta: np.ndarray, psi: np.ndarray, title: str,
                ok: bool | None = None, lim: float = LIM) -> None:
    """One static panel: field, trajectory, start (red), end, equilibrium, and ``title``
    (green when ``ok``, red when not)."""
    draw_field(ax, spec, lim)
    th, ps, left = _clip(np.asarray(theta, float), np.asarray(psi, float), lim)
    ax.plot(th, ps, color=G_COLOR, lw=1.1, zorder=3)
    ax.plot(theta[:1], psi[:1], marker="^", color=START_COLOR, ms=7, ls="none", zorder=6)
    if np.isfinite(th[-1]) and abs(th[-1]) <= lim and abs(ps[-1]) <= lim:
        ax.plot(th[-1:], ps[-1:], marker="o", color=G_COLOR, ms=5, ls="none", zorder=6)
    colour = "black" if ok is None else (CONVERGED_COLOR if ok else FAILED_COLOR)
    ax.set_title(title + ("\n(leaves the frame)" if left else ""), fontsize=8, color=colour)


class PhaseRenderer:
    """Frames of one Dirac-GAN run (or a grid of them): ``draw(step)`` -> RGBA pixels."""

    def __init__(self, tracks: list[DiracTrack], cells: list[Cell] | None, title: str,
                 dpi: int, inches: tuple[float, float], cell_inches: tuple[float, float]):
        self.tracks = tracks
        n = len(tracks)
        ncols = 1 if cells is None else min(n, max(1, int(np.ceil(np.sqrt(n)))))
        nrows = -(-n // ncols)
        if cells is None:
            self.size = pixel_size(inches[1], inches[1], dpi)  # square: theta and psi alike
        else:
            self.size = pixel_size(cell_inches[1] * ncols, cell_inches[1] * nrows + 0.4, dpi)
        self.fig, self.canvas = new_figure(*self.size, dpi)
        fs = 9 if cells is None else 7
        self.axes, self.lines, self.points, self.labels = [], [], [], []
        for i, track in enumerate(tracks):
            ax = self.fig.add_subplot(nrows, ncols, i + 1)
            draw_field(ax, track.spec)
            ax.plot(track.theta[:1], track.psi[:1], marker="^", color=START_COLOR, ms=7,
                    ls="none", zorder=6)
            ax.xaxis.label.set_fontsize(fs)
            ax.yaxis.label.set_fontsize(fs)
            ax.tick_params(labelsize=fs - 1)
            if cells is not None:
                ok = cells[i].converged
                colour = "black" if ok is None else (CONVERGED_COLOR if ok else FAILED_COLOR)
                ax.set_title(cells[i].label, fontsize=fs, color=colour)
            (line,) = ax.plot([], [], color=G_COLOR, lw=1.3, zorder=3, animated=True)
            (point,) = ax.plot([], [], marker="o", color=G_COLOR, ms=6, ls="none", zorder=7,
                               animated=True)
            label = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", ha="left",
                            fontsize=fs, family="monospace", animated=True, zorder=8,
                            bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1.5})
            self.axes.append(ax)
            self.lines.append(line)
            self.points.append(point)
            self.labels.append(label)
        head = self.fig.suptitle(title, fontsize=fs + 1)
        wrap_text(head, 0.96 * self.size[0])  # a long run name: more lines, never cut
        self.fig.tight_layout()
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def draw(self, step: int) -> memoryview:
        self.canvas.restore_region(self.background)
        for track, ax, line, point, label in zip(self.tracks, self.axes, self.lines,
                                                 self.points, self.labels):
            k = track.index_at(step)
            th, ps, _ = _clip(track.theta[: k + 1], track.psi[: k + 1], LIM)
            line.set_data(th, ps)
            point.set_data(th[-1:], ps[-1:])
            label.set_text(f"step {int(track.steps[k])}\ntheta {track.theta[k]:+.3f}\n"
                           f"psi   {track.psi[k]:+.3f}")
            for artist in (line, point, label):
                ax.draw_artist(artist)
        return self.canvas.buffer_rgba()


# grid_figure's layout in inches: a panel's slot, the margins around the grid (the left and
# bottom ones hold the tick labels and axis labels), the space between columns and the space
# above each panel for its title (up to three lines at 8 pt) and above the grid for the suptitle.
CELL_W, CELL_H = 2.9, 3.1
LEFT, RIGHT, BOTTOM, SUPTITLE = 0.6, 0.15, 0.5, 0.5
COL_GAP, TITLE_SPACE = 0.15, 0.55


def grid_figure(panels: list[dict], ncols: int, title: str) -> Figure:
    """A figure of static panels; each dict holds ``spec``, ``theta``, ``psi``, ``title``,
    ``ok`` (see ``phase_panel``). Every panel shows the same square, so only the left column
    carries the psi axis's labels and only the lowest panel of each column the theta axis's.
    The layout is fixed in inches (``CELL_W`` ...): measuring every tick label's extent, as
    ``tight_layout`` does, cost more than drawing the 20 panels of the Dirac study."""
    n = len(panels)
    nrows = -(-n // ncols)
    width, height = CELL_W * ncols, CELL_H * nrows + SUPTITLE
    fig = Figure(figsize=(width, height), dpi=100)
    slot_w = (width - LEFT - RIGHT - (ncols - 1) * COL_GAP) / ncols
    slot_h = (height - SUPTITLE - BOTTOM - nrows * TITLE_SPACE) / nrows
    fig.subplots_adjust(left=LEFT / width, right=1 - RIGHT / width, bottom=BOTTOM / height,
                        top=1 - (SUPTITLE + TITLE_SPACE) / height, wspace=COL_GAP / slot_w,
                        hspace=TITLE_SPACE / slot_h)
    for i, p in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        phase_panel(ax, p["spec"], p["theta"], p["psi"], p["title"], p["ok"])
        ax.xaxis.label.set_fontsize(7)
        ax.yaxis.label.set_fontsize(7)
        ax.tick_params(labelsize=6)
        if i % ncols:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
        if i + ncols < n:
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
    fig.suptitle(title, fontsize=11, y=1 - 0.15 / height, va="top")
    return fig


def palette_png(fig: Figure, dpi: int) -> bytes:
    """``fig`` at ``dpi`` as an 8-bit palette PNG: the same picture (grey field, a handful of
    marker colours and their antialiased edges fit 256 colours) in about a quarter of the
    bytes of an RGBA file (the Dirac study's 20 panels: 900 KB as RGBA)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]  # the figure is opaque (white)
    buf = io.BytesIO()
    Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE).save(buf, format="png")
    return buf.getvalue()
