"""Running a whole sweep: write ``sweep.json``, train what is unfinished, write its summaries.

The sweep directory itself is a ``store.sweepdir.SweepDir``, opened once here (and once more
for the summaries, to read what the workers wrote); planning lives in ``plan``, the worker
processes in ``executors``, the statistics in ``summaries`` and the charts in ``charts``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..engine.batching import auto_max_batch, bytes_per_run
from ..errors import RuntimeFailure, UsageError, short
from ..games import DIRAC, game_of
from ..naming import resume_command
from ..spec import RunSpec
from ..store import outputs
from ..store.background import BackgroundWrites
from ..store.sweepdir import Entry, SweepDir
from ..training.runtime import (
    Interrupted,
    disk_failure,
    gc_paused,
    keep_loaded,
    runs_that_fit,
    signals_raise,
)
from . import charts, dirac_summaries, summaries
from .drawer import Drawer
from .drawer import take as take_drawer
from .executors import check_reachable, run_local, run_ray
from .plan import store_jobs
from .spec import SweepSpec, expand
from .start import MemberList, load_sweep


def check_runnable(members: MemberList, executor: str, ray_address: str | None = None) -> None:
    """What can be checked before any file is written: the device, the executor and (Ray)
    that something listens at ``ray_address``."""
    import importlib.util

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor: unknown executor {short(executor)} "
                         "(local or ray)")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise RuntimeFailure("--executor ray needs Ray: install it with "
                             "pip install 'pointgan[ray]'")
    if executor == "ray" and ray_address:
        check_reachable(ray_address)
    devices = {spec.device for _, _, spec in members}
    if devices != {"cpu"}:
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device: {sorted(devices - {'cpu'})[0]} requested but CUDA is "
                             "not available")


def run_sweep(
    out: Path,
    sweep: SweepSpec,
    command: str,
    *,
    resume: bool,
    max_batch: int | None,
    workers: int | None,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    members: MemberList | None = None,
    owner: Path | None = None,
) -> dict:
    """Train every member not yet finished, then write ``summary.json`` and the charts.

    Fresh: a non-empty ``out`` is refused unless ``force``, and then only a sweep directory
    pointgan wrote is emptied. Resume: the members recorded in ``sweep.json`` (``sweep`` and
    ``command`` are ignored). The directory is locked for the whole sweep; a signal stops every
    worker at a checkpoint (``Interrupted``), a full disk is one ``RuntimeFailure`` line.
    ``progress(total_run_steps, increment)`` is called as work completes (first with 0).
    ``owner``: the sweep whose folder holds this one (``--check-classes``), else none may.
    ``workers`` None: ``default_workers``."""
    out = Path(out)
    target = SweepDir(out)
    target.check_target(force, resume)
    outputs.refuse_inside_sweep(out, owner=owner)
    if resume:
        sweep, members, command = load_sweep(target)
    elif members is None:
        members = expand(sweep)
    check_runnable(members, executor, ray_address)
    if workers is None:
        workers = default_workers([spec for _, _, spec in members])
    if executor == "local":
        max_batch = _fit_memory(members, max_batch, workers)
    drawer = take_drawer()  # started with the command (``drawer.prestart``), or not
    # the jobs are planned later; there are at most as many as members (one job, many
    # workers: ``_train_and_summarise`` starts it then)
    if (wants_drawer_at_start(executor, workers, len(members), os.cpu_count() or 1)
            and not _dirac(members)):
        drawer.start()  # its imports overlap this process's start-up
    else:
        drawer.close()  # forked workers would keep its pipe open; started later if useful
    try:
        if not resume:
            out.mkdir(parents=True, exist_ok=True)
        with drawer, target.lock():
            return _run_locked(target, sweep, command, members, resume, force, max_batch, workers,
                               executor, ray_address, progress, drawer)
    except OSError as exc:
        # sweep.json is written whole or not at all: with it --resume continues; without it
        # the sweep's own command (with --resume: nothing to continue, so it starts)
        again = resume_command(out) if target.exists else f"{command} --resume"
        raise disk_failure(exc, out, again) from None
    except Interrupted as exc:
        raise Interrupted("interrupted; every member saved a checkpoint, continue with "
                          + resume_command(out), exc.signum) from None


def default_workers(specs: list[RunSpec]) -> int:
    """Worker processes when ``--workers`` is not given: one for a sweep the fused engine
    trains alone (its kernel's threads use every core, and one process holds one copy of
    numba and the libraries instead of one per worker), else one per CPU."""
    from ..engine.fused.support import uses_fused

    if all(uses_fused(s) for s in specs):
        return 1
    return os.cpu_count() or 1


def _prepare_engines(specs: list[RunSpec], pool: bool) -> None:
    """Say (one line) which members fall back to the torch engine, and load or compile the
    fused kernel here, before any worker starts (``pool``: the serial kernel the workers
    use): workers then read the cache silently."""
    from ..engine.fused.support import announce, uses_fused

    announce(specs)
    fused = [s for s in specs if uses_fused(s)]
    if fused:
        from ..engine.fused.compiled import warm

        warm(fused, serial=pool)


def _fit_memory(members: MemberList, max_batch: int | None, workers: int) -> int | None:
    """A ``max_batch`` whose jobs (each one tensor batch) fit in memory on every worker at
    once: huge sweeps are cut into more jobs instead of allocating until killed (UsageError if
    one run is too big)."""
    specs = [s for _, _, s in members]
    fit = runs_that_fit(specs, processes=max(1, min(workers, len(specs))))
    if fit is None:
        return max_batch
    want = max_batch if max_batch is not None else auto_max_batch(max(specs, key=bytes_per_run))
    return max_batch if want <= fit else fit


def wants_preload(executor: str, workers: int, jobs: int, cpus: int,
                  ray_address: str | None) -> bool:
    """Whether to start the chart process (``drawer``) while the workers train: only where a
    core would otherwise idle. With every core training, its imports compete with the workers
    and the sweep ends later (1,024 x 1,500 steps on 2 cores with 2 workers: 5.85-5.89 s
    without an import during training, 6.0-7.0 s with it). A local Ray uses every core; a Ray
    cluster elsewhere leaves this machine idle."""
    if executor == "ray":
        return bool(ray_address)
    return workers > 1 and jobs > 1 and cpus > min(workers, jobs)


def wants_drawer_at_start(executor: str, workers: int, jobs: int, cpus: int) -> bool:
    """Whether to start the chart process with the sweep: where this process trains alone
    (one worker or one job, as the fused engine does by default) and another core is idle
    while it starts (imports, ``sweep.json``, the kernel). The drawer's imports run there and
    it sleeps while the kernel uses every core."""
    return executor == "local" and cpus > 1 and (workers <= 1 or jobs <= 1)


def _dirac(members: MemberList) -> bool:
    """Whether the members play the Dirac game (its summaries draw in this process)."""
    return game_of(members[0][2]) is DIRAC


def _run_locked(target: SweepDir, sweep, command, members, resume, force, max_batch, workers,
                executor, ray_address, progress, drawer: Drawer) -> dict:
    with gc_paused():  # sweep.json, the plan and the engines' libraries: nothing to collect
        if resume:
            target.prepare_resume()
        else:  # sweep.json first: it is what --resume continues
            target.prepare_fresh(force)
            target.create(command, sweep.model_dump(mode="json"),
                          [Entry(i, g, s.model_dump(mode="json")) for i, g, s in members])
        if any(spec.device != "cpu" for _, _, spec in members):
            workers = 1  # one process drives the GPU; more would each hold a CUDA context
        jobs = store_jobs(target, members, max_batch, workers)
        _prepare_engines([spec for _, _, spec in members],
                         pool=executor == "local" and workers > 1 and len(jobs) > 1)
        # the libraries, the kernel and the specs, kept out of later collections before the
        # collector is on again (turned on first, it would walk them all at once)
        keep_loaded()
    total = sum(j.run_steps for j in jobs)
    if progress is not None:
        progress(total, 0)
    return _train_and_summarise(target, sweep, members, jobs, workers, executor, ray_address,
                                progress, total, drawer)


def _train_and_summarise(target: SweepDir, sweep, members, jobs, workers, executor,
                         ray_address, progress, total: int, drawer: Drawer) -> dict:
    # The charts are drawn by a process of their own (``drawer``) where a core would idle:
    # from the start when this process trains alone, else once the workers exist (a process
    # started before the fork would leave its pipe open in every worker).
    cpus = os.cpu_count() or 1
    dirac = _dirac(members)
    if not dirac and wants_drawer_at_start(executor, workers, len(jobs), cpus):
        drawer.start()
    later = not dirac and wants_preload(executor, workers, len(jobs), cpus, ray_address)

    def on_progress(n: int) -> None:
        if later:
            drawer.start()
        if progress is not None:
            progress(total, n)
    if executor == "ray":
        run_ray(jobs, ray_address, on_progress)
    else:
        with BackgroundWrites() as writes:  # leaving it waits for every checkpoint
            run_local(jobs, workers, on_progress, writes)
            # A batch that trained in this process may still be packing and writing its
            # last files on the writes' thread (bz2 and the disk, without the GIL): without
            # a drawer, the charts' libraries load meanwhile instead of after.
            if not drawer.started:
                with gc_paused():
                    charts.import_libraries()
                    keep_loaded()
    done = SweepDir(target.path)  # opened again: it reads what the workers wrote
    with signals_raise():  # no step to stop at: a signal stops the (atomic) summary writes
        if dirac:
            return dirac_summaries.write_summaries(done, members)
        return summaries.write_summaries(done, [(i, g) for i, g, _ in members],
                                         members[0][2].real_value, sweep, drawer)
