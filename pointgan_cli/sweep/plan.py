"""Planning a sweep: which members still need work, and how they are cut into batched jobs.

Fresh members whose specs share a ``batch_key`` form one batch (a stored batch that has not
finished resumes whole, with the members it holds); batches are cut to at most ``max_batch``
runs and into at least ``workers`` pieces, so every core is busy. Because the engine is
batch-invariant, how members are grouped never changes a number: a member equals the same spec
trained alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engine.batching import auto_max_batch, batch_key
from ..errors import UsageError
from ..spec import RunSpec
from ..store import sweepdir, sweepstore
from ..training.train import Member


@dataclass
class Job:
    """One batch of members trained together: batch ``batch`` of the store of ``sweep``."""

    members: list[Member]
    sweep: Path | None = None
    batch: str | None = None

    @property
    def run_steps(self) -> int:
        return sum(m.spec.steps for m in self.members)


def plan_jobs(members: Sequence[Member], max_batch: int | None, workers: int) -> list[Job]:
    """Collect fresh members that can share a batch (same batch_key) and cut each
    such batch into balanced jobs (``max_batch`` None: ``--max-batch auto``, the engine's
    choice for the batch's device). ("Batch" here is about tensors; a sweep's statistics
    "groups" are a different thing, see ``report``.)"""
    batches: dict[tuple, list[Member]] = {}
    for m in members:
        batches.setdefault(batch_key(m.spec), []).append(m)
    total = sum(len(b) for b in batches.values())
    jobs: list[Job] = []
    for batch in batches.values():
        # At least `workers` pieces overall (when there are enough members), each <= max_batch.
        share = max(1, round(workers * len(batch) / max(total, 1)))
        cap = max_batch if max_batch is not None else auto_max_batch(batch[0].spec)
        pieces = max(share, -(-len(batch) // cap))
        size = -(-len(batch) // pieces)
        jobs.extend(Job(batch[i : i + size]) for i in range(0, len(batch), size))
    jobs.sort(key=lambda j: -j.run_steps)  # longest first: better packing on the workers
    return jobs


def store_jobs(out: Path, members: Sequence[tuple[str, str, RunSpec]], max_batch: int | None,
               workers: int) -> list[Job]:
    """The work left in the sweep at ``out``: each stored batch that has not finished resumes
    whole (same members, from its state's step); members no batch holds (and without a
    finished run directory of their own) are planned into new batches, numbered after the
    existing ones."""
    specs = {mid: spec for mid, _, spec in members}
    jobs: list[Job] = []
    held: set[str] = set()
    last = -1
    for bid in sweepstore.batch_ids(out):
        ids, _step, finished = sweepstore.read_progress(sweepstore.state_path(out, bid))
        unknown = [i for i in ids if i not in specs]
        if unknown:
            raise UsageError(f"--resume: batch {bid} of {out} holds {unknown[0]!r}, "
                             "which sweep.json does not list")
        held.update(ids)
        last = max(last, int(bid))
        if not finished:
            jobs.append(Job([_member(out, i, specs[i], True) for i in ids], out, bid))
    rest = [(mid, spec) for mid, _, spec in members if mid not in held]
    done = sweepdir.member_summaries(out, [mid for mid, _ in rest])  # one pass over the store
    fresh = [_member(out, mid, spec, False) for (mid, spec), s in zip(rest, done) if s is None]
    for k, job in enumerate(plan_jobs(fresh, max_batch, workers)):
        job.sweep, job.batch = out, sweepstore.batch_name(last + 1 + k)
        jobs.append(job)
    jobs.sort(key=lambda j: -j.run_steps)  # longest first: better packing on the workers
    return jobs


def _member(out: Path, mid: str, spec: RunSpec, resume: bool) -> Member:
    return Member(spec=spec, out=sweepdir.member_dir(out, mid), resume=resume)
