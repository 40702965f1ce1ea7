"""Train a batch of runs into their run directories: the glue between engine and rundir.

``train`` and each batch of a ``sweep`` go through ``train_batch``: it prepares (or resumes) every
run directory, drives one ``BatchTrainer``, streams metrics rows, writes checkpoints on the
spec's cadence and the summaries last. SIGINT (Ctrl-C) and SIGTERM are turned into a flag
checked between two steps, so the checkpoint they trigger is always of a consistent state.

Every member directory is locked (``fsguard.DirLock``) while its batch trains, a non-empty one
is only replaced with ``force=True`` and then only if pointgan wrote it, and a resumed
checkpoint must belong to the member's ``spec.json``: the library enforces these, not just the
CLI. A full disk becomes one ``RuntimeFailure`` line; the directory stays resumable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import verdict
from ..engine.snapshot_record import Snapshot
from ..errors import RuntimeFailure, UsageError, short
from ..games import DIRAC, POINT, game_of
from ..naming import rerun_command, resume_command
from ..spec import RunSpec
from ..store import atomic, checkpoints, fsguard, outputs, rundir
from .records import final_state, metrics_row, run_summary
from .runtime import (
    Interrupted,
    SignalFlag,
    check_memory,
    disk_failure,
    out_of_memory,
    prepare_device,
)

if TYPE_CHECKING:
    from ..engine.trainer import BatchTrainer


@dataclass
class Member:
    """One run of a batch: its spec, its directory and the command that re-runs it (None:
    ``naming.rerun_command`` into ``out``, built only where a run directory is written; a
    sweep's batch store writes none, and 16,384 commands cost a second)."""

    spec: RunSpec
    out: Path
    command: str | None = None
    resume: bool = False


ProgressFn = Callable[[Snapshot], None]


def new_trainer(specs: Sequence[RunSpec]) -> Any:
    """The engine for the batch: the fused kernel (``fused.FusedTrainer``) where the spec
    asks for it and it runs every option, else the torch engine for the batch's game
    (pointgan or the Dirac-GAN, which always steps eagerly); ``POINTGAN_CUDA_GRAPHS=0`` steps
    kernel by kernel on a GPU (same arithmetic, for debugging)."""
    from ..engine.fused.support import uses_fused

    if uses_fused(specs[0]):
        from ..engine.fused.trainer import FusedTrainer

        return FusedTrainer(specs)
    from ..engine.dirac import DiracTrainer
    from ..engine.trainer import BatchTrainer

    trainers: dict[str, type[BatchTrainer]] = {POINT.name: BatchTrainer,
                                               DIRAC.name: DiracTrainer}
    graphs_off = os.environ.get("POINTGAN_CUDA_GRAPHS", "1") == "0"
    return trainers[specs[0].game](specs, step_mode="eager" if graphs_off else None)


def no_grad(trainer: Any) -> Any:
    """torch's inference mode around a torch engine's training; nothing for the fused one."""
    if getattr(trainer, "engine", "torch") == "fused":
        return contextlib.nullcontext()
    import torch

    return torch.inference_mode()


def warn_graph_error(trainer: BatchTrainer) -> None:
    if trainer.graph_error:
        print(f"warning: CUDA graph capture failed, trained without it: "
              f"{trainer.graph_error.splitlines()[0]}", file=sys.stderr)


def train_batch(
    members: Sequence[Member],
    on_progress: ProgressFn | None = None,
    *,
    force: bool = False,
    handle_signals: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train ``members`` (sharing one ``batch_key``) as one batch; returns their summaries.

    Fresh members get ``spec.json`` before the first step: a non-empty directory is refused
    (UsageError) unless ``force``, and even then only a run directory pointgan wrote is
    emptied. Resumed ones continue from their latest complete checkpoint, checked against their
    ``spec.json`` (all members of a batch resume from the same step). Every checkpoint is
    kept (``step-NNNNNN.npz`` beside ``last.npz``) and fsynced.

    SIGINT/SIGTERM (``handle_signals``) or ``should_stop()`` stop training between two steps
    after a checkpoint at the current step: ``Interrupted`` (exit 130/143)."""
    specs = [m.spec for m in members]
    prepare_device(specs[0])
    check_memory(specs)
    with contextlib.ExitStack() as locks:
        try:
            states = _prepare(members, force, locks)
        except OSError as exc:
            raise disk_failure(exc, members[0].out, _again(members[0])) from None
        try:
            return _train(members, states, on_progress, handle_signals, should_stop)
        except (MemoryError, RuntimeError) as exc:
            if not out_of_memory(exc):
                raise
            raise RuntimeFailure(f"out of memory training {len(members)} run(s) on "
                                 f"{specs[0].device}; use a smaller --max-batch, --batch-size "
                                 "or --inner-batch (the directory stays resumable)") from None


def _prepare(members: Sequence[Member], force: bool, locks: contextlib.ExitStack) -> list[dict]:
    """Lock every member directory, then make it fresh or load its checkpoint."""
    for m in members:
        outputs.refuse_inside_sweep(m.out)  # a sweep's members are written by the sweep alone
        if m.resume:
            if not m.out.is_dir():
                raise UsageError(f"--resume: {short(str(m.out))} does not exist")
        else:
            m.out.mkdir(parents=True, exist_ok=True)
        locks.enter_context(fsguard.DirLock(m.out))
    states = []
    for m in members:
        if m.resume:
            rundir.prepare_resume(m.out)
            ck = rundir.latest_checkpoint(m.out)
            if ck is None:
                raise UsageError(f"--resume: no complete checkpoint in {m.out}")
            state = checkpoints.load_checkpoint(ck)
            checkpoints.check_checkpoint(ck, state, m.spec)
            states.append(state)
        else:
            rundir.prepare_fresh(m.out, force)
            rundir.write_spec(m.out, m.spec, m.command or rerun_command(m.spec, str(m.out)))
    if states and len(states) != len(members):
        raise UsageError("--resume: every member of a batch must have a checkpoint")
    if len({int(s["step"]) for s in states}) > 1:
        raise UsageError("--resume: the members of one batch must resume from the same step")
    return states


def _train(members, states, on_progress, handle_signals, should_stop):
    specs = [m.spec for m in members]
    trainer = new_trainer(specs)
    with no_grad(trainer):
        prior_wall = [0.0] * len(members)
        writers: list[rundir.MetricsWriter] = []
        current = members[0].out
        try:
            if states:
                trainer.load_states(states)
                prior_wall = [float(s.get("wall_seconds", 0.0)) for s in states]
                for m in members:
                    current = m.out
                    rundir.truncate_metrics(m.out, trainer.step)
            # (step, w, b) of every snapshot the verdict reads (the success window and as many
            # steps before it, ``verdict.evidence_start``), per member: the verdict is
            # taken from these when the summary is written (a resumed member re-reads its own).
            window = [_window_history(m) for m in members]
            entry = [_entry_history(m) for m in members]  # each member's converged_at so far
            starts = [verdict.evidence_start(m.spec.steps, m.spec.success_window)
                      for m in members]
            for m in members:
                current = m.out
                writers.append(rundir.MetricsWriter(m.out))
            t0 = time.perf_counter()

            games = [game_of(m.spec) for m in members]
            targets = [g.target(m.spec) for g, m in zip(games, members)]

            def on_snapshot(snap: Snapshot) -> None:
                for i, (game, wr) in enumerate(zip(games, writers)):
                    row = metrics_row(snap, i, game, targets[i])
                    wr.write(row)
                    entry[i].add(snap.step, *game.judged_of(row))
                    if snap.step >= starts[i]:
                        window[i].append((snap.step, *game.judged_of(row)))
                if on_progress is not None:
                    on_progress(snap)

            def on_checkpoint(step: int) -> None:
                nonlocal current
                wall = time.perf_counter() - t0
                for i, (m, wr) in enumerate(zip(members, writers)):
                    current = m.out
                    wr.sync()
                    state = trainer.state_for(i)
                    state["wall_seconds"] = prior_wall[i] + wall
                    checkpoints.write_checkpoint(m.out, state, m.spec)

            try:
                train_to_end(trainer, on_snapshot, on_checkpoint, handle_signals, should_stop,
                             resume_command(members[0].out, "train"))
            except Interrupted:
                for wr in writers:
                    wr.close()
                raise
            for wr in writers:
                wr.close()
            wall = time.perf_counter() - t0
            warn_graph_error(trainer)
            summaries = []
            final = final_state(trainer)
            for i, m in enumerate(members):
                current = m.out
                summary = run_summary(trainer, i, prior_wall[i] + wall, window[i], final,
                                      entry[i].at)
                atomic.atomic_write_json(m.out / rundir.SUMMARY, summary)
                summaries.append(summary)
        except OSError as exc:
            failed = next((m for m in members if m.out == current), members[0])
            raise disk_failure(exc, current, _again(failed)) from None
        finally:
            for wr in writers:
                wr.abandon()
    return summaries


def _again(m: Member) -> str:
    """What continues ``m`` after a full disk: ``--resume`` from its checkpoint, or (none
    written yet) its own command again with ``--force``, which replaces only what pointgan
    wrote."""
    with contextlib.suppress(OSError):
        if rundir.latest_checkpoint(m.out) is not None:
            return resume_command(m.out, "train")
    return f"{rerun_command(m.spec, str(m.out))} --force"


def train_to_end(trainer: BatchTrainer, on_snapshot: Callable[[Snapshot], None],
                 on_checkpoint: Callable[[int], None], handle_signals: bool,
                 should_stop: Callable[[], bool] | None, resume_hint: str,
                 with_losses: bool = True) -> None:
    """``trainer.run`` to the last step, stoppable between two steps by SIGINT/SIGTERM
    (``handle_signals``) or ``should_stop()``: a stop writes a checkpoint of the current step
    and raises ``Interrupted`` saying how to continue (``resume_hint``). Single runs and
    sweep batches stop the same way through this one loop."""
    with SignalFlag(handle_signals) as flag:

        def stop() -> bool:
            return flag.hit or (should_stop is not None and should_stop())

        finished = trainer.run(on_snapshot, on_checkpoint, stop, with_losses)
    if not finished:
        on_checkpoint(trainer.step)
        raise Interrupted(f"interrupted at step {trainer.step}; checkpoint saved, continue "
                          f"with {resume_hint}", flag.signum or signal.SIGINT)


def _window_history(m: Member) -> list[tuple[int, float, float]]:
    """The success-window snapshots a resumed member already wrote (none for a fresh one)."""
    if not m.resume:
        return []
    start = verdict.evidence_start(m.spec.steps, m.spec.success_window)
    rows = rundir.read_metrics(m.out / rundir.METRICS)
    game = game_of(m.spec)
    return [(int(r["step"]), *game.judged_of(r)) for r in rows if r["step"] >= start]


def _entry_history(m: Member) -> verdict.EntryTracker:
    """The member's ``converged_at`` tracker, fed with the snapshots a resumed member already
    wrote (empty for a fresh one)."""
    game = game_of(m.spec)
    tracker = verdict.EntryTracker(game.target(m.spec), m.spec.tolerance)
    if m.resume:
        for r in rundir.read_metrics(m.out / rundir.METRICS):
            tracker.add(int(r["step"]), *game.judged_of(r))
    return tracker
