"""Planning a sweep: which members still need work, and how they are cut into jobs.

Three things are called a batch: the engine's tensor batch (runs trained as one program), the
store's batch (``batches/NNNN.*.npz``) and, here, the planned unit of work, which is a *job*:
members trained as one tensor batch into one batch of the store. Fresh members whose specs
share a ``batch_key`` may share a job (a stored batch that has not finished resumes whole, as
one job, with the members it holds); they are cut to at most ``max_batch`` runs per job and
into at least ``workers`` jobs, so every core is busy. Because the engine is
batch-invariant, how members are grouped never changes a number: a member equals the same spec
trained alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engine.batching import auto_max_batch, batch_key
from ..errors import UsageError
from ..store.sweepdir import SweepDir
from .spec import SweepMember


@dataclass
class Job:
    """A planned job: ``members`` trained together as one tensor batch into the store batch
    ``batch_id`` of the sweep at ``sweep`` (a path: a job crosses into worker processes)."""

    members: list[SweepMember]
    sweep: Path | None = None
    batch_id: str | None = None
    resume: bool = False  # a stored batch continuing from its state file

    @property
    def run_steps(self) -> int:
        return sum(m.spec.steps for m in self.members)


def plan_jobs(members: Sequence[SweepMember], max_batch: int | None,
              workers: int) -> list[Job]:
    """Collect fresh members that can share a batch (same batch_key) and cut each
    such batch into balanced jobs (``max_batch`` None: ``--max-batch auto``, the engine's
    choice for the batch's device). ("Batch" here is about tensors; a sweep's statistics
    "groups" are a different thing, see ``summaries``.)"""
    same_key: dict[tuple, list[SweepMember]] = {}
    for m in members:
        same_key.setdefault(batch_key(m.spec), []).append(m)
    total = sum(len(b) for b in same_key.values())
    jobs: list[Job] = []
    for alike in same_key.values():
        # At least `workers` pieces overall (when there are enough members), each <= max_batch.
        share = max(1, round(workers * len(alike) / max(total, 1)))
        cap = max_batch if max_batch is not None else auto_max_batch(alike[0].spec)
        pieces = max(share, -(-len(alike) // cap))
        size = -(-len(alike) // pieces)
        jobs.extend(Job(alike[i : i + size]) for i in range(0, len(alike), size))
    jobs.sort(key=lambda j: -j.run_steps)  # longest first: better packing on the workers
    return jobs


def store_jobs(out: SweepDir, members: Sequence[SweepMember], max_batch: int | None,
               workers: int) -> list[Job]:
    """The work left in the sweep ``out``: each stored batch that has not finished resumes
    whole (same members, from its state's step); members no batch holds are planned into new
    batches, numbered after the existing ones."""
    by_id = {m.id: m for m in members}
    jobs: list[Job] = []
    held: set[str] = set()
    last = -1
    for bid in out.batch_ids():
        ids, _step, finished = out.members.progress(bid)
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise UsageError(f"--resume: batch {bid} of {out.path} holds {unknown[0]!r}, "
                             "which sweep.json does not list")
        held.update(ids)
        last = max(last, int(bid))
        if not finished:
            jobs.append(Job([by_id[i] for i in ids], out.path, bid, resume=True))
    fresh = [m for m in members if m.id not in held]
    for k, job in enumerate(plan_jobs(fresh, max_batch, workers)):
        job.sweep, job.batch_id = out.path, out.batch_name(last + 1 + k)
        jobs.append(job)
    jobs.sort(key=lambda j: -j.run_steps)  # longest first: better packing on the workers
    return jobs
