"""What ``animate`` draws: a run's snapshots as arrays, the frames to show, fixed axes, and
which members of a sweep go into a grid.

Every number a frame shows comes from ``metrics.jsonl``: each row holds w, b and the 7 D
parameters, so D(v) is recomputed exactly, and the generated samples are recomputed from the
counter-based RNG (the very x the engine drew at that step, a pure function of seed and step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import UsageError
from ..games import DIRAC, POINT
from ..games.point import D_NAMES
from ..store import rundir, sweepdir
from ..store.memberpath import load_any_run
from ..store.rundir import Run
from ..store.sweepdir import SweepDir

MAX_SAMPLES = 256  # generated samples drawn per frame (the first of the batch; x is iid)
HISTORY_POINTS = 1000  # the history panel's lines are decimated to at most this many points
AXIS_CAP = 4.0  # fixed axes reach at most this far beyond [-1, 1] and the real value


@dataclass(frozen=True)
class Limits:
    """Fixed axes of one animation: main panel ``v`` (x axis) and ``y``, history panel."""

    v: tuple[float, float]
    y: tuple[float, float]
    params: tuple[float, float] = (-1.0, 1.0)
    loss: tuple[float, float] = (0.0, 1.0)
    last_step: int = 1


@dataclass
class FrameData:
    """What one panel shows at one snapshot: ``d`` (7,) packed D params, ``samples`` (B,)."""

    step: int
    w: float
    b: float
    d: np.ndarray
    samples: np.ndarray


@dataclass
class History:
    """A run's w, b and losses per snapshot, each (S,), possibly decimated for drawing."""

    steps: np.ndarray
    w: np.ndarray
    b: np.ndarray
    g_loss: np.ndarray
    d_loss: np.ndarray


@dataclass(frozen=True)
class Cell:
    """One member of a grid: its label and whether it converged (None: unfinished)."""

    label: str
    converged: bool | None
    cls: str | None = None  # the run's class from its summary (verdict.CLASSES)


def metrics_table(run: Run, cols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(steps (S,) int64, the columns ``cols`` (S, len(cols)) float) of a run's metrics rows;
    a row missing a field or steps that do not increase is one ``UsageError``."""
    try:
        table = np.array([[float(r[c]) for c in cols] for r in run.metrics])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{run.path / rundir.METRICS} is corrupt (missing fields)") from None
    steps = table[:, 0].astype(np.int64)
    if np.any(np.diff(steps) <= 0):
        raise UsageError(f"{run.path / rundir.METRICS} is corrupt (steps not increasing)")
    return steps, table


class _Snapshots:
    """A run's snapshot steps (S,), read with the metrics columns its game needs."""

    def __init__(self, run: Run, cols: tuple[str, ...]):
        self.run, self.spec = run, run.spec
        self.steps, self.table = metrics_table(run, ("step", *cols))  # (S,), (S, 1 + len(cols))

    def __len__(self) -> int:
        return len(self.steps)

    def index_at(self, step: int) -> int:
        """The latest snapshot at or before ``step`` (the first one if none)."""
        return max(0, int(np.searchsorted(self.steps, step, side="right")) - 1)


class Track(_Snapshots):
    """One run's snapshots as arrays: ``steps``/``w``/``b``/losses (S,), ``d`` (S, 7)."""

    def __init__(self, run: Run):
        super().__init__(run, ("w", "b", "g_loss", "d_loss") + tuple(f"d_{n}" for n in D_NAMES))
        table = self.table  # (S, 12)
        self.w, self.b = table[:, 1], table[:, 2]
        self.g_loss, self.d_loss = table[:, 3], table[:, 4]
        self.d = np.ascontiguousarray(table[:, 5:])

    def frame(self, k: int) -> FrameData:
        """Snapshot ``k``: its parameters and the samples G produced from that step's x."""
        import torch  # the sweep's charts read this module without drawing frames

        from ..engine import rng

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


class DiracTrack(_Snapshots):
    """A Dirac-GAN run's snapshots: ``steps``, ``theta``, ``psi`` (S,)."""

    def __init__(self, run: Run):
        super().__init__(run, ("theta", "psi"))
        self.theta, self.psi = self.table[:, 1], self.table[:, 2]


TRACKS: dict[str, type[Track] | type[DiracTrack]] = {POINT.name: Track, DIRAC.name: DiracTrack}


def track_for(run: Run) -> Track | DiracTrack:
    """The run's snapshots in its game's terms."""
    return TRACKS[run.spec.game](run)


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


def _span(lo: float, hi: float, must: list[float], pad: float = 0.06,
          room: float = 0.0) -> tuple[float, float]:
    """[lo, hi] widened to hold ``must``, but at most AXIS_CAP beyond it, plus a margin; and at
    least ``room`` beyond ``must`` (a value sitting on a target stays off the frame)."""
    r_lo, r_hi = min(must), max(must)
    lo = max(min(lo, r_lo), r_lo - AXIS_CAP)
    hi = min(max(hi, r_hi), r_hi + AXIS_CAP)
    margin = (hi - lo) * pad
    return min(lo - margin, r_lo - room), max(hi + margin, r_hi + room)


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
                   reals + [0.0], room=0.15)
    losses = np.concatenate([np.r_[t.g_loss, t.d_loss] for t in tracks])
    top = float(np.nanmax(losses)) if np.isfinite(losses).any() else 1.0
    loss = (0.0, min(max(top, 0.1) * 1.08, 10.0))
    return Limits(v=v, y=y, params=params, loss=loss,
                  last_step=int(max(t.steps[-1] for t in tracks)))


# -- sources: one run or a sweep grid ----------------------------------------------------------

@dataclass
class PickedMember:
    id: str
    group: str
    run: Run
    converged: bool | None  # None: no summary yet (unfinished)
    cls: str | None = None  # the class its summary names


def _converged(sweep: SweepDir, member_id: str) -> bool | None:
    summary = sweep.members.summary(member_id)
    return None if summary is None else bool(summary.get("converged"))


def _across_groups(ids: list[str], groups: dict[str, str]) -> list[str]:
    """``ids`` reordered round-robin over their groups, so a short pick spans the groups."""
    buckets: dict[str, list[str]] = {}
    for i in ids:
        buckets.setdefault(groups[i], []).append(i)
    lanes = list(buckets.values())
    return [lane[k] for k in range(max(map(len, lanes), default=0)) for lane in lanes
            if k < len(lane)]


def pick_members(sweep: SweepDir, ids: list[str] | None, size: int) -> list[PickedMember]:
    """The members to show: ``ids`` when given, else up to ``size`` finished members, failed
    and converged ones alternating (failed first) so each failure sits beside a success, each
    kind taken round-robin over the sweep's groups."""
    if not 1 <= size <= 16:
        raise UsageError(f"--grid-size must be between 1 and 16, not {size}")
    groups = sweep.groups
    if ids:
        unknown = [i for i in ids if i not in groups]
        if unknown:
            known = ", ".join(list(groups)[:8]) + (", ..." if len(groups) > 8 else "")
            raise UsageError(f"--member: no member {unknown[0]!r} in {sweep.path} (known: {known})")
        chosen = list(dict.fromkeys(ids))
        if len(chosen) > 16:
            raise UsageError(f"--member: at most 16 members in one grid, not {len(chosen)}")
    else:
        found = sweep.members.summaries(list(groups))  # one pass over the store
        status = {i: None if s is None else bool(s.get("converged"))
                  for i, s in zip(groups, found)}
        failed = _across_groups([i for i, c in status.items() if c is False], groups)
        good = _across_groups([i for i, c in status.items() if c is True], groups)
        if not failed and not good:
            raise UsageError(f"{sweep.path}: no finished member to show yet")
        n_failed = min(len(failed), max(size - len(good), (size + 1) // 2))
        failed, good = failed[:n_failed], good[: size - n_failed]
        chosen = [i for pair in zip(failed, good) for i in pair]
        chosen += failed[len(good):] + good[len(failed):]
    return [PickedMember(i, groups[i], sweep.members.load(i), _converged(sweep, i),
                        _class(sweep, i)) for i in chosen]


def _class(sweep: SweepDir, member_id: str) -> str | None:
    summary = sweep.members.summary(member_id)
    return None if summary is None else summary.get("class")


@dataclass
class Plan:
    """What to draw: one track per panel, their cells (grid only) and the figure's title."""

    tracks: list[Track] | list[DiracTrack]
    cells: list[Cell] | None  # None: a single run
    title: str

    def frame_steps(self, frames: int) -> list[int]:
        """Steps shown in each frame: an even selection over all snapshot steps."""
        steps = np.unique(np.concatenate([t.steps for t in self.tracks]))
        return [int(steps[i]) for i in select_frames(len(steps), frames)]


def plan_for(source: Path, grid: bool, members: list[str] | None, grid_size: int) -> Plan:
    """Load what ``source`` names: a run directory, or (``--grid``) members of a sweep."""
    if sweepdir.is_sweep(source):
        sweep = SweepDir(source)
        if not grid:
            raise UsageError(f"{source} is a sweep directory: add --grid, or animate one member "
                             f"({sweep.member_dir('<id>')})")
        picked = pick_members(sweep, members, grid_size)
        tracks = [track_for(p.run) for p in picked]
        if len({type(t) for t in tracks}) > 1:
            raise UsageError("--member: a grid shows one game; pick pointgan or Dirac-GAN "
                             "members, not both")
        cells = [Cell(f"{p.id} [{p.group}]" if p.group else p.id, p.converged, p.cls)
                 for p in picked]
        total = len(sweep.entries)
        one_game = cast("list[Track] | list[DiracTrack]", tracks)  # checked just above
        return Plan(one_game, cells, f"sweep {source.name}: {len(picked)} of {total} members")
    if grid or members:
        raise UsageError(f"--grid/--member need a sweep directory; {source} has no sweep.json")
    run = load_any_run(source)
    spec = run.spec
    cls = (run.summary or {}).get("class")
    shown = f": {cls.replace('_', ' ')}" if cls else ""
    track = track_for(run)
    if isinstance(track, DiracTrack):
        return Plan([track], None, f"{source.name}: Dirac-GAN, {_method(spec)}{shown}")
    return Plan([track], None, f"{source.name} ({spec.preset}, seed {spec.seed}){shown}")


def _method(spec) -> str:
    """A Dirac-GAN spec in a few words: loss, update, regularisers."""
    loss = {"bce": "GAN" if spec.g_loss == "minimax" else "NS-GAN", "wgan": "WGAN"}.get(
        spec.loss, spec.loss)
    parts = [("WGAN-GP" if loss == "WGAN" and spec.gp_weight > 0 else loss), spec.update,
             f"{spec.optimizer} lr {spec.lr_g:g}/{spec.lr_d:g}"]
    for field, name in (("instance_noise", "noise"), ("r1", "R1"), ("r2", "R2"),
                        ("consensus", "consensus"), ("lecam", "LeCam")):
        if getattr(spec, field) > 0:
            parts.append(f"{name} {getattr(spec, field):g}")
    return ", ".join(parts)
