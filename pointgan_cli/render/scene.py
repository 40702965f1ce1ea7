"""The animation's figure: artists created once, then only their data changes per frame.

Why this shape: a full matplotlib redraw (axes, ticks, labels, legend) costs most of a frame, and
none of it changes. So everything static is drawn once into a background; each frame restores
that background and draws only the few ``animated`` artists (two curves, the samples, a title,
the history lines). ``animated=False`` builds the very same picture for a plain full-redraw
pipeline (the benchmark's baseline), so the two pipelines can be compared pixel for pixel.

Colours follow the study: generator blue, discriminator orange; the real value is black.
Axes limits are fixed for the whole animation (``Limits``), so motion on screen means change.
"""

from __future__ import annotations

import numpy as np
from matplotlib import font_manager
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from PIL import ImageFont

from .data import Cell, FrameData, History, Limits

G_COLOR = "#1f77b4"  # generator (matplotlib C0)
D_COLOR = "#ff7f0e"  # discriminator (C1)
G_LOSS_COLOR = "#9467bd"  # the G loss: not the blue of G's w
B_COLOR = "#2ca02c"  # G's b in the history panel: w is G's blue, b must not be
REAL_COLOR = "black"
FAILED_COLOR = "#b2182b"
CONVERGED_COLOR = "#1b7837"
V_POINTS = 256  # resolution of the D(v) curve


def d_curve(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``D(v)`` for packed params ``d`` (7,) on the grid ``v`` (N,) -> (N,), in float64."""
    import torch  # here: the sweep's charts import this module and draw no D

    from ..engine.models import d_prob_packed

    dt = torch.from_numpy(np.asarray(d, dtype=np.float64)).unsqueeze(0)  # (1, 7)
    return d_prob_packed(dt, torch.from_numpy(v).unsqueeze(0))[0].numpy()


def pixel_size(width_in: float, height_in: float, dpi: int) -> tuple[int, int]:
    """Frame size in pixels, rounded down to even numbers (H.264 yuv420p needs both even)."""
    w, h = int(round(width_in * dpi)), int(round(height_in * dpi))
    return max(2, w - w % 2), max(2, h - h % 2)


def new_figure(width_px: int, height_px: int, dpi: int) -> tuple[Figure, FigureCanvasAgg]:
    """An off-screen Agg figure of exactly ``width_px x height_px`` (no pyplot, no window)."""
    # A hair over the exact size, so float rounding in bbox arithmetic cannot lose a pixel.
    fig = Figure(figsize=((width_px + 1e-3) / dpi, (height_px + 1e-3) / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    got = canvas.get_width_height()
    if got != (width_px, height_px):  # pragma: no cover - would be a matplotlib change
        raise RuntimeError(f"figure is {got}, wanted {(width_px, height_px)}")
    return fig, canvas


class Readout(Artist):
    """Left/right-aligned monospace text that changes every frame, rasterized by Pillow.

    Why not ``Text``: matplotlib lays out and renders every glyph anew on each draw, which
    cost more than everything else in a frame together; Pillow's FreeType binding draws the
    same font (matplotlib's DejaVu Sans Mono) at the same size more than ten times faster.
    ``(x, y)`` is the top-left (``ha="left"``) or top-right corner in ``transform`` coordinates.
    """

    def __init__(self, x: float, y: float, transform, fontsize: float, dpi: float,
                 ha: str = "left", color: str = "black"):
        super().__init__()
        self.xy, self.ha = (x, y), ha
        self.set_transform(transform)
        path = font_manager.findfont(font_manager.FontProperties(family="monospace"))
        self._font = ImageFont.truetype(path, size=max(1, round(fontsize * dpi / 72)))
        ascent, descent = self._font.getmetrics()
        self._line = ascent + descent  # pixel height of one line: stable, whatever the glyphs
        self._rgb = (to_rgba_array(color)[0, :3] * 255).astype(np.uint8)
        self._text = ""

    def set_text(self, text: str) -> None:
        self._text, self.stale = text, True

    def get_text(self) -> str:
        return self._text

    def _bitmap(self) -> np.ndarray:
        """The text as straight-alpha RGBA (H, W, 4), row 0 at the bottom (as Agg wants it)."""
        lines = self._text.split("\n")
        masks = [self._font.getmask2(line, mode="L") for line in lines]
        width = max(off[0] + m.size[0] for m, off in masks)
        alpha = np.zeros((self._line * len(lines), width), np.uint8)  # (H, W)
        for i, (m, (ox, oy)) in enumerate(masks):
            w, h = m.size
            glyphs = np.asarray(m, np.uint8).reshape(h, w)[max(0, -oy):]  # clip to the line
            top = max(0, oy)
            glyphs = glyphs[: self._line - top]
            row = i * self._line + top
            alpha[row:row + glyphs.shape[0], ox:ox + w] = glyphs
        rgba = np.empty(alpha.shape + (4,), np.uint8)
        rgba[..., :3] = self._rgb
        rgba[..., 3] = alpha[::-1]
        return rgba

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self._text:
            return
        rgba = self._bitmap()
        x, y = self.get_transform().transform(self.xy)  # display pixels, origin bottom-left
        if self.ha == "right":
            x -= rgba.shape[1]
        gc = renderer.new_gc()
        renderer.draw_image(gc, round(x), round(y) - rgba.shape[0], rgba)
        gc.restore()
        self.stale = False


class MainPanel:
    """Generator line, D curve, generated samples on the axis and the real value, on ``ax``."""

    def __init__(self, ax, lim: Limits, real: float, animated: bool, fontsize: float,
                 step_text: bool):
        self.ax = ax
        self.v = np.linspace(lim.v[0], lim.v[1], V_POINTS)  # (V,)
        ax.set_xlim(*lim.v)
        ax.set_ylim(*lim.y)
        ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
        ax.axvline(real, color=REAL_COLOR, lw=0.8, ls=":", alpha=0.6, zorder=0)
        ax.tick_params(labelsize=fontsize * 0.85)
        ax.grid(alpha=0.25, lw=0.5)
        kw = {"animated": animated}
        (self.g_line,) = ax.plot([-1.0, 1.0], [0.0, 0.0], color=G_COLOR, lw=2.0,
                                 label="G(x) = w x + b", **kw)
        (self.d_line,) = ax.plot(self.v, np.zeros_like(self.v), color=D_COLOR, lw=2.0,
                                 label="D(v)", **kw)
        (self.samples,) = ax.plot([], [], "o", color=G_COLOR, ms=4.0, alpha=0.45, mec="none",
                                  clip_on=True, label="generated samples", **kw)
        (self.real,) = ax.plot([real], [0.0], "*", color=REAL_COLOR, ms=12.0, mec="white",
                               mew=0.6, clip_on=False, label=f"real value ({real:g})", **kw)
        self.lines = [self.g_line, self.d_line, self.samples, self.real]  # for the legend
        self.text = None
        if step_text:  # the grid's per-member readout (a single run has it in the title)
            self.text = Readout(0.98, 0.96, ax.transAxes, fontsize * 0.9, ax.figure.dpi,
                                ha="right")
            self.text.set_animated(animated)
            ax.add_artist(self.text)

    def update(self, f: FrameData) -> list[Artist]:
        self.g_line.set_ydata([f.b - f.w, f.b + f.w])  # x = -1 and x = +1
        self.d_line.set_ydata(d_curve(f.d, self.v))
        self.samples.set_data(f.samples, np.zeros_like(f.samples))
        drawn = [self.d_line, self.g_line, self.samples, self.real]
        if self.text is not None:
            self.text.set_text(f"step {f.step}\nw={f.w:+.3f}\nb={f.b:+.3f}")
            drawn.append(self.text)
        return drawn


class HistoryPanel:
    """w and b (one axis) above both losses (an axis of their own), drawn up to the current
    step: one y-axis per quantity, so a D loss near 1.0 never sits on the b = 1 line, and w
    and b in colours of their own."""

    def __init__(self, ax, loss_ax, lim: Limits, real: float, animated: bool,
                 fontsize: float):
        for a in (ax, loss_ax):
            a.set_xlim(0, max(1, lim.last_step))
            a.tick_params(labelsize=fontsize * 0.85)
            a.grid(alpha=0.25, lw=0.5)
        ax.set_ylim(*lim.params)
        ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
        ax.axhline(real, color=REAL_COLOR, lw=0.8, ls=":", alpha=0.6)
        ax.set_ylabel("w, b", fontsize=fontsize)
        ax.tick_params(labelbottom=False)
        loss_ax.set_ylim(*lim.loss)
        loss_ax.set_ylabel("loss", fontsize=fontsize)
        loss_ax.set_xlabel("step", fontsize=fontsize)
        self.ax, self.loss_ax = ax, loss_ax
        kw = {"animated": animated}
        (self.w,) = ax.plot([], [], color=G_COLOR, lw=1.6, label="w", **kw)
        (self.b,) = ax.plot([], [], color=B_COLOR, lw=1.6, ls="--", label="b", **kw)
        (self.g_loss,) = loss_ax.plot([], [], color=G_LOSS_COLOR, lw=1.0, alpha=0.9,
                                      label="G loss", **kw)
        (self.d_loss,) = loss_ax.plot([], [], color=D_COLOR, lw=1.0, alpha=0.9,
                                      label="D loss", **kw)
        self.lines = [self.w, self.b, self.g_loss, self.d_loss]  # for the legend

    def update(self, h: History, upto: int, current: FrameData, cur_losses: tuple) -> list:
        """Draw ``h`` where ``h.steps < current.step``, then the current point itself."""
        steps = np.append(h.steps[:upto], current.step)
        self.w.set_data(steps, np.append(h.w[:upto], current.w))
        self.b.set_data(steps, np.append(h.b[:upto], current.b))
        self.g_loss.set_data(steps, np.append(h.g_loss[:upto], cur_losses[0]))
        self.d_loss.set_data(steps, np.append(h.d_loss[:upto], cur_losses[1]))
        return [self.w, self.b, self.g_loss, self.d_loss]


def _legend(fig: Figure, lines: list, top: float, fontsize: float) -> None:
    fig.legend(lines, [ln.get_label() for ln in lines], loc="upper center", ncol=4,
               bbox_to_anchor=(0.5, top), fontsize=fontsize, frameon=False,
               handlelength=2.2, columnspacing=1.6)


class Scene:
    """One figure plus its canvas; ``frame()`` returns the RGBA pixels of the current state."""

    def __init__(self, fig: Figure, canvas: FigureCanvasAgg, title, blit: bool):
        self.fig, self.canvas, self.title, self.blit = fig, canvas, title, blit
        self._background = None
        self._dirty: list[Artist] = []

    @property
    def size(self) -> tuple[int, int]:
        return self.canvas.get_width_height()  # (width, height)

    def set_artists(self, artists: list[Artist]) -> None:
        self._dirty = artists

    def frame(self) -> memoryview:
        """RGBA buffer (H, W, 4) of the figure as it stands; valid until the next call."""
        if not self.blit:
            self.canvas.draw()
            return self.canvas.buffer_rgba()
        if self._background is None:
            self.canvas.draw()  # everything not animated, once
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._background)
        for a in self._dirty:
            (a.axes or self.fig).draw_artist(a)
        return self.canvas.buffer_rgba()


def run_scene(width_px: int, height_px: int, dpi: int, lim: Limits, real: float, title: str,
              animated: bool = True) -> tuple[Scene, MainPanel, HistoryPanel]:
    """The single-run figure: main panel on top, history panel below; ``Scene.title`` is the
    per-frame readout (step, w, b) under the fixed ``title``."""
    fig, canvas = new_figure(width_px, height_px, dpi)
    fs = 10.0
    # rows: main panel, room for its x label, w and b, losses
    gs = fig.add_gridspec(4, 1, height_ratios=[2.3, 0.3, 0.62, 0.62], hspace=0.1, left=0.09,
                          right=0.91, top=0.83, bottom=0.09)
    ax = fig.add_subplot(gs[0])
    ax.set_xlabel("input: x for G, v for D", fontsize=fs)
    ax.set_ylabel("output: G(x), D(v)", fontsize=fs)
    main = MainPanel(ax, lim, real, animated, fs, step_text=False)
    params_ax = fig.add_subplot(gs[2])
    hist = HistoryPanel(params_ax, fig.add_subplot(gs[3], sharex=params_ax), lim, real,
                        animated, fs)
    # Outside the axes, so the moving curves never run over it.
    _legend(fig, main.lines + hist.lines, 0.905, fs * 0.85)
    # Two header lines: the title (shortened with an ellipsis to the panels' width, so a long
    # run name never runs off the frame) and, under it, the per-frame readout.
    title_text = fig.text(0.09, 0.975, title, ha="left", va="top", fontsize=fs * 1.15)
    fit_text(title_text, (0.91 - 0.09) * width_px)
    readout = Readout(0.09, 0.935, fig.transFigure, fs * 1.05, dpi, ha="left")
    readout.set_animated(animated)
    fig.add_artist(readout)
    return Scene(fig, canvas, readout, blit=animated), main, hist


def wrap_text(text, width_px: float, max_lines: int = 3) -> None:
    """Break a matplotlib ``Text`` at spaces (or anywhere in a word longer than a line) into
    lines that each fit ``width_px``; past ``max_lines`` the last one is shortened with an
    ellipsis. A title wider than its figure would be cut on both sides."""
    renderer = text.figure.canvas.get_renderer()
    full = text.get_text()

    def fits(s: str) -> bool:
        text.set_text(s)
        return text.get_window_extent(renderer).width <= width_px

    lines: list[str] = []
    line = ""
    for word in full.split(" "):
        trial = f"{line} {word}" if line else word
        if fits(trial):
            line = trial
            continue
        if line:
            lines.append(line)
        while not fits(word) and len(word) > 1:  # a word wider than a line: cut it
            cut = len(word)
            while cut > 1 and not fits(word[:cut]):
                cut -= max(1, cut // 10)
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        text.set_text(lines[-1])
        fit_text(text, width_px - 10)
        lines[-1] = text.get_text().rstrip("…") + "…"
    text.set_text("\n".join(lines))


def fit_text(text, width_px: float) -> None:
    """Shorten a matplotlib ``Text`` from the end, with an ellipsis, until it fits
    ``width_px``."""
    renderer = text.figure.canvas.get_renderer()
    full = text.get_text()
    keep = len(full)
    while keep > 1 and text.get_window_extent(renderer).width > width_px:
        keep -= max(1, (keep // 20))
        text.set_text(full[:keep].rstrip() + "…")


def grid_scene(cells: list[Cell], width_px: int, height_px: int, dpi: int, ncols: int,
               lim: Limits, reals: list[float], title: str,
               animated: bool = True) -> tuple[Scene, list[MainPanel]]:
    """Small multiples: one main panel per member, sharing the same fixed axes."""
    fig, canvas = new_figure(width_px, height_px, dpi)
    nrows = -(-len(cells) // ncols)
    fs = 8.5
    height_in = height_px / dpi
    width_in = width_px / dpi
    gs = fig.add_gridspec(nrows, ncols, hspace=0.42, wspace=0.2, left=0.55 / width_in,
                          right=0.99, top=1 - 0.75 / height_in, bottom=0.5 / height_in)
    panels = []
    for i, cell in enumerate(cells):
        ax = fig.add_subplot(gs[i // ncols, i % ncols])
        if i % ncols == 0:
            ax.set_ylabel("G(x), D(v)", fontsize=fs)
        if i + ncols >= len(cells):  # nothing below it: the bottom panel of its column
            ax.set_xlabel("x for G, v for D", fontsize=fs)
        status = {True: "converged", False: "failed", None: "unfinished"}[cell.converged]
        if cell.cls and cell.converged is not None:  # the summary's class says how
            status = cell.cls.replace("_", " ")
        color = {True: CONVERGED_COLOR, False: FAILED_COLOR, None: "0.3"}[cell.converged]
        ax.set_title(f"{cell.label} - {status}", fontsize=fs, color=color)
        panels.append(MainPanel(ax, lim, reals[i], animated, fs, step_text=True))
    fig.text(0.5, 1 - 0.06 / height_in, title, ha="center", va="top", fontsize=fs * 1.2)
    _legend(fig, panels[0].lines, 1 - 0.3 / height_in, fs)
    return Scene(fig, canvas, None, blit=animated), panels
