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
import ctypes
import errno
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import dirac, fsguard, rundir, verdict
from .batching import bytes_per_run
from .dirac import DiracTrainer
from .engine import BatchTrainer, Snapshot
from .errors import PointganError, RuntimeFailure, UsageError
from .models import D_NAMES
from .spec import RunSpec, overrides
from .verdict import distance


class Interrupted(PointganError):
    """Training stopped by a signal after saving a checkpoint. Exit code 128 + the signal
    (130 for SIGINT / Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum

    def __reduce__(self):  # crosses process boundaries (sweep workers) with its signal
        return (type(self), (str(self), self.signum))


@dataclass
class Member:
    """One run of a batch: its spec, its directory and the command that re-runs it."""

    spec: RunSpec
    out: Path
    command: str
    resume: bool = False
    resume_step: int = 0  # step of the checkpoint a resumed member continues from


def make_trainer(specs: Sequence[RunSpec], step_mode: str | None = None) -> BatchTrainer:
    """The engine for the batch's game (pointgan or the Dirac-GAN)."""
    if specs[0].game == "dirac":
        return DiracTrainer(specs, "eager")
    return BatchTrainer(specs, step_mode=step_mode)


def dirac_metrics_row(snap: Snapshot, i: int) -> dict[str, Any]:
    """A Dirac-GAN metrics row: theta, psi and their distance to the equilibrium (0, 0)."""
    theta, psi = float(snap.g[i, 0]), float(snap.d[i, 0])
    return {
        "step": snap.step,
        "theta": theta,
        "psi": psi,
        "distance": dirac.distance(theta, psi),
        "g_loss": float(snap.g_loss[i]),
        "d_loss": float(snap.d_loss[i]),
        "d_real": float(snap.d_real[i]),
        "d_fake": float(snap.d_fake[i]),
    }


def params_of(row: dict[str, Any]) -> tuple[float, float]:
    """The two numbers the success window judges: (w, b), or the Dirac-GAN's (theta, psi)
    (whose distance |theta| + |psi - 0| is the same formula with real value 0)."""
    if "theta" in row:
        return float(row["theta"]), float(row["psi"])
    return float(row["w"]), float(row["b"])


def metrics_row(snap: Snapshot, i: int, real: float) -> dict[str, Any]:
    if snap.g.shape[1] == 1:
        return dirac_metrics_row(snap, i)
    w, b = float(snap.g[i, 0]), float(snap.g[i, 1])
    row: dict[str, Any] = {
        "step": snap.step,
        "w": w,
        "b": b,
        "distance": distance(w, b, real),
        "g_loss": float(snap.g_loss[i]),
        "d_loss": float(snap.d_loss[i]),
        "d_real": float(snap.d_real[i]),
        "d_fake": float(snap.d_fake[i]),
    }
    for j, name in enumerate(D_NAMES):
        row[f"d_{name}"] = float(snap.d[i, j])
    return row


def keep_freed_memory() -> None:
    """Linux/glibc: keep freed blocks in the heap instead of returning them to the system.

    Each step allocates and frees the same few megabyte-sized temporaries; by default glibc
    serves those with fresh mmap()s, and the page faults of touching new pages cost more than
    the arithmetic (measured: 1.5x faster steps for 256 runs). Numbers are unaffected."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not trim the heap below 1 GiB
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap for blocks up to 32 MiB
    except (OSError, AttributeError):
        pass


_ALLOCATOR_TUNED = False


class SignalFlag:
    """Turns SIGINT and SIGTERM into a flag while training (``signum`` says which came);
    restores the old handlers afterwards. ``enabled=False``: no handlers (sweep workers,
    which their parent stops through a shared flag instead)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool = True) -> None:
        self.signum = 0
        self.enabled = enabled
        self._old: dict[int, Any] = {}

    @property
    def hit(self) -> bool:
        return self.signum != 0

    def __enter__(self) -> SignalFlag:
        if self.enabled:
            for sig in self.SIGNALS:
                # not the main thread: signals cannot reach us anyway
                with contextlib.suppress(ValueError):
                    self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def disk_failure(exc: OSError, where: Path) -> RuntimeFailure:
    """One line for an I/O failure while writing (full disk, quota, read-only mount)."""
    why = exc.strerror or type(exc).__name__
    hint = ("; free some space and continue with --resume"
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "")
    return RuntimeFailure(f"cannot write in {fsguard._short(str(where))}: {why}{hint}")


def available_memory(device: str) -> int | None:
    """Bytes that training on ``device`` may still allocate (None: unknown). CPU: the kernel's
    MemAvailable; CUDA: the device's free memory."""
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def runs_that_fit(specs: Sequence[RunSpec], processes: int = 1) -> int | None:
    """How many runs of the largest of ``specs`` fit in memory per process (None: unknown);
    UsageError (one line, the estimate and the limit) when not even one does."""
    worst = max(specs, key=bytes_per_run)
    per_run = bytes_per_run(worst)
    avail = available_memory(worst.device)
    if avail is None:
        return None
    fit = avail // (per_run * max(1, processes))
    if fit < 1:
        raise UsageError(
            f"one run needs about {per_run / 2**20:,.0f} MiB (--batch-size {worst.batch_size}, "
            f"--inner-batch {worst.effective_inner_batch}, --d-steps {worst.d_steps}) x "
            f"{processes} process(es), more than the {avail / 2**20:,.0f} MiB available on "
            f"{worst.device}")
    return int(fit)


def check_memory(specs: Sequence[RunSpec]) -> None:
    """Refuse (UsageError) a batch whose estimated memory exceeds what is available, before
    anything is allocated or written."""
    fit = runs_that_fit(specs)
    if fit is not None and fit < len(specs):
        per_run = max(bytes_per_run(s) for s in specs)
        raise UsageError(
            f"a batch of {len(specs)} runs needs about {len(specs) * per_run / 2**20:,.0f} MiB, "
            f"more than the memory available on {specs[0].device} (fits {fit}); use a smaller "
            "--max-batch, --batch-size or --inner-batch")


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and any(k in str(exc) for k in ("out of memory", "can't allocate memory")))


ProgressFn = Callable[[Snapshot], None]


def prepare_device(spec: RunSpec) -> None:
    """Process settings for training on ``spec.device``: one intra-op thread and the
    allocator tuning on a CPU (bitwise batch invariance; parallelism comes from processes);
    a CUDA device must exist."""
    if spec.device == "cpu":
        torch.set_num_threads(1)
        keep_freed_memory()
    elif not torch.cuda.is_available():
        raise UsageError(f"--device: {spec.device} requested but CUDA is not available")


def new_trainer(specs: Sequence[RunSpec]) -> BatchTrainer:
    """The engine for ``specs``; ``POINTGAN_CUDA_GRAPHS=0`` steps kernel by kernel on a GPU
    (same arithmetic, for debugging)."""
    graphs_off = os.environ.get("POINTGAN_CUDA_GRAPHS", "1") == "0"
    return make_trainer(specs, step_mode="eager" if graphs_off else None)


def warn_graph_error(trainer: BatchTrainer) -> None:
    if trainer.graph_error:
        print(f"warning: CUDA graph capture failed, trained without it: "
              f"{trainer.graph_error.splitlines()[0]}", file=sys.stderr)


def train_batch(
    members: Sequence[Member],
    on_progress: ProgressFn | None = None,
    keep_steps: bool = True,
    durable: bool = True,
    *,
    force: bool = False,
    handle_signals: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train ``members`` (sharing one ``batch_key``) as one batch; returns their summaries.

    Fresh members get ``spec.json`` before the first step: a non-empty directory is refused
    (UsageError) unless ``force``, and even then only a run directory pointgan wrote is
    emptied. Resumed ones continue from their latest complete checkpoint, checked against their
    ``spec.json`` (all members of a batch resume from the same step). ``keep_steps=False``
    keeps only ``last.pt``; ``durable=False`` skips fsync on intermediate checkpoints (sweeps:
    thousands of members); the final checkpoint and summary are always fsynced.

    SIGINT/SIGTERM (``handle_signals``) or ``should_stop()`` stop training between two steps
    after a checkpoint at the current step: ``Interrupted`` (exit 130/143)."""
    specs = [m.spec for m in members]
    prepare_device(specs[0])
    check_memory(specs)
    with contextlib.ExitStack() as locks:
        try:
            states = _prepare(members, force, locks)
        except OSError as exc:
            raise disk_failure(exc, members[0].out) from None
        try:
            return _train(members, states, on_progress, keep_steps, durable, handle_signals,
                          should_stop)
        except (MemoryError, RuntimeError) as exc:
            if not _out_of_memory(exc):
                raise
            raise RuntimeFailure(f"out of memory training {len(members)} run(s) on "
                                 f"{specs[0].device}; use a smaller --max-batch, --batch-size "
                                 "or --inner-batch (the directory stays resumable)") from None


def _prepare(members: Sequence[Member], force: bool, locks: contextlib.ExitStack) -> list[dict]:
    """Lock every member directory, then make it fresh or load its checkpoint."""
    for m in members:
        if m.resume:
            if not m.out.is_dir():
                raise UsageError(f"--resume: {fsguard._short(str(m.out))} does not exist")
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
            state = rundir.load_checkpoint(ck)
            rundir.check_checkpoint(ck, state, m.spec)
            states.append(state)
        else:
            rundir.prepare_fresh(m.out, force)
            rundir.write_spec(m.out, m.spec, m.command)
    if states and len(states) != len(members):
        raise UsageError("--resume: every member of a batch must have a checkpoint")
    if len({int(s["step"]) for s in states}) > 1:
        raise UsageError("--resume: the members of one batch must resume from the same step")
    return states


def _train(members, states, on_progress, keep_steps, durable, handle_signals, should_stop):
    specs = [m.spec for m in members]
    with torch.inference_mode():
        trainer = new_trainer(specs)
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
            # (step, w, b) of every snapshot in the success window, per member: the verdict is
            # taken from these when the summary is written (a resumed member re-reads its own).
            window = [_window_history(m) for m in members]
            starts = [verdict.window_start(m.spec.steps, m.spec.success_window) for m in members]
            for m in members:
                current = m.out
                writers.append(rundir.MetricsWriter(m.out))
            t0 = time.perf_counter()

            def on_snapshot(snap: Snapshot) -> None:
                for i, (m, wr) in enumerate(zip(members, writers)):
                    row = metrics_row(snap, i, m.spec.real_value)
                    wr.write(row)
                    if snap.step >= starts[i]:
                        window[i].append((snap.step, *params_of(row)))
                if on_progress is not None:
                    on_progress(snap)

            def on_checkpoint(step: int) -> None:
                nonlocal current
                wall = time.perf_counter() - t0
                final = step == trainer.steps
                for i, (m, wr) in enumerate(zip(members, writers)):
                    current = m.out
                    wr.sync(durable or final)
                    state = trainer.state_for(i)
                    state["wall_seconds"] = prior_wall[i] + wall
                    rundir.write_checkpoint(m.out, state, m.spec, keep_steps, durable or final)

            try:
                train_to_end(trainer, on_snapshot, on_checkpoint, handle_signals, should_stop,
                             f"pointgan train --resume --out {members[0].out}")
            except Interrupted:
                for wr in writers:
                    wr.close()
                raise
            for wr in writers:
                wr.close()
            wall = time.perf_counter() - t0
            warn_graph_error(trainer)
            summaries = []
            for i, m in enumerate(members):
                current = m.out
                summary = run_summary(trainer, i, prior_wall[i] + wall, window[i])
                rundir.atomic_write_json(m.out / rundir.SUMMARY, summary)
                summaries.append(summary)
        except OSError as exc:
            raise disk_failure(exc, current) from None
        finally:
            for wr in writers:
                wr.abandon()
    return summaries


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
    start = verdict.window_start(m.spec.steps, m.spec.success_window)
    rows = rundir.read_metrics(m.out / rundir.METRICS)
    return [(int(r["step"]), *params_of(r)) for r in rows if r["step"] >= start]


def run_summary(trainer: BatchTrainer, i: int, wall: float,
             window: list[tuple[int, float, float]]) -> dict[str, Any]:
    """The run's summary: final parameters and the one verdict (``verdict.judge``) on its
    success window, computed here once and read by every later command."""
    spec = trainer.specs[i]
    diverged = not bool(trainer.alive[i])
    diverged_step = int(trainer.diverged_step[i]) if diverged else None
    steps, ws, bs = zip(*window) if window else ((), (), ())
    is_dirac = spec.game == "dirac"
    real = 0.0 if is_dirac else spec.real_value  # the Dirac-GAN's target: psi = 0
    v = verdict.judge(steps, ws, bs, real=real, tolerance=spec.tolerance,
                      total_steps=spec.steps, window=spec.success_window, diverged=diverged,
                      diverged_step=diverged_step)
    fields = verdict.summary_fields(v)
    if is_dirac:
        theta, psi = float(trainer.g[i, 0]), float(trainer.d[i, 0])
        params: dict[str, Any] = {"game": "dirac", "theta": theta, "psi": psi,
                                  "distance": dirac.distance(theta, psi)}
        fields = dirac_fields(fields)
    else:
        w, b = float(trainer.g[i, 0]), float(trainer.g[i, 1])
        params = {"w": w, "b": b, "distance": distance(w, b, spec.real_value)}
    return {
        "status": "diverged" if diverged else "finished",
        **params,
        "tolerance": spec.tolerance,
        **fields,
        "steps": trainer.step,
        "seed": spec.seed,
        "preset": spec.preset,
        "overrides": overrides(spec),
        "diverged_step": diverged_step,
        "wall_seconds": round(wall, 3),
        "versions": rundir.versions(),
    }


def dirac_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The verdict's fields in the Dirac-GAN's words: the window judged (theta, psi) as
    (w, b) with real value 0, so ``bias_b`` is the mean of psi (``bias_psi``) and the reason
    names theta and psi."""
    out = {("bias_psi" if k == "bias_b" else k): v for k, v in fields.items()}
    v = dict(out["verdict"])
    v["reason"] = (v["reason"].replace("|w| + |b - real|", "|theta| + |psi|")
                   .replace("bias of b", "psi"))
    for a, b in (("time_avg_w", "time_avg_theta"), ("time_avg_b", "time_avg_psi")):
        if a in v:
            v[b] = v.pop(a)
    out["verdict"] = v
    return out
