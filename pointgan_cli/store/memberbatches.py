"""Every member of a sweep, batch by batch (``SweepDir.iter_members``): what ``diagnose run
SWEEP`` and ``report SWEEP`` read. Why apart from ``sweepmembers``: those keep what they read
for one member at a time (a member path, an export); a whole-sweep pass instead reads each
batch's files once, takes all its members from them and lets the batch go after its last
member, which is what makes a report of thousands of members take seconds in little memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError
from ..naming import rerun_command
from . import checks, rundir, sweepstore

if TYPE_CHECKING:
    from .sweepdir import SweepDir


class _BatchFiles:
    """One batch's files, each read once (a read that fails fails the same way for every
    member asking): the state's step, the metrics stacked as (S, M, P), the summaries."""

    def __init__(self, path: Path, bid: str):
        self.path, self.bid = path, bid
        self._got: dict[str, tuple[Any, str | None]] = {}

    def _once(self, what: str, read: Any) -> Any:
        if what not in self._got:
            try:
                self._got[what] = (read(), None)
            except UsageError as exc:
                self._got[what] = (None, str(exc))
        value, error = self._got[what]
        if error is not None:
            raise UsageError(error)
        return value

    def upto(self) -> int:
        return self._once("progress", lambda: sweepstore.read_progress(
            sweepstore.state_path(self.path, self.bid)))[1]

    def metrics(self) -> tuple[sweepstore.BatchMetrics, np.ndarray]:
        def read() -> tuple[sweepstore.BatchMetrics, np.ndarray]:
            metrics = sweepstore.read_metrics(sweepstore.metrics_path(self.path, self.bid))
            return metrics, metrics.array()
        return self._once("metrics", read)

    def summaries(self) -> list[dict[str, Any]] | None:
        def read() -> list[dict[str, Any]] | None:
            found = sweepstore.read_summaries(sweepstore.state_path(self.path, self.bid))
            return None if found is None else found.all()
        return self._once("summaries", read)


def iter_members(sweep: SweepDir, losses: bool = True) -> Iterator[tuple[str, str, Any]]:
    """(id, group, load) of every member, in ``sweep.json``'s order: ``load`` is None for a
    member that has not started (``started`` False), else a function that returns the member
    as ``sweep.load_member(id, losses=losses)`` does, raising the same UsageError.

    Batch by batch: a batch's files are read and decoded once, when its first member is
    loaded, and every member of it is taken from them; a batch is let go after its last
    member."""
    where = sweep.members.where()
    left: dict[str, int] = {}
    for e in sweep.entries:
        if e.id in where:
            left[where[e.id][0]] = left.get(where[e.id][0], 0) + 1
    open_batches: dict[str, _BatchFiles] = {}
    for e in sweep.entries:
        at = where.get(e.id)
        if at is None:
            yield e.id, e.group, None
            continue
        bid, i = at
        files = open_batches.get(bid) or open_batches.setdefault(bid, _BatchFiles(sweep.path,
                                                                                  bid))
        yield e.id, e.group, lambda mid=e.id, files=files, i=i: _batch_member(sweep, mid, files,
                                                                              i, losses)
        left[bid] -= 1
        if not left[bid]:
            del open_batches[bid]


def _batch_member(sweep: SweepDir, member_id: str, files: _BatchFiles, i: int,
                  losses: bool) -> rundir.Run:
    """``load_member`` of a stored member, from its batch's files read once."""
    spec = sweep.spec_of(member_id)
    mdir = sweep.member_dir(member_id)
    upto = files.upto()
    metrics, params = files.metrics()
    rows = [r for r in metrics.rows_of(params[:, i], spec, losses) if r["step"] <= upto]
    if not rows:
        raise UsageError(f"{mdir} has no metrics yet (its batch has not checkpointed)")
    found = files.summaries()
    summary = None if found is None else checks.summary(
        found[i], sweepstore.state_path(sweep.path, files.bid))
    return rundir.Run(path=mdir, spec=spec, command=rerun_command(spec, str(mdir)),
                      metrics=rows, summary=summary)
