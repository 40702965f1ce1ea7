"""A sweep's members as the batch store (``sweepstore``) holds them, read for one
``SweepDir``: one member as a run (``load``), many at once for reports (``summaries``,
``curves``), a member's run directory written out (``export``).

Why an object: a report reads every member, and each read needs the same batch files (which
batch holds a member, its state, its metrics). ``StoredMembers`` keeps what it has read for
the lifetime of its ``SweepDir`` instead of a module-wide cache keyed by file times: a
command opens a sweep, reads it, and is done; code that reads again after training (the
sweep's report) opens the sweep again. The sweep directory's own files and names are
``sweepdir``'s.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import RuntimeFailure, UsageError, short
from ..naming import rerun_command
from . import atomic, checkpoints, checks, fsguard, memberbatches, rundir, sweepstore
from .ckptfile import unstack_state

if TYPE_CHECKING:
    from .sweepdir import SweepDir


#: A batch's decoded states and metrics are the large reads (about 5 KB per member each): only
#: the last few batches' are kept, so reading every member of a sweep of thousands (``log``,
#: a grid) holds a few batches at a time; ids, progress, summaries and curves are kept whole.
HEAVY, KEEP_HEAVY = ("state", "metrics"), 4


class StoredMembers:
    """The members of the sweep ``sweep`` in its batch store, each batch file read once."""

    def __init__(self, sweep: SweepDir):
        self.sweep = sweep
        self._read: dict[tuple[str, str], Any] = {}  # (batch, what) -> what was read
        self._heavy: OrderedDict[tuple[str, str], Any] = OrderedDict()  # the last few
        self._where: dict[str, tuple[str, int]] | None = None
        self._known: set[str] | None = None  # sweep.json's member ids

    def _once(self, bid: str, what: str, load: Any) -> Any:
        key = (bid, what)
        if what in HEAVY:
            if key in self._heavy:
                self._heavy.move_to_end(key)
            else:
                self._heavy[key] = load()
                while len(self._heavy) > KEEP_HEAVY * len(HEAVY):
                    self._heavy.popitem(last=False)
            return self._heavy[key]
        if key not in self._read:
            self._read[key] = load()
        return self._read[key]

    def state_file(self, bid: str) -> Path:
        return sweepstore.state_path(self.sweep.path, bid)

    def _metrics(self, bid: str) -> sweepstore.BatchMetrics:
        metrics = self._once(bid, "metrics", lambda: sweepstore.read_metrics(
            sweepstore.metrics_path(self.sweep.path, bid)))
        if metrics.ids != self._ids(bid):  # rows are found by position: the same members
            raise checks.bad(sweepstore.metrics_path(self.sweep.path, bid),
                             "its member ids differ from its state file's")
        return metrics

    def _ids(self, bid: str) -> list[str]:
        """A batch's member ids (its state file's): distinct, each a member of sweep.json."""
        def read() -> list[str]:
            ids = sweepstore.read_ids(self.state_file(bid))
            if self._known is None:
                self._known = set(self.sweep.ids)
            if len(set(ids)) != len(ids) or not self._known.issuperset(ids):
                raise checks.bad(self.state_file(bid), "its member ids repeat or are not "
                                 "members of sweep.json")
            return ids
        return self._once(bid, "ids", read)

    def progress(self, bid: str) -> tuple[list[str], int, bool]:
        """(ids, step, finished) of a batch, from its state file."""
        return self._once(bid, "progress", lambda: sweepstore.read_progress(self.state_file(bid)))

    def where(self) -> dict[str, tuple[str, int]]:
        """member id -> (batch, position) for every member the batch store holds (the first
        batch that lists a member wins); one pass over the batches."""
        if self._where is None:
            where: dict[str, tuple[str, int]] = {}
            for bid in sweepstore.batch_ids(self.sweep.path):
                for i, mid in enumerate(self._ids(bid)):
                    where.setdefault(mid, (bid, i))
            self._where = where
        return self._where

    def _stored(self, member_id: str):
        """(position, stacked state) of a stored member, or None."""
        at = self.where().get(member_id)
        if at is None:
            return None
        bid, i = at
        _ids, state = self._once(bid, "state", lambda: sweepstore.read_state(self.state_file(bid)))
        return i, state

    def _batch_summaries(self, bid: str) -> sweepstore.Summaries | None:
        """A finished batch's summaries (each member's a new dict every time it is asked for)."""
        return self._once(bid, "summaries",
                          lambda: sweepstore.read_summaries(self.state_file(bid)))

    def checkpoint(self, member_id: str) -> dict[str, Any] | None:
        """The latest checkpoint dict of a member (as ``train`` would write it), or None when
        the store holds none for it (not started)."""
        found = self._stored(member_id)
        if found is None:
            return None
        i, state = found
        member = unstack_state(state, i)
        member.pop("summaries", None)
        return member

    def summary(self, member_id: str) -> dict[str, Any] | None:
        """The member's summary (as a run's ``summary.json``), or None while it has not
        finished."""
        return self.summaries([member_id])[0]

    def summaries(self, ids: list[str]) -> list[dict[str, Any] | None]:
        """``summary`` of each of ``ids`` (a report asks for every member)."""
        where = self.where()
        batches: dict[str, list[dict[str, Any]] | None] = {}
        out: list[dict[str, Any] | None] = []
        for mid in ids:
            at = where.get(mid)
            if at is not None and at[0] not in batches:
                found = self._batch_summaries(at[0])
                batches[at[0]] = None if found is None else found.all()
            got = None if at is None else batches[at[0]]
            out.append(None if got is None or at is None else
                       checks.summary(got[at[1]], self.state_file(at[0])))
        return out

    def metrics(self, member_id: str, losses: bool = True) -> list[dict[str, Any]]:
        """A member's metrics rows up to its batch's checkpoint (``losses`` False: without the
        recomputed losses, see ``BatchMetrics.rows``)."""
        at = self.where().get(member_id)
        if at is None:
            raise UsageError(f"{self.sweep.member_dir(member_id)}: no metrics yet")
        bid, i = at
        step = self.progress(bid)[1]
        kept = self._metrics(bid).rows(i, self.sweep.spec_of(member_id), losses)
        return [r for r in kept if r["step"] <= step]

    def curve(self, member_id: str) -> tuple[list[int], list[float], list[float]]:
        """(steps, w, b) of every snapshot of a member: what the sweep's charts draw, read from
        the stored parameters without recomputing the rest of the metrics rows."""
        steps, wb = self.curves([member_id])[0]
        return steps.tolist(), wb[:, 0].tolist(), wb[:, 1].tolist()

    def curves(self, ids: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(steps (S,) int64, w and b (S, 2) float64) of each of ``ids``: ``curve`` for many
        members, each batch's parameters sliced as one array (the weights chart draws every
        member)."""
        where = self.where()
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for mid in ids:
            at = where.get(mid)
            if at is None:
                raise UsageError(f"{self.sweep.member_dir(mid)}: no metrics yet")
            bid, i = at
            steps, params = self._batch_curves(bid)
            out.append((steps, params[:, i]))
        return out

    def _batch_curves(self, bid: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (S,), w and b of every member (S, M, 2) float64) of a batch, its snapshots past
        the state's step dropped (as ``metrics`` does)."""
        upto = self.progress(bid)[1]

        def load() -> tuple[np.ndarray, np.ndarray]:
            steps, wb = sweepstore.read_curves(sweepstore.metrics_path(self.sweep.path, bid))
            keep = np.array(steps, dtype=np.int64) <= upto
            return np.array(steps, dtype=np.int64)[keep], wb[keep].astype(np.float64)

        return self._once(bid, "curves", load)

    def started(self, member_id: str) -> bool:
        """Whether the member has metrics (a member never started cannot be read)."""
        return member_id in self.where()

    def load(self, member_id: str, need_metrics: bool = True,
             losses: bool = True) -> rundir.Run:
        """Member ``member_id`` as a run (``losses``: see ``metrics``)."""
        spec = self.sweep.spec_of(member_id)
        mdir = self.sweep.member_dir(member_id)
        metrics = self.metrics(member_id, losses) if self.started(member_id) else []
        if need_metrics and not metrics:
            raise UsageError(f"{mdir} has no metrics yet (its batch has not checkpointed)")
        return rundir.Run(path=mdir, spec=spec, command=rerun_command(spec, str(mdir)),
                          metrics=metrics, summary=self.summary(member_id))

    def each(self, losses: bool = True) -> Iterator[tuple[str, str, Any]]:
        """(id, group, load) of every member, batch by batch (``memberbatches.iter_members``:
        each batch read once and let go after its last member)."""
        return memberbatches.iter_members(self.sweep, losses)

    def export(self, member_id: str, out: Path) -> dict[str, Any]:
        """Write member ``member_id`` as a normal run directory at ``out`` (spec.json,
        metrics.jsonl, its latest checkpoint as last.npz and step-NNNNNN.npz, summary.json once
        finished): the files ``pointgan train`` of its spec writes, same numbers. ``out`` must
        be new or empty. Returns {"run_dir", "step", "finished"}."""
        found = self._stored(member_id)
        if found is None:
            raise UsageError(f"member {member_id!r} of {self.sweep.path} has no stored state yet")
        i, state = found
        spec = self.sweep.spec_of(member_id)
        member = unstack_state(state, i)
        summaries = member.pop("summaries", None)
        rows = self.metrics(member_id)
        out = Path(out)
        made = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / rundir.CHECKPOINTS).mkdir(exist_ok=True)
            rundir.write_spec(out, spec, rerun_command(spec, str(out)))
            rundir.write_metrics(out, rows)
            checkpoints.write_checkpoint(out, member, spec)
            if summaries is not None:
                atomic.atomic_write_json(out / rundir.SUMMARY, summaries.get(i))
        except OSError as exc:  # a full disk: no half-made run directory stays behind
            with contextlib.suppress(OSError):
                fsguard.clear_owned(out, rundir.RUN_LAYOUT)
                if made:
                    out.rmdir()
            raise RuntimeFailure(f"cannot write {short(str(out))}: "
                                 f"{exc.strerror or exc}; nothing was kept (free some space "
                                 "and export again)") from None
        return {"run_dir": str(out), "step": int(member["step"]),
                "finished": summaries is not None}
