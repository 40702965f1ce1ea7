"""Training one planned job (``plan.Job``) into its batch of the store (``sweepstore``): two
files per batch.

A sweep's members no longer get a run directory each. The batch keeps its snapshots in memory
(a few KB per member) and, at every checkpoint of the spec's cadence, writes the columnar
metrics and then the stacked training state, each atomically with one fsync. A resumed batch
continues from its state file with the same members, so after ``kill -9`` at most one
checkpoint interval is recomputed, and the numbers are those of an uninterrupted sweep (the
engine is batch-invariant and its randomness a pure function of seed and step).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import verdict
from ..engine.snapshot_record import Snapshot
from ..errors import UsageError
from ..games import game_of
from ..naming import resume_command
from ..store import atomic, checks, sweepstore
from ..store.background import BackgroundWrites
from ..store.sweepdir import SweepDir
from ..training.records import final_state, run_summary
from ..training.runtime import check_memory, disk_failure, prepare_device
from ..training.train import (
    ProgressFn,
    new_trainer,
    no_grad,
    train_to_end,
    warn_graph_error,
)
from .spec import SweepMember


def train_store_batch(
    sweep: Path,
    bid: str,
    members: Sequence[SweepMember],
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    handle_signals: bool = True,
    resume: bool = False,
    writes: BackgroundWrites | None = None,
) -> None:
    """Train ``members`` (one ``batch_key``) as batch ``bid`` of the sweep at ``sweep``;
    ``resume``: they continue from the batch's state file.

    The checkpoints are written on ``writes``' thread while training goes on (None: a thread
    of this batch's own, every write done when this returns; a sweep that trains its batches
    one after another passes one for all of them and waits for it before its summaries).
    SIGINT (``handle_signals``) or ``should_stop()`` stop between two steps after a
    checkpoint of the current step (``Interrupted``)."""
    specs = [m.spec for m in members]
    prepare_device(specs[0])
    check_memory(specs)
    try:
        if writes is not None:
            _train(SweepDir(sweep), bid, members, on_progress, should_stop, handle_signals,
                   resume, writes)
        else:
            with BackgroundWrites() as own:
                _train(SweepDir(sweep), bid, members, on_progress, should_stop, handle_signals,
                       resume, own)
    except OSError as exc:
        again = resume_command(sweep)
        raise disk_failure(exc, Path(sweep), again) from None


def _train(sweep: SweepDir, bid, members, on_progress, should_stop, handle_signals,
           resume, writes: BackgroundWrites) -> None:
    specs = [m.spec for m in members]
    ids = [m.id for m in members]
    trainer = new_trainer(specs)
    with no_grad(trainer):
        prior_wall = np.zeros(len(members), np.float64)
        if resume:
            stored_ids, stacked = sweep.read_batch_state(bid)
            if stored_ids != ids:
                raise UsageError(f"--resume: batch {bid} of {sweep.path} holds other members")
            checks.stacked_state(sweep.batch_state_file(bid), stacked, trainer.stacked_state(),
                                 trainer.steps)
            trainer.load_states([sweepstore.unstack_state(stacked, i)
                                 for i in range(len(ids))])
            prior_wall = np.asarray(stacked.get("wall_seconds", prior_wall), np.float64)
            metrics = sweep.read_batch_metrics(bid)
            if metrics.ids != ids:
                raise UsageError(f"--resume: metrics of batch {bid} of {sweep.path} do not "
                                 "match")
            metrics.truncate(trainer.step)
        else:
            metrics = sweepstore.BatchMetrics(ids)
        t0 = time.perf_counter()

        def on_snapshot(snap: Snapshot) -> None:
            metrics.append(snap)
            if on_progress is not None:
                on_progress(snap)

        def on_checkpoint(step: int) -> None:
            wall = prior_wall + (time.perf_counter() - t0)
            stacked = trainer.stacked_state()
            stacked["wall_seconds"] = wall
            # the snapshots so far in lists of their own: training goes on appending
            held = sweepstore.BatchMetrics(metrics.ids, list(metrics.steps),
                                           list(metrics.params))
            final = final_state(trainer) if step == trainer.steps else None

            def write() -> None:
                if final is not None:  # finished: the members' summaries travel with it,
                    # computed here while the next batch trains (the trainer is done)
                    stacked["summaries"] = _summaries(trainer, held, specs, wall, final)
                sweep.write_batch(bid, held, stacked)

            writes.submit(write)

        train_to_end(trainer, on_snapshot, on_checkpoint, handle_signals, should_stop,
                     resume_command(sweep.path),
                     with_losses=False)
        warn_graph_error(trainer)


def _summaries(trainer, metrics: sweepstore.BatchMetrics, specs, wall: np.ndarray,
               final) -> list:
    """The finished batch's member summaries (``run_summary``), as its state file holds them."""
    windows, entered = _windows(metrics, specs), _entered(metrics, specs)
    return atomic.finite_json([run_summary(trainer, i, float(wall[i]), windows[i], final,
                                           entered[i]) for i in range(len(specs))])


def _windows(metrics: sweepstore.BatchMetrics, specs) -> list[list[tuple[int, float, float]]]:
    """Each member's (step, w, b) in its evidence (``verdict.evidence_start``: the success
    window and the window before it), as ``train_batch`` collects them:
    the window's snapshots gathered once per window start (members may differ in
    ``success_window``), not once per member."""
    out: list[list[tuple[int, float, float]]] = [[] for _ in specs]
    starts: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        starts.setdefault(verdict.evidence_start(spec.steps, spec.success_window), []).append(i)
    for start, members in starts.items():
        keep = [k for k, s in enumerate(metrics.steps) if s >= start]
        if not keep:
            continue
        steps = [metrics.steps[k] for k in keep]
        wb = np.stack([metrics.params[k][members, :2] for k in keep], axis=1)  # (m, S, 2)
        for i, ws, bs in zip(members, wb[:, :, 0].tolist(), wb[:, :, 1].tolist()):
            out[i] = list(zip(steps, ws, bs))
    return out


def _entered(metrics: sweepstore.BatchMetrics, specs) -> list[int | None]:
    """Each member's ``converged_at`` over all its snapshots (``verdict.EntryTracker`` on the
    whole batch at once): the step after the last snapshot outside its tolerance, None when
    the last one is outside."""
    if not metrics.steps:
        return [None] * len(specs)
    p = np.stack([q[:, :2] for q in metrics.params], axis=1).astype(np.float64)  # (M, S, 2)
    real = np.array([game_of(s).target(s) for s in specs])[:, None]
    tol = np.array([s.tolerance for s in specs])[:, None]
    dist = np.abs(p[:, :, 0]) + np.abs(p[:, :, 1] - real)
    inside = np.isfinite(dist) & (dist < tol)
    out: list[int | None] = []
    for row in inside:
        outside = np.flatnonzero(~row)
        k = int(outside[-1]) + 1 if outside.size else 0
        out.append(int(metrics.steps[k]) if k < len(metrics.steps) else None)
    return out


def train_job(job, on_progress: ProgressFn | None = None, **kw) -> None:
    """A planned job (``plan.Job``): its batch of the sweep's store."""
    train_store_batch(job.sweep, job.batch_id, job.members, on_progress, resume=job.resume, **kw)
