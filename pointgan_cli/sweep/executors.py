"""Executors: run a sweep's jobs on local worker processes or on a Ray cluster.

Each job runs ``jobs.train_job`` (one batch of the sweep's store) in a process of its own
(one intra-op thread each), the only parallelism the engine needs. Both executors run the
same jobs through the same engine, so they give the same numbers. Local workers start through
``worker_boot`` (parent-death signal armed before torch is imported, signals ignored) and are
stopped by the parent through a shared flag, so SIGINT/SIGTERM leave every member at a
checkpoint and kill -9 leaves no worker.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import multiprocessing as mp
import os
import queue
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from ..errors import RuntimeFailure
from ..store.background import BackgroundWrites
from ..training import worker_boot
from ..training.runtime import Interrupted, SignalFlag
from .jobs import train_job
from .plan import Job
from .reaper import Reaper

# -- local executor ----------------------------------------------------------------------------


PROGRESS_EVERY = 0.2  # seconds between a worker's progress messages


def _run_job(job: Job, index: int) -> None:
    """One job in a worker process (see ``worker_boot``: no signal handlers, a stop flag).
    Progress goes to the parent at most every ``PROGRESS_EVERY`` seconds and at the end: a
    message per snapshot cost the worker more than its bookkeeping is worth."""
    last = [0, time.monotonic()]
    total = job.run_steps
    os.environ["POINTGAN_FUSED_THREADS"] = "1"  # the fused kernel: one thread per worker

    def tell_progress(snap) -> None:
        q = worker_boot.progress_queue
        done = snap.step * len(job.members)
        now = time.monotonic()
        if q is not None and (now - last[1] >= PROGRESS_EVERY or done >= total):
            q.put((index, done - last[0]))
            last[0], last[1] = done, now

    train_job(job, tell_progress, handle_signals=False, should_stop=worker_boot.should_stop)


@contextlib.contextmanager
def _spawn_without_main() -> Iterator[None]:
    """Spawned children re-run the parent's ``__main__`` unless it is a ``*.__main__`` module;
    for the ``pointgan`` console script that means importing the whole CLI and torch before the
    worker can arm its parent-death signal. Naming the main module ``pointgan_cli.__main__``
    while the pool starts makes multiprocessing skip that import (the workers need nothing
    from ``__main__``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or (spec is not None and spec.name.endswith(".__main__")):
        yield
        return
    main.__spec__ = importlib.machinery.ModuleSpec("pointgan_cli.__main__", None)
    try:
        yield
    finally:
        main.__spec__ = spec


def _fork_is_safe() -> bool:
    """Whether workers may be forked instead of spawned: a forked worker starts with torch and
    pointgan imported (a spawned one spends 1.5 s or more importing them, every sweep). Fork
    copies only the calling thread, so it is safe while this process runs no other thread (no
    lock of an OpenMP pool or a progress display can be copied held); otherwise spawn. Linux
    only; ``POINTGAN_FORK=0`` always spawns."""
    if not sys.platform.startswith("linux") or os.environ.get("POINTGAN_FORK", "1") == "0":
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def run_local(
    jobs: Sequence[Job], workers: int, on_progress: Callable[[int], None] | None = None,
    writes: BackgroundWrites | None = None,
) -> None:
    """Run jobs on ``workers`` processes; ``on_progress(run_steps)`` as work completes.

    Jobs that train in this process (one worker, or one job) write their checkpoints on
    ``writes``' thread: a finished batch's files are packed and written while the next batch
    trains. The caller's ``writes`` may still be writing the last batch's when this returns
    (the caller waits for it); without one, every write is done when this returns.
    SIGINT/SIGTERM to this process stop every worker at its next step, each writes a
    checkpoint, then ``Interrupted`` is raised; workers die with this process (kill -9)."""
    if not jobs:
        return
    if workers <= 1 or len(jobs) == 1:  # no pool: same numbers, no start-up cost
        # One flag for every job: a signal between two jobs, or after a job's last check,
        # stops the sweep instead of being lost when the next job starts.
        with SignalFlag() as flag, (BackgroundWrites() if writes is None
                                    else contextlib.nullcontext(writes)) as writes:
            for job in jobs:
                if flag.hit:
                    break
                sent = [0]

                def tell_progress(snap, job=job, sent=sent) -> None:
                    n = snap.step * len(job.members)
                    if on_progress is not None:
                        on_progress(n - sent[0])
                    sent[0] = n

                try:
                    train_job(job, tell_progress, handle_signals=False,
                              should_stop=lambda: flag.hit, writes=writes)
                except Interrupted:
                    break
        if flag.hit:
            raise Interrupted("interrupted", flag.signum)
        return
    ctx = mp.get_context("fork" if _fork_is_safe() else "spawn")
    # A plain queue handed to the workers at start-up (no Manager: a manager process would
    # outlive a killed sweep, the workers do not, see worker_boot).
    q = ctx.Queue()
    stop = ctx.RawValue("b", 0)
    with SignalFlag() as flag, _spawn_without_main(), ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(jobs))),
        mp_context=ctx,
        initializer=worker_boot.init,
        initargs=(os.getpid(), q, stop),
    ) as pool:
        pending: set[Future] = {pool.submit(_run_job, j, i) for i, j in enumerate(jobs)}
        failure: BaseException | None = None
        while pending:
            if flag.hit and not stop.value:
                stop.value = 1
                for fut in pending:
                    fut.cancel()
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, on_progress)
            for fut in done:
                exc = None if fut.cancelled() else fut.exception()
                if exc is not None and failure is None:
                    failure = exc
                    stop.value = 1  # stop the others at a checkpoint too
                    for other in pending:
                        other.cancel()
        _drain(q, on_progress)
    if flag.hit:
        raise Interrupted("interrupted", flag.signum)
    if failure is not None:
        raise failure


def _drain(q: queue.Queue | mp.queues.Queue, on_progress: Callable[[int], None] | None) -> None:
    while True:
        try:
            _, n = q.get_nowait()
        except queue.Empty:
            return
        if on_progress is not None:
            on_progress(n)


# -- Ray executor --------------------------------------------------------------------------------


#: What a cluster started with token authentication (the default of ``ray start`` from Ray
#: 2.5x) needs on the client, said where connecting fails (docs/performance.md shows it).
RAY_TOKEN_FIX = ("a cluster with token authentication needs RAY_AUTH_MODE=token in this shell "
                 "(and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN)")


def ray_start_error(exc: BaseException, address: str | None, env: Mapping[str, str]) -> str:
    """One line for a failed ``ray.init``: Ray's own first line, and the token-auth fix when
    joining a cluster without ``RAY_AUTH_MODE=token`` (the usual cause once the address has
    answered) or when Ray says authentication failed."""
    text = " ".join(str(exc).split(". ")[0].split()) or type(exc).__name__
    text = text if len(text) <= 200 else text[:199] + "…"
    said_auth = "auth" in f"{type(exc).__name__} {exc}".lower() or "token" in str(exc).lower()
    msg = f"--ray-address: cannot start or reach Ray: {text}"
    if (address or said_auth) and env.get("RAY_AUTH_MODE", "").lower() != "token":
        msg += f"; {RAY_TOKEN_FIX}"
    return msg


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
        check_reachable(address)
    started = False
    reaper = Reaper()
    if not ray.is_initialized():
        if not address:
            reaper.start()  # a local Ray is ours: nothing of it outlives the sweep, even kill -9
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any connection failure is one line
            reaper.done()
            raise RuntimeFailure(ray_start_error(exc, address, os.environ)) from None
        started = True
    try:
        # Our handlers replace the ones Ray installed (its C++ one dumps a stack on SIGTERM
        # and exits 1): a signal cancels every job, and ``ray.cancel`` interrupts a running
        # one like SIGINT, which its own SignalFlag turns into a checkpoint (``_ray_job``).
        with SignalFlag() as flag:
            _wait_ray(ray, [ray.remote(num_cpus=1)(_ray_job).remote(j) for j in jobs], jobs,
                      flag, on_progress)
        if flag.hit:
            raise Interrupted("interrupted", flag.signum)
    finally:
        if started:
            ray.shutdown()
        reaper.done()


def _wait_ray(ray, refs: list, jobs: Sequence[Job], flag: SignalFlag,
              on_progress: Callable[[int], None] | None) -> None:
    """Wait for every job; after a signal, cancel them all and wait until each has stopped
    (a running one after its checkpoint), so nothing is killed mid-write."""
    pending = dict(zip(refs, jobs))
    cancelled = False
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
        if flag.hit and not cancelled:
            for ref in pending:
                ray.cancel(ref)
            cancelled = True
        for ref in done:
            job = pending.pop(ref)
            try:
                ray.get(ref)
            except Exception:  # noqa: BLE001 - a cancelled job ends in an error by design
                if not cancelled:
                    raise
                continue
            if on_progress is not None:
                on_progress(job.run_steps)


def check_reachable(address: str) -> None:
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
    """One job in a Ray worker: ``ray.cancel`` reaches it as a simulated SIGINT, which stops it
    at a checkpoint like the local executor's stop flag."""
    os.environ["POINTGAN_FUSED_THREADS"] = "1"  # one CPU per Ray task
    train_job(job, None, handle_signals=True)
