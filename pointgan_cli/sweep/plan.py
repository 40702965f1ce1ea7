"""Planning a sweep: which members still need work, and how they are cut into batched jobs.

Members whose specs share a ``batch_key`` (and, on resume, a checkpoint step) form one batch;
batches are cut to at most ``max_batch`` runs and into at least ``workers`` pieces, so every
core is busy. Because the engine is batch-invariant, how members are grouped never changes a
number: a member equals the same spec trained alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import rundir
from ..engine import auto_max_batch, batch_key
from ..training import Member


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


def plan_jobs(members: Sequence[Member], max_batch: int | None, workers: int) -> list[Job]:
    """Collect members that can share a batch (same batch_key and resume step) and cut each
    such batch into balanced jobs (``max_batch`` None: ``--max-batch auto``, the engine's
    choice for the batch's device). ("Batch" here is about tensors; a sweep's statistics
    "groups" are a different thing, see ``report``.)"""
    batches: dict[tuple, list[Member]] = {}
    for m in members:
        step = m.resume_step if m.resume else 0
        batches.setdefault((batch_key(m.spec), step), []).append(m)
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
