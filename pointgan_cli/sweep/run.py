"""Running a whole sweep: write ``sweep.json``, train what is unfinished, write the report.

The sweep directory itself is owned by ``sweepdir``; planning lives in ``plan``, the worker
processes in ``executors`` and the statistics and charts in ``report``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import sweepdir
from ..errors import UsageError
from ..spec import rerun_command
from ..training import Member
from . import report
from .executors import run_local, run_ray
from .plan import member_state, plan_jobs
from .spec import SweepSpec, expand


def load_sweep_spec(out: Path) -> SweepSpec:
    """The SweepSpec stored in ``out/sweep.json`` (for --resume)."""
    from pydantic import ValidationError

    index = sweepdir.read_index(out)
    try:
        return SweepSpec.model_validate(index.sweep)
    except ValidationError:
        raise UsageError(f"--resume: {out / sweepdir.SWEEP_JSON} is corrupt") from None


def run_sweep(
    out: Path,
    sweep: SweepSpec,
    command: str,
    *,
    resume: bool,
    max_batch: int | None,
    workers: int,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Train every member not yet finished, then write ``summary.json`` and the charts.

    ``progress(total_run_steps, increment)`` is called as work completes (first with 0)."""
    import shutil

    members = expand(sweep)
    if not resume:  # sweep.json first: it is what --resume re-expands
        if out.exists():
            shutil.rmtree(out)
        entries = [sweepdir.Entry(i, g, s.model_dump(mode="json")) for i, g, s in members]
        sweepdir.write_index(out, command, sweep.model_dump(mode="json"), entries)
    todo: list[Member] = []
    for mid, _group, spec in members:
        mdir = sweepdir.member_dir(out, mid)
        state, step = member_state(mdir)
        if state == "done":
            continue
        todo.append(Member(spec=spec, out=mdir, command=rerun_command(spec, str(mdir)),
                           resume=state == "resume", resume_step=step))
    if any(m.spec.device != "cpu" for m in todo):
        workers = 1  # one process drives the GPU; more would each hold a CUDA context
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
    return report.write_report(out, [(i, g) for i, g, _ in members], members[0][2].real_value)
