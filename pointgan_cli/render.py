"""``pointgan animate``: turn a run's snapshots (or several sweep members') into a GIF/MP4/PNG.

Frames come straight from ``metrics.jsonl``: each row holds w, b and the 7 D parameters, so D(v)
is recomputed exactly and the generated samples are recomputed from the counter-based RNG (the
same x the engine drew at that step). Frames are streamed: each is drawn into the one Agg
canvas (see ``render_scene``), handed to the writer and forgotten, so memory does not grow with
the frame count. The output appears atomically (temp file in the same directory, then
``os.replace``): a failed render leaves no half-written file behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import rng
from .errors import RuntimeFailure, UsageError
from .models import D_NAMES
from .render_io import GifWriter, Mp4Writer, png_bytes, resolve_output, temp_beside
from .render_scene import Cell, FrameData, History, Limits, grid_scene, pixel_size, run_scene
from .rundir import Run, atomic_write_bytes, load_run

MAX_SAMPLES = 256  # generated samples drawn per frame (the first of the batch; x is iid)
HISTORY_POINTS = 1000  # the history panel's lines are decimated to at most this many points
AXIS_CAP = 4.0  # fixed axes reach at most this far beyond [-1, 1] and the real value
RUN_INCHES = (7.2, 5.4)
CELL_INCHES = (3.6, 2.7)


class Track:
    """One run's snapshots as arrays: ``steps``/``w``/``b``/losses (S,), ``d`` (S, 7)."""

    def __init__(self, run: Run):
        self.run, self.spec = run, run.spec
        cols = ("step", "w", "b", "g_loss", "d_loss") + tuple(f"d_{n}" for n in D_NAMES)
        try:
            table = np.array([[float(r[c]) for c in cols] for r in run.metrics])  # (S, 12)
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{run.path / 'metrics.jsonl'} is corrupt (missing fields)") from None
        self.steps = table[:, 0].astype(np.int64)
        if np.any(np.diff(self.steps) <= 0):
            raise UsageError(f"{run.path / 'metrics.jsonl'} is corrupt (steps not increasing)")
        self.w, self.b = table[:, 1], table[:, 2]
        self.g_loss, self.d_loss = table[:, 3], table[:, 4]
        self.d = np.ascontiguousarray(table[:, 5:])

    def __len__(self) -> int:
        return len(self.steps)

    def frame(self, k: int) -> FrameData:
        """Snapshot ``k``: its parameters and the samples G produced from that step's x."""
        spec = self.spec
        n = min(spec.batch_size, MAX_SAMPLES)
        x_step = min(int(self.steps[k]), spec.steps - 1)  # the engine's snapshot uses this x
        x = rng.uniform(torch.tensor([spec.seed]), rng.STREAM_X, torch.tensor([x_step]), n,
                        torch.float32)[0, 0] * 2.0 - 1.0  # (n,)
        w, b = float(self.w[k]), float(self.b[k])
        return FrameData(int(self.steps[k]), w, b, self.d[k], x.double().numpy() * w + b)

    def history(self) -> History:
        idx = np.unique(np.linspace(0, len(self) - 1, min(len(self), HISTORY_POINTS)).round())
        idx = idx.astype(np.int64)
        return History(self.steps[idx], self.w[idx], self.b[idx], self.g_loss[idx],
                       self.d_loss[idx])

    def index_at(self, step: int) -> int:
        """The latest snapshot at or before ``step`` (the first one if none)."""
        return max(0, int(np.searchsorted(self.steps, step, side="right")) - 1)


def select_frames(n_snapshots: int, frames: int) -> list[int]:
    """``frames`` snapshot indices spread evenly over ``n_snapshots``, first and last kept;
    every snapshot when there are no more than ``frames``."""
    if frames < 1:
        raise UsageError("--frames must be at least 1")
    if n_snapshots <= frames:
        return list(range(n_snapshots))
    if frames == 1:
        return [n_snapshots - 1]
    # Consecutive targets are >= 1 apart, so rounding keeps them distinct and increasing.
    return [int(i) for i in np.linspace(0, n_snapshots - 1, frames).round()]


def _span(lo: float, hi: float, must: list[float], pad: float = 0.06) -> tuple[float, float]:
    """[lo, hi] widened to hold ``must``, but at most AXIS_CAP beyond it, plus a margin."""
    r_lo, r_hi = min(must), max(must)
    lo = max(min(lo, r_lo), r_lo - AXIS_CAP)
    hi = min(max(hi, r_hi), r_hi + AXIS_CAP)
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


def limits(tracks: list[Track]) -> Limits:
    """Fixed axes covering every snapshot of ``tracks`` (capped, so one blow-up cannot squash
    the rest of the animation into a corner)."""
    reals = [t.spec.real_value for t in tracks]
    w = np.concatenate([t.w for t in tracks])
    b = np.concatenate([t.b for t in tracks])
    lo, hi = float(np.nanmin(b - np.abs(w))), float(np.nanmax(b + np.abs(w)))  # G's outputs
    v = _span(lo, hi, reals + [-1.0, 1.0])  # x's domain, the samples, the real value
    y = _span(lo, hi, reals + [0.0, 1.0])  # G's outputs, D's range, the real value
    params = _span(float(np.nanmin(np.minimum(w, b))), float(np.nanmax(np.maximum(w, b))),
                   reals + [0.0])
    losses = np.concatenate([np.r_[t.g_loss, t.d_loss] for t in tracks])
    top = float(np.nanmax(losses)) if np.isfinite(losses).any() else 1.0
    loss = (0.0, min(max(top, 0.1) * 1.08, 10.0))
    return Limits(v=v, y=y, params=params, loss=loss,
                  last_step=int(max(t.steps[-1] for t in tracks)))


# -- sources: one run or a sweep grid ----------------------------------------------------------

SWEEP = "sweep.json"


@dataclass
class SweepMember:
    id: str
    group: str
    run: Run
    converged: bool | None  # None: no summary yet (unfinished)


def is_sweep(path: Path) -> bool:
    return (path / SWEEP).is_file()


def _sweep_entries(sweep: Path) -> list[tuple[str, str]]:
    """``(id, group)`` of every member listed in ``sweep.json``, in order."""
    try:
        doc = json.loads((sweep / SWEEP).read_text(encoding="utf-8"))
        entries = [(str(m["id"]), str(m.get("group", ""))) for m in doc["members"]]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UsageError(f"{sweep / SWEEP} is corrupt") from None
    if not entries:
        raise UsageError(f"{sweep / SWEEP} lists no members")
    return entries


def _converged(run_dir: Path) -> bool | None:
    try:
        return bool(json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["converged"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None


def pick_members(sweep: Path, ids: list[str] | None, size: int) -> list[SweepMember]:
    """The members to show: ``ids`` when given, else up to ``size`` finished members, failed
    and converged ones alternating (failed first) so each failure sits beside a success."""
    if not 1 <= size <= 16:
        raise UsageError(f"--grid-size must be between 1 and 16, not {size}")
    groups = dict(_sweep_entries(sweep))
    root = sweep / "members"
    if ids:
        unknown = [i for i in ids if i not in groups]
        if unknown:
            known = ", ".join(list(groups)[:8]) + (", ..." if len(groups) > 8 else "")
            raise UsageError(f"--member: no member {unknown[0]!r} in {sweep} (known: {known})")
        chosen = list(dict.fromkeys(ids))
        if len(chosen) > 16:
            raise UsageError(f"--member: at most 16 members in one grid, not {len(chosen)}")
    else:
        status = {i: _converged(root / i) for i in groups}
        failed = [i for i, c in status.items() if c is False]
        good = [i for i, c in status.items() if c is True]
        if not failed and not good:
            raise UsageError(f"{sweep}: no finished member to show yet")
        n_failed = min(len(failed), max(size - len(good), (size + 1) // 2))
        failed, good = failed[:n_failed], good[: size - n_failed]
        chosen = [i for pair in zip(failed, good) for i in pair]
        chosen += failed[len(good):] + good[len(failed):]
    return [SweepMember(i, groups[i], load_run(root / i), _converged(root / i)) for i in chosen]


@dataclass
class Plan:
    """What to draw: the tracks, and the snapshot index of each track in every frame."""

    tracks: list[Track]
    cells: list[Cell] | None  # None: a single run
    title: str

    def frame_steps(self, frames: int) -> list[int]:
        """Steps shown in each frame: an even selection over all snapshot steps."""
        steps = np.unique(np.concatenate([t.steps for t in self.tracks]))
        return [int(steps[i]) for i in select_frames(len(steps), frames)]


def plan_for(source: Path, grid: bool, members: list[str] | None, grid_size: int) -> Plan:
    """Load what ``source`` names: a run directory, or (``--grid``) members of a sweep."""
    if is_sweep(source):
        if not grid:
            raise UsageError(f"{source} is a sweep directory: add --grid, or animate one member "
                             f"({source / 'members' / '<id>'})")
        picked = pick_members(source, members, grid_size)
        tracks = [Track(p.run) for p in picked]
        cells = [Cell(f"{p.id} [{p.group}]" if p.group else p.id, p.converged) for p in picked]
        total = len(_sweep_entries(source))
        return Plan(tracks, cells, f"sweep {source.name}: {len(picked)} of {total} members")
    if grid or members:
        raise UsageError(f"--grid/--member need a sweep directory; {source} has no sweep.json")
    run = load_run(source)
    spec = run.spec
    return Plan([Track(run)], None, f"{source.name} ({spec.preset}, seed {spec.seed})")


class Renderer:
    """Builds the figure for a plan once; ``draw(step)`` returns that frame's RGBA pixels."""

    def __init__(self, plan: Plan, dpi: int, animated: bool = True):
        if not 20 <= dpi <= 600:
            raise UsageError(f"--dpi must be between 20 and 600, not {dpi}")
        self.plan = plan
        lim = limits(plan.tracks)
        if plan.cells is None:
            track = plan.tracks[0]
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
            reals = [t.spec.real_value for t in plan.tracks]
            self.scene, self.panels = grid_scene(plan.cells, *size, dpi, ncols, lim, reals,
                                                 plan.title, animated)
            self.hist = None
        self.size = size

    def update(self, step: int) -> list:
        """Point every artist at the snapshot shown at ``step``; returns the changed ones."""
        dirty = []
        for track, panel in zip(self.plan.tracks, self.panels):
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


def animate(source: Path, out: Path | None = None, fmt: str | None = None, fps: int = 20,
            frames: int = 120, dpi: int = 100, grid: bool = False,
            members: list[str] | None = None, grid_size: int = 4,
            on_start: Callable[[int], None] | None = None,
            on_frame: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Render an animation of ``source`` to ``out``; returns what ``--json`` prints."""
    t0 = time.perf_counter()
    source = Path(source)
    out, fmt = resolve_output(source, out, fmt)
    if not 1 <= fps <= 60:
        raise UsageError(f"--fps must be between 1 and 60, not {fps}")
    if frames < 2:
        raise UsageError(f"--frames must be at least 2, not {frames}")
    plan = plan_for(source, grid, members, grid_size)
    renderer = Renderer(plan, dpi)
    steps = plan.frame_steps(frames)
    if on_start is not None:
        on_start(len(steps))
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
    out = out if out is not None else source / f"frame-{step:06d}.png"
    renderer = Renderer(plan, dpi)
    width, height = renderer.size
    data = png_bytes(renderer.draw(step), (width, height))
    try:
        atomic_write_bytes(out, data)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {out}: {exc.strerror or exc}") from None
    return {"output": str(out), "frames": 1, "format": "png", "width": width, "height": height,
            "seconds": 0.0, "step": step, "wall_seconds": round(time.perf_counter() - t0, 3)}
