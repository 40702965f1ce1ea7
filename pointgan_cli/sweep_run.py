"""Running a sweep: members -> batched jobs -> worker processes (or a Ray cluster).

Members whose specs share a ``batch_key`` (and, on resume, a checkpoint step) form one batch;
batches are cut to at most ``max_batch`` runs and into at least ``workers`` pieces, so both
cores are busy. Because the engine is batch-invariant, how members are grouped never changes a
number: a member equals the same spec trained alone. Each job runs ``training.train_batch`` in
a process of its own (one intra-op thread each), the only parallelism the engine needs.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from . import rundir
from .engine import batch_key
from .errors import RuntimeFailure
from .training import Member, train_batch


@dataclass
class Job:
    """One batch of members trained together."""

    members: list[Member]

    @property
    def run_steps(self) -> int:
        return sum(m.spec.steps for m in self.members)


def member_state(out: Path) -> tuple[str, int]:
    """('done', steps) | ('resume', step of the latest checkpoint) | ('fresh', 0)."""
    if (out / rundir.SUMMARY).is_file():
        return "done", 0
    ck = rundir.latest_checkpoint(out)
    if ck is not None:
        return "resume", int(rundir.load_checkpoint(ck)["step"])
    return "fresh", 0


def plan_jobs(members: Sequence[Member], max_batch: int, workers: int) -> list[Job]:
    """Group members by (batch_key, resume step) and cut groups into balanced jobs."""
    groups: dict[tuple, list[Member]] = {}
    for m in members:
        step = m.resume_step if m.resume else 0
        groups.setdefault((batch_key(m.spec), step), []).append(m)
    total = sum(len(g) for g in groups.values())
    jobs: list[Job] = []
    for group in groups.values():
        # At least `workers` pieces overall (when there are enough members), each <= max_batch.
        share = max(1, round(workers * len(group) / max(total, 1)))
        pieces = max(share, -(-len(group) // max_batch))
        size = -(-len(group) // pieces)
        jobs.extend(Job(group[i : i + size]) for i in range(0, len(group), size))
    jobs.sort(key=lambda j: -j.run_steps)  # longest first: better packing on the workers
    return jobs


# -- local executor ----------------------------------------------------------------------------

_progress_queue: queue.Queue | None = None


def _init_worker(q: queue.Queue) -> None:
    global _progress_queue
    _progress_queue = q
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: a worker is killed when the sweep process dies (even by kill -9), so no orphan
    keeps writing into member directories that a --resume is about to continue."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _run_job(job: Job, index: int) -> list[dict]:
    last = [0]

    def report(snap) -> None:
        if _progress_queue is not None:
            done = snap.step * len(job.members)
            _progress_queue.put((index, done - last[0]))
            last[0] = done

    return train_batch(job.members, report, keep_steps=False, durable=False)


def run_local(
    jobs: Sequence[Job], workers: int, on_progress: Callable[[int], None] | None = None
) -> None:
    """Run jobs on ``workers`` processes; ``on_progress(run_steps)`` as work completes."""
    if not jobs:
        return
    if workers <= 1 or len(jobs) == 1:  # no pool: same numbers, no start-up cost
        for job in jobs:
            done = [0]

            def report(snap, job=job, done=done) -> None:
                n = snap.step * len(job.members)
                if on_progress is not None:
                    on_progress(n - done[0])
                done[0] = n

            train_batch(job.members, report, keep_steps=False, durable=False)
        return
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can hang.
    ctx = mp.get_context("spawn")
    # A plain queue handed to the workers at start-up (no Manager: a manager process would
    # outlive a killed sweep, the workers do not, see _die_with_parent).
    q = ctx.Queue()
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(jobs))),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(q,),
    ) as pool:
        pending: set[Future] = {pool.submit(_run_job, j, i) for i, j in enumerate(jobs)}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, on_progress)
            for fut in done:
                exc = fut.exception()
                if exc is not None:
                    for other in pending:
                        other.cancel()
                    raise exc
        _drain(q, on_progress)


def _drain(q: queue.Queue, on_progress: Callable[[int], None] | None) -> None:
    while True:
        try:
            _, n = q.get_nowait()
        except queue.Empty:
            return
        if on_progress is not None:
            on_progress(n)


# -- Ray executor --------------------------------------------------------------------------------


def run_ray(
    jobs: Sequence[Job], address: str | None, on_progress: Callable[[int], None] | None = None
) -> None:
    """Shard jobs over a Ray cluster (``address`` None: a local Ray started for this sweep).

    Workers write into the sweep directory, so a multi-node cluster needs it on a shared
    filesystem. Results are identical to the local executor: the same jobs, the same engine."""
    try:
        import ray
    except ImportError:
        raise RuntimeFailure(
            "--executor ray needs Ray: install it with pip install 'pointgan[ray]'"
        ) from None
    if address:
        _check_reachable(address)
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any connection failure is one line
            raise RuntimeFailure(f"--ray-address: cannot start or reach Ray: {exc}") from None
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_ray_job)
        refs = {remote.remote(j): j for j in jobs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                ray.get(ref)
                if on_progress is not None:
                    on_progress(refs[ref].run_steps)
                del refs[ref]
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail fast on a ``host:port`` nobody listens on (ray.init would retry for minutes)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms: let Ray resolve them
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise RuntimeFailure(f"--ray-address: cannot reach Ray at {address}: {exc}") from None


def _ray_job(job: Job) -> None:
    train_batch(job.members, None, keep_steps=False, durable=False)


# -- the whole sweep -----------------------------------------------------------------------------

SWEEP_JSON = "sweep.json"
MEMBERS = "members"


def load_sweep_spec(out: Path):
    """The SweepSpec stored in ``out/sweep.json`` (for --resume)."""
    import json

    from pydantic import ValidationError

    from .errors import UsageError
    from .sweep import SweepSpec

    path = out / SWEEP_JSON
    if not path.is_file():
        raise UsageError(f"--resume: {out} is not a sweep directory (no {SWEEP_JSON})")
    try:
        return SweepSpec.model_validate(json.loads(path.read_text(encoding="utf-8"))["sweep"])
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError):
        raise UsageError(f"--resume: {path} is corrupt") from None


def run_sweep(
    out: Path,
    sweep,
    command: str,
    *,
    resume: bool,
    max_batch: int,
    workers: int,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Train every member not yet finished, then write ``summary.json`` and the charts.

    ``progress(total_run_steps, increment)`` is called as work completes (first with 0)."""
    from . import console, sweep_report
    from .sweep import expand

    members = expand(sweep)
    if not resume:  # sweep.json first: it is what --resume re-expands
        if out.exists():
            shutil.rmtree(out)
        (out / MEMBERS).mkdir(parents=True)
        index = [{"id": i, "group": g, "spec": s.model_dump(mode="json")} for i, g, s in members]
        rundir.atomic_write_json(
            out / SWEEP_JSON,
            {"schema_version": 1, "command": command, "sweep": sweep.model_dump(mode="json"),
             "members": index},
        )
    todo: list[Member] = []
    for mid, _group, spec in members:
        mdir = out / MEMBERS / mid
        state, step = member_state(mdir)
        if state == "done":
            continue
        todo.append(Member(spec=spec, out=mdir, command=console.rerun_command(spec, str(mdir)),
                           resume=state == "resume", resume_step=step))
    jobs = plan_jobs(todo, max_batch, workers)
    total = sum(j.run_steps for j in jobs)
    if progress is not None:
        progress(total, 0)

        def on_progress(n: int) -> None:
            progress(total, n)
    else:
        on_progress = None
    if executor == "ray":
        run_ray(jobs, ray_address, on_progress)
    else:
        run_local(jobs, workers, on_progress)

    summary = sweep_report.summarize(out, [{"id": i, "group": g} for i, g, _ in members])
    real = members[0][2].real_value
    rundir.atomic_write_bytes(out / "weights.png", sweep_report.plot_weights(out, summary, real))
    rundir.atomic_write_bytes(out / "success.png", sweep_report.plot_success(summary))
    rundir.atomic_write_json(out / rundir.SUMMARY, summary)
    return summary
