"""A sweep's members, read wherever they are: in the batch store (``sweepstore``), or, for a
member the store does not hold, a run directory at ``SWEEP/members/ID``; one member as a run
(``load_member``, ``load_any_run`` for ``SWEEP/members/ID``), many at once for reports
(``member_summaries``, ``member_curves``), a member's run directory written out
(``export_member``). The sweep directory's own files and names are ``sweepdir``'s.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import RuntimeFailure, UsageError, short
from ..naming import rerun_command
from ..spec import RunSpec
from . import atomic, checkpoints, checks, fsguard, rundir, sweepstore
from .ckptfile import unstack_state
from .sweepdir import (
    _SAFE_ID,
    MEMBERS,
    SWEEP_JSON,
    Index,
    is_sweep,
    member_dir,
    read_index,
)

# -- members: in the batch store, or (older sweeps, exported members) a run directory --------


def _own_dir(path: Path | str, member_id: str) -> Path | None:
    """The member's run directory, only for a member the batch store does not hold (a sweep
    that kept its members as run directories): the store is the sweep's record, and a folder
    put at ``members/<id>/`` never replaces it. Never read through a symbolic link."""
    d = member_dir(path, member_id)
    if d.parent.is_symlink() or d.is_symlink() or not (d / rundir.SPEC).is_file():
        return None
    return None if _locate(path, member_id) is not None else d


def _own_ids(path: Path | str) -> set[str]:
    """Ids of the members with a run directory of their own: one listing of ``members/``
    instead of a lookup per member (a sweep's members are normally all in the store; callers
    ask the store first)."""
    folder = Path(path) / MEMBERS
    if folder.is_symlink():
        return set()
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {n for n in names if not os.path.islink(os.path.join(folder, n))
            and os.path.isfile(os.path.join(folder, n, rundir.SPEC))}


_CACHE: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}


def _cached(path: Path, what: str, load):
    """``load(path)``, remembered until the file changes (a report reads every member)."""
    st = path.stat()
    key, stamp = (str(path), what), (st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    if len(_CACHE) > 256:
        _CACHE.clear()
    value = load(path)
    _CACHE[key] = (stamp, value)
    return value


def _store_index(path: Path | str) -> dict[str, tuple[str, int]]:
    """member id -> (batch, position) for every member the batch store holds (the first batch
    that lists a member wins); one pass over the batches, their id lists cached."""
    where: dict[str, tuple[str, int]] = {}
    for bid in sweepstore.batch_ids(Path(path)):
        ids = _cached(sweepstore.state_path(Path(path), bid), "ids", sweepstore.read_ids)
        for i, mid in enumerate(ids):
            where.setdefault(mid, (bid, i))
    return where


def _locate(path: Path | str, member_id: str) -> tuple[str, int] | None:
    """(batch, position) of a member in the batch store, or None if no batch holds it."""
    for bid in sweepstore.batch_ids(Path(path)):
        ids = _cached(sweepstore.state_path(Path(path), bid), "ids", sweepstore.read_ids)
        if member_id in ids:
            return bid, ids.index(member_id)
    return None


def _stored(path: Path | str, member_id: str):
    """(position, stacked state, batch metrics) of a stored member, or None."""
    where = _locate(path, member_id)
    if where is None:
        return None
    bid, i = where
    _ids, state = _cached(sweepstore.state_path(Path(path), bid), "state", sweepstore.read_state)
    metrics = _cached(sweepstore.metrics_path(Path(path), bid), "metrics", sweepstore.read_metrics)
    return i, state, metrics


def _batch_summaries(path: Path | str, bid: str) -> sweepstore.Summaries | None:
    """A finished batch's summaries, read once per file version (each member's a new dict
    every time it is asked for)."""
    return _cached(sweepstore.state_path(Path(path), bid), "summaries", sweepstore.read_summaries)


def member_checkpoint(path: Path | str, member_id: str) -> dict[str, Any] | None:
    """The latest checkpoint dict of a member stored in the batch store (as ``train`` would
    write it), or None when it has none there (not started, or a run directory of its own)."""
    found = _stored(path, member_id)
    if found is None:
        return None
    i, state, _ = found
    member = unstack_state(state, i)
    member.pop("summaries", None)
    return member


def member_summary(path: Path | str, member_id: str) -> dict[str, Any] | None:
    """The member's summary (as a run's ``summary.json``), or None while it has not
    finished (or is unreadable)."""
    own = _own_dir(path, member_id)
    if own is not None:
        return rundir.read_summary(own)
    where = _locate(path, member_id)
    if where is None:
        return None
    found = _batch_summaries(path, where[0])
    if found is None:
        return None
    return checks.summary(found.get(where[1]), sweepstore.state_path(Path(path), where[0]))


def member_summaries(path: Path | str, ids: list[str]) -> list[dict[str, Any] | None]:
    """``member_summary`` of each of ``ids``, the store's index read once (a report asks for
    every member)."""
    where, own = _store_index(path), _own_ids(path)
    batches: dict[str, list[dict[str, Any]] | None] = {}
    out: list[dict[str, Any] | None] = []
    for mid in ids:
        at = where.get(mid)
        if at is None and mid in own:
            out.append(rundir.read_summary(member_dir(path, mid)))
            continue
        if at is not None and at[0] not in batches:
            found = _batch_summaries(path, at[0])
            batches[at[0]] = None if found is None else found.all()
        got = None if at is None else batches[at[0]]
        out.append(None if got is None or at is None else
                   checks.summary(got[at[1]], sweepstore.state_path(Path(path), at[0])))
    return out


def member_metrics(path: Path | str, member_id: str,
                   losses: bool = True) -> list[dict[str, Any]]:
    """A member's metrics rows up to its batch's checkpoint (``losses`` False: a stored
    member's rows without the recomputed losses, see ``BatchMetrics.rows``)."""
    own = _own_dir(path, member_id)
    if own is not None:
        return rundir.read_metrics(own / rundir.METRICS)
    where = _locate(path, member_id)
    if where is None:
        raise UsageError(f"{member_dir(path, member_id)}: no metrics yet")
    bid, i = where
    _ids, step, _done = _cached(sweepstore.state_path(Path(path), bid), "progress",
                                sweepstore.read_progress)
    metrics = _cached(sweepstore.metrics_path(Path(path), bid), "metrics", sweepstore.read_metrics)
    kept = metrics.rows(i, _entry(path, member_id), losses)
    return [r for r in kept if r["step"] <= step]


def member_curve(path: Path | str, member_id: str) -> tuple[list[int], list[float], list[float]]:
    """(steps, w, b) of every snapshot of a member: what the sweep's charts draw, read from
    the stored parameters without recomputing the rest of the metrics rows."""
    steps, wb = member_curves(path, [member_id])[0]
    return steps.tolist(), wb[:, 0].tolist(), wb[:, 1].tolist()


def member_curves(path: Path | str, ids: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(steps (S,) int64, w and b (S, 2) float64) of each of ``ids``: ``member_curve`` for many
    members, each batch's parameters sliced as one array (the weights chart draws every
    member)."""
    where = _store_index(path)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for mid in ids:
        at = where.get(mid)
        if at is None:
            rows = member_metrics(path, mid)
            out.append((np.array([int(r["step"]) for r in rows], dtype=np.int64),
                        np.array([[float(r["w"]), float(r["b"])] for r in rows],
                                 dtype=np.float64).reshape(-1, 2)))
            continue
        bid, i = at
        if bid not in batches:
            batches[bid] = _batch_curves(path, bid)
        steps, params = batches[bid]
        out.append((steps, params[:, i]))
    return out


def _batch_curves(path: Path | str, bid: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps (S,), w and b of every member (S, M, 2) float64) of a batch, its snapshots past
    the state's step dropped (as ``member_metrics`` does)."""
    upto = _cached(sweepstore.state_path(Path(path), bid), "progress", sweepstore.read_progress)[1]

    def load(f: Path) -> tuple[np.ndarray, np.ndarray]:
        steps, wb = sweepstore.read_curves(f)
        keep = np.array(steps, dtype=np.int64) <= upto
        return np.array(steps, dtype=np.int64)[keep], wb[keep].astype(np.float64)

    return _cached(sweepstore.metrics_path(Path(path), bid), f"curves<={upto}", load)


def member_started(path: Path | str, member_id: str) -> bool:
    """Whether the member has metrics (a member never started cannot be read)."""
    own = _own_dir(path, member_id)
    if own is not None:
        return (own / rundir.METRICS).is_file()
    return _locate(path, member_id) is not None


def _index(path: Path | str) -> Index:
    """``read_index``, remembered until ``sweep.json`` changes."""
    if not (Path(path) / SWEEP_JSON).is_file():
        return read_index(path)  # its UsageError
    return _cached(Path(path) / SWEEP_JSON, "index", lambda f: read_index(f.parent))


def _entry(path: Path | str, member_id: str) -> RunSpec:
    for e in _index(path).entries:
        if e.id == member_id:
            try:
                return RunSpec.model_validate(e.spec)
            except ValidationError:
                raise UsageError(f"{Path(path) / SWEEP_JSON} is corrupt") from None
    raise UsageError(f"no member {member_id!r} in {path}")


def load_member(path: Path | str, member_id: str, need_metrics: bool = True,
                losses: bool = True) -> rundir.Run:
    """Member ``member_id`` as a run, wherever its files are (``losses``: see
    ``member_metrics``)."""
    own = _own_dir(path, member_id)
    if own is not None:
        return rundir.load_run(own, need_metrics=need_metrics)
    spec = _entry(path, member_id)
    mdir = member_dir(path, member_id)
    found = _locate(path, member_id)
    metrics = member_metrics(path, member_id, losses) if found is not None else []
    if need_metrics and not metrics:
        raise UsageError(f"{mdir} has no metrics yet (its batch has not checkpointed)")
    return rundir.Run(path=mdir, spec=spec, command=rerun_command(spec, str(mdir)),
                      metrics=metrics, summary=member_summary(path, member_id))


def member_address(path: Path | str) -> tuple[Path, str] | None:
    """``SWEEP/members/ID`` -> (SWEEP, ID) when ``path`` is spelled as a place in a sweep's
    ``members/`` (the documented way to name a member), else None. Decided by the name alone,
    whatever the folder holds or links to: the member is read from its sweep, and a write
    there goes through ``outputs``. A name typed from inside ``members/`` (``ID``,
    ``./ID``) is read as the place it names."""
    path = Path(path)
    if path.parent.name != MEMBERS and Path(os.path.abspath(path)).parent.name == MEMBERS:
        path = Path(os.path.abspath(path))
    if (path.parent.name != MEMBERS or not _SAFE_ID.fullmatch(path.name)
            or path.name in (".", "..")):
        return None
    sweep = path.parent.parent
    return (sweep, path.name) if is_sweep(sweep) else None


def load_any_run(path: Path | str, need_metrics: bool = True) -> rundir.Run:
    """A run directory, or a sweep member named ``SWEEP/members/ID``: what every command that
    reads a run (animate, diagnose, train --resume) goes through."""
    where = member_address(path)
    if where is None:
        return rundir.load_run(Path(path), need_metrics=need_metrics)
    return load_member(*where, need_metrics=need_metrics)


def member_spec(path: Path | str) -> RunSpec | None:
    """The spec of the member ``path`` names (``SWEEP/members/ID``, optionally with
    ``/spec.json``), from ``sweep.json`` whatever the folder holds; None for anything else
    (``--config``)."""
    path = Path(path)
    if path.name == rundir.SPEC and member_address(path.parent) is not None:
        path = path.parent
    where = member_address(path)
    return None if where is None else _entry(*where)


def export_member(path: Path | str, member_id: str, out: Path) -> dict[str, Any]:
    """Write member ``member_id`` as a normal run directory at ``out`` (spec.json,
    metrics.jsonl, its latest checkpoint as last.npz and step-NNNNNN.npz, summary.json once
    finished): the files ``pointgan train`` of its spec writes, same numbers. ``out`` must be
    new or empty. Returns {"run_dir", "step", "finished"}."""
    path = Path(path)
    found = _stored(path, member_id)
    if found is None:
        own = _own_dir(path, member_id)
        hint = f" (it has a run directory: {own})" if own is not None else ""
        raise UsageError(f"member {member_id!r} of {path} has no stored state yet{hint}")

    i, state, _ = found
    spec = _entry(path, member_id)
    member = unstack_state(state, i)
    summaries = member.pop("summaries", None)
    rows = member_metrics(path, member_id)
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
                             f"{exc.strerror or exc}; nothing was kept (free some space and "
                             "export again)") from None
    return {"run_dir": str(out), "step": int(member["step"]), "finished": summaries is not None}
