"""Where a diagnosis gets its numbers: the run's parameters at one step, read-only.

The checkpoint for that step is the source of truth when there is one (``step-NNNNNN.npz``, or
``last.npz`` for the last step); otherwise the metrics row, which holds the same float32 values
widened to float64. A checkpoint of that step that exists but cannot be read is an error, never
skipped: a diagnosis that silently fell back to another source could not be trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from ..games.point import D_NAMES
from ..store import checkpoints, rundir
from ..store.memberpath import member_address
from ..store.rundir import Run

if TYPE_CHECKING:
    import torch

@dataclass
class Params:
    """Both networks at one step of a run, as numpy float64 (the evidence beside a class
    needs no torch: ``diagnose run`` and a sweep's report read it without importing it)."""

    step: int
    g: np.ndarray  # (2,) [w, b]
    d: np.ndarray  # (7,) packed discriminator
    origin: str  # the file the parameters came from, relative to the run directory


@dataclass
class State:
    """Both networks at one step of a run, as torch tensors (for the diagnoses that
    differentiate)."""

    step: int
    g: torch.Tensor  # (2,) [w, b], float64
    d: torch.Tensor  # (7,) packed discriminator, float64
    origin: str  # the file the parameters came from, relative to the run directory


def _from_checkpoint(path: Path, step: int) -> np.ndarray | None:
    ck = checkpoints.load_checkpoint(path)
    try:
        ck_step = int(ck["step"])
        g = np.asarray(ck["generator"], dtype=np.float64).reshape(2)
        d = np.asarray(ck["discriminator"], dtype=np.float64).reshape(7)
    except (KeyError, TypeError, ValueError, RuntimeError):
        raise UsageError(f"checkpoint {path} is corrupt (no generator/discriminator)") from None
    return np.concatenate([g, d]) if ck_step == step else None


def params_at(run: Run, step: int | None = None, finite: bool = True) -> Params:
    """The run's generator and discriminator at ``step`` (default: the last snapshot).

    Every checkpoint of that step is read (``last.npz`` first for the last step, then
    ``step-NNNNNN.npz``) and they must agree. Raises UsageError for a step outside the run, an
    unreadable or inconsistent checkpoint, or (with ``finite``) parameters that are not
    finite."""
    row = run.row_at(step)
    n = int(row["step"])
    ckdir = run.path / rundir.CHECKPOINTS
    paths = [ckdir / rundir.checkpoint_name(n)]
    if n == int(run.metrics[-1]["step"]):
        paths.insert(0, ckdir / rundir.LAST)
    found: list[tuple[str, np.ndarray]] = []
    for p in paths:
        if p.is_file():
            packed = _from_checkpoint(p, n)
            if packed is not None:
                found.append((p.relative_to(run.path).as_posix(), packed))
    if found:
        origin, packed = found[0]
        for other, q in found[1:]:
            if not np.array_equal(packed, q):
                raise UsageError(f"{run.path}: {origin} and {other} disagree about step {n}")
        st = Params(n, packed[:2].copy(), packed[2:].copy(), origin)
        return _checked(st) if finite else st
    try:
        g = np.array([row["w"], row["b"]], dtype=np.float64)
        d = np.array([row[f"d_{name}"] for name in D_NAMES], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{run.path / rundir.METRICS}: row at step {n} lacks parameters") from None
    st = Params(n, g, d, rundir.METRICS)
    return _checked(st) if finite else st


def state_at(run: Run, step: int | None = None, finite: bool = True) -> State:
    """``params_at`` as torch tensors."""
    import torch

    p = params_at(run, step, finite)
    return State(p.step, torch.from_numpy(p.g), torch.from_numpy(p.d), p.origin)


def _checked(s: Params) -> Params:
    if not all(math.isfinite(float(v)) for v in np.concatenate([s.g, s.d])):
        raise UsageError(
            f"--step: parameters at step {s.step} are not finite; pick an earlier step"
        )
    return s


def trajectory(run: Run, upto: int | None = None) -> torch.Tensor:
    """The generator's (w, b) at every snapshot up to ``upto`` (default: all), finite rows only.
    -> (T, 2)"""
    pts = [
        (float(r["w"]), float(r["b"]))
        for r in run.metrics
        if (upto is None or int(r["step"]) <= upto)
        and math.isfinite(float(r["w"]))
        and math.isfinite(float(r["b"]))
    ]
    import torch

    return torch.tensor(pts, dtype=torch.float64).reshape(-1, 2)


@dataclass
class OptimizerState:
    """Adam's second moments (``exp_avg_sq``) of both players at a checkpoint."""

    step: int
    v_g: torch.Tensor  # (2,)
    v_d: torch.Tensor  # (7,)
    origin: str


def optimizer_state_at(run: Run, step: int) -> OptimizerState:
    """The optimizer state of the checkpoint nearest ``step``: the latest one at or before it,
    else the earliest after it (sweeps keep only their latest). A sweep member
    (``SWEEP/members/ID``) is read from the sweep's batch store. UsageError when the run has no
    readable checkpoint with an optimizer state."""
    import torch

    where = member_address(run.path)
    stored = None if where is None else where[0].members.checkpoint(where[1])
    if stored is not None:  # a member: its sweep's batch store, whatever its folder holds
        cks = [(stored, "the sweep's batch store")]
    else:
        ckdir = run.path / rundir.CHECKPOINTS
        every = run.spec.checkpoint_every
        names = [(n, ckdir / rundir.checkpoint_name(n))
                 for n in range(0, run.spec.steps + 1, every)]
        names.append((run.spec.steps, ckdir / rundir.checkpoint_name(run.spec.steps)))
        names = [(n, p) for n, p in names if p.is_file()]
        if (ckdir / rundir.LAST).is_file():
            names.append((-1, ckdir / rundir.LAST))
        cks = [(checkpoints.load_checkpoint(p), p.relative_to(run.path).as_posix())
               for _, p in names]
    found: list[OptimizerState] = []
    for ck, origin in cks:
        try:
            found.append(OptimizerState(
                int(ck["step"]),
                torch.as_tensor(ck["optim_g"]["exp_avg_sq"], dtype=torch.float64).reshape(2),
                torch.as_tensor(ck["optim_d"]["exp_avg_sq"], dtype=torch.float64).reshape(7),
                origin))
        except (KeyError, TypeError, ValueError, RuntimeError):
            continue
    if not found:
        raise UsageError(f"{run.path}: no checkpoint with Adam's state (the verdict of an Adam "
                         f"run needs its second moments)")
    before = [s for s in found if s.step <= step]
    if before:
        return max(before, key=lambda s: s.step)
    return min(found, key=lambda s: s.step)
