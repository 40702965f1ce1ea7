"""Drawing an animation: plan (``data``), figure (``scene``), file (``writers``).

``data`` says what to draw (no matplotlib), ``scene`` builds the figure, ``writers`` write the
file. Frames are streamed: each is drawn into the one Agg canvas, handed to the writer and
forgotten, so memory does not grow with the frame count. The output appears atomically (temp
file in the same directory, then ``os.replace``): a failed render leaves no half-written file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import RuntimeFailure, UsageError
from ..store import outputs
from ..store.atomic import atomic_write_bytes
from ..store.rundir import ANIMATION
from .data import DiracTrack, Plan, Track, limits, plan_for
from .scene import HistoryPanel, grid_scene, pixel_size, run_scene
from .writers import GifWriter, Mp4Writer, check_target, png_bytes, resolve_output, temp_beside

RUN_INCHES = (7.2, 5.4)  # one run: 720 x 540 px at the default dpi
CELL_INCHES = (3.6, 2.7)  # one member of a grid


def renderer_for(plan: Plan, dpi: int, animated: bool = True):
    """The plan's renderer: the pointgan scene, or the Dirac-GAN's (theta, psi) plane."""
    if plan.tracks and isinstance(plan.tracks[0], DiracTrack):
        if not 20 <= dpi <= 600:
            raise UsageError(f"--dpi must be between 20 and 600, not {dpi}")
        from .phase import PhaseRenderer

        return PhaseRenderer(plan.tracks, plan.cells, plan.title, dpi, RUN_INCHES, CELL_INCHES)
    return Renderer(plan, dpi, animated)


class Renderer:
    """Builds the figure for a plan once; ``draw(step)`` returns that frame's RGBA pixels."""

    def __init__(self, plan: Plan, dpi: int, animated: bool = True):
        if not 20 <= dpi <= 600:
            raise UsageError(f"--dpi must be between 20 and 600, not {dpi}")
        self.plan = plan
        self.tracks = cast("list[Track]", plan.tracks)  # a Dirac-GAN plan has PhaseRenderer
        self.hist: HistoryPanel | None
        lim = limits(self.tracks)
        if plan.cells is None:
            track = self.tracks[0]
            size = pixel_size(*RUN_INCHES, dpi)
            self.scene, main, self.hist = run_scene(*size, dpi, lim, track.spec.real_value,
                                                    plan.title, animated)
            self.panels = [main]
            self.history = track.history()
        else:
            n = len(plan.cells)
            ncols = min(n, max(1, int(np.ceil(np.sqrt(n)))))
            nrows = -(-n // ncols)
            size = pixel_size(CELL_INCHES[0] * ncols, CELL_INCHES[1] * nrows + 0.4, dpi)
            reals = [t.spec.real_value for t in self.tracks]
            self.scene, self.panels = grid_scene(plan.cells, *size, dpi, ncols, lim, reals,
                                                 plan.title, animated)
            self.hist = None
        self.size = size

    def update(self, step: int) -> list:
        """Point every artist at the snapshot shown at ``step``; returns the changed ones."""
        dirty = []
        for track, panel in zip(self.tracks, self.panels):
            k = track.index_at(step)
            f = track.frame(k)
            dirty += panel.update(f)
            if self.hist is not None:
                upto = int(np.searchsorted(self.history.steps, f.step, side="left"))
                losses = (float(track.g_loss[k]), float(track.d_loss[k]))
                dirty += self.hist.update(self.history, upto, f, losses)
                title = self.scene.title
                title.set_text(f"step {f.step}/{track.steps[-1]}  w={f.w:+.3f}  b={f.b:+.3f}")
                dirty.append(title)
        return dirty

    def draw(self, step: int) -> memoryview:
        """The RGBA pixels (H, W, 4) of the frame at ``step``; valid until the next draw."""
        self.scene.set_artists(self.update(step))
        return self.scene.frame()


# -- the two entry points ----------------------------------------------------------------------


@contextmanager
def _placed(source: Path, out: Path | None, name: str, default: bool) -> Iterator[Path]:
    """``out`` as given, or ``name`` in the folder beside the run (``SWEEP/members/ID`` for a
    member), held under its owner's lock while the file is written (``outputs``)."""
    if not default and out is not None:
        yield out
        return
    with outputs.derived_dir(source) as folder:
        yield folder / name


def animate(source: Path, out: Path | None = None, fmt: str | None = None, fps: int = 20,
            frames: int = 120, dpi: int = 100, grid: bool = False,
            members: list[str] | None = None, grid_size: int = 4,
            on_start: Callable[[int], None] | None = None,
            on_frame: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Render an animation of ``source`` to ``out``; returns what ``--json`` prints."""
    t0 = time.perf_counter()
    source = Path(source)
    default = out is None
    out, fmt = resolve_output(source, out, fmt)
    if not 1 <= fps <= 60:
        raise UsageError(f"--fps must be between 1 and 60, not {fps}")
    if frames < 2:
        raise UsageError(f"--frames must be at least 2, not {frames}")
    plan = plan_for(source, grid, members, grid_size)
    with _placed(source, out, f"{ANIMATION}.{fmt}", default) as out:
        return _animate(plan, out, fmt, fps, frames, dpi, on_start, on_frame, t0)


def _animate(plan: Plan, out: Path, fmt: str, fps: int, frames: int, dpi: int,
             on_start: Callable[[int], None] | None, on_frame: Callable[[int], None] | None,
             t0: float) -> dict[str, Any]:
    renderer = renderer_for(plan, dpi)
    steps = plan.frame_steps(frames)
    if on_start is not None:
        on_start(len(steps))
    try:
        return _encode(renderer, steps, out, fmt, fps, on_frame, t0)
    except OSError as exc:  # a full disk, a read-only folder: the temp file is gone already
        raise RuntimeFailure(f"cannot write {out}: {exc.strerror or exc}") from None


def _encode(renderer, steps: list[int], out: Path, fmt: str, fps: int,
            on_frame: Callable[[int], None] | None, t0: float) -> dict[str, Any]:
    width, height = renderer.size
    with temp_beside(out) as tmp:
        if fmt == "gif":
            # The GIF palette is fixed up front from the first and last frames (the two ends of
            # the story); then every frame is quantized to it and written as it comes.
            last = np.asarray(renderer.draw(steps[-1]))[..., :3].copy()  # (H, W, 3)
            first = np.asarray(renderer.draw(steps[0]))[..., :3]
            writer: GifWriter | Mp4Writer = GifWriter(tmp, (width, height), fps,
                                                      np.vstack([first, last]))
            del last, first
        else:
            writer = Mp4Writer(tmp, (width, height), fps)
        try:
            for i, step in enumerate(steps):
                writer.append(renderer.draw(step))
                if on_frame is not None:
                    on_frame(i + 1)
        except BaseException:
            writer.abort()
            raise
        writer.close()
    return {"output": str(out), "frames": len(steps), "format": fmt, "width": width,
            "height": height, "seconds": round(len(steps) * writer.frame_seconds, 3),
            "fps": fps, "first_step": steps[0], "last_step": steps[-1],
            "wall_seconds": round(time.perf_counter() - t0, 3)}


def still(source: Path, step: int, out: Path | None = None, fmt: str | None = None,
          dpi: int = 100, grid: bool = False, members: list[str] | None = None,
          grid_size: int = 4) -> dict[str, Any]:
    """Write the frame at snapshot ``step`` as a PNG (the very pixels the animation shows)."""
    t0 = time.perf_counter()
    source = Path(source)
    if fmt is not None and fmt.lower() != "png":
        raise UsageError("--still writes a PNG; drop --format")
    if out is not None and out.suffix.lower() != ".png":
        raise UsageError(f"--out: a still is a PNG; use a .png name, not {out.name!r}")
    plan = plan_for(source, grid, members, grid_size)
    for t in plan.tracks:
        if step not in set(t.steps.tolist()):
            last, every = int(t.steps[-1]), t.spec.snapshot_every
            where = "" if plan.cells is None else f" of {t.run.path.name}"
            if not 0 <= step <= last:
                raise UsageError(f"--still: step {step} is outside the run{where} (0..{last})")
            raise UsageError(f"--still: no snapshot at step {step}{where} "
                             f"(snapshots every {every})")
    with _placed(source, out, f"frame-{step:06d}.png", out is None) as out:
        check_target(out)
        renderer = renderer_for(plan, dpi)
        width, height = renderer.size
        data = png_bytes(renderer.draw(step), (width, height))
        try:
            atomic_write_bytes(out, data)
        except OSError as exc:
            raise RuntimeFailure(f"cannot write {out}: {exc.strerror or exc}") from None
    return {"output": str(out), "frames": 1, "format": "png", "width": width, "height": height,
            "seconds": 0.0, "step": step, "wall_seconds": round(time.perf_counter() - t0, 3)}
