"""A sweep directory on disk: the only module that knows its file names and formats.

A sweep directory holds ``sweep.json`` (written first: the command, the resolved sweep spec and
the member list, which is what ``--resume`` re-expands), the members' runs under ``members/``,
and, once every member has finished, the sweep's ``summary.json`` and its charts. Everything
else (the sweep runner, reports, render, diagnose, trackers) reads and writes a sweep through
the functions here, so there is one spelling of each name and one error message for a
directory that is not a sweep or is corrupt. A member's own files belong to ``rundir``.

``SWEEP_LAYOUT`` lists every name pointgan writes here: ``--force`` empties a sweep directory
of exactly those and refuses one holding anything else (``fsguard``); a file added to a sweep
directory must be added to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import RuntimeFailure, UsageError
from ..naming import rerun_command
from ..spec import RunSpec
from . import atomic, checks, fsguard, rundir, sweepindex, sweepstore
from .ckptfile import unstack_state

SWEEP_JSON = "sweep.json"
MEMBERS = "members"
SUMMARY = rundir.SUMMARY  # the sweep's summary has the same name as a run's
SUMMARY_CSV = "summary.csv"  # the per-group table of summary.json, for spreadsheets
SCHEMA_VERSION = 2  # 1: every member's whole spec (still read); 2: see sweepindex
#: Stability maps (``sweep/maps.py``): ``map.png``, ``map.json``, ``map.csv`` for a sweep's only
#: map; ``map-<variant>.*`` for each when a sweep draws several (``--study map``).
MAP = "map"
MAP_KINDS = ("png", "json", "csv")
DIRAC_GRID, DIRAC_TABLE = "dirac-grid.png", "dirac-table.md"  # a Dirac-GAN sweep's report
REPORT_FILES = ("weights.png", "success.png", "convergence.png", DIRAC_GRID,
                DIRAC_TABLE)  # the report's files

SWEEP_LAYOUT: fsguard.Layout = {
    SWEEP_JSON: fsguard.FILE,
    SUMMARY: fsguard.FILE,
    SUMMARY_CSV: fsguard.FILE,
    rundir.REPORT: fsguard.FILE,
    **{name: fsguard.FILE for name in REPORT_FILES},
    **{f"{MAP}.{kind}": fsguard.FILE for kind in MAP_KINDS},
    **{f"{MAP}-*.{kind}": fsguard.FILE for kind in MAP_KINDS},
    f"{rundir.ANIMATION}.gif": fsguard.FILE,
    f"{rundir.ANIMATION}.mp4": fsguard.FILE,
    f"{rundir.ANIMATION}.png": fsguard.FILE,
    "frame-[0-9][0-9][0-9][0-9][0-9][0-9].png": fsguard.FILE,
    MEMBERS: {"*": rundir.DERIVED_LAYOUT},  # what commands derive from a member, beside it
    rundir.WANDB: fsguard.RECORDED,  # the sweep's own W&B runs (``pointgan log``)
    "check-classes.json": fsguard.FILE,  # ``sweep --check-classes``: what each class predicted
    sweepstore.BATCHES: {f"[0-9]*{sweepstore.METRICS_SUFFIX}": fsguard.FILE,
                         f"[0-9]*{sweepstore.STATE_SUFFIX}": fsguard.FILE},
}
#: ``sweep --check-classes``: the members again at twice their steps, a sweep of its own.
SWEEP_LAYOUT["check-2x"] = dict(SWEEP_LAYOUT)


def _is_own_index(path: Path) -> bool:
    """Whether ``path`` (a ``sweep.json``) is one pointgan wrote: it reads as a sweep index
    (schema, a ``pointgan sweep`` command, unique member ids), not merely a file of that name."""
    try:
        if path.stat().st_size > 1 << 30:
            return False
        index = read_index(path.parent)
    except (OSError, UsageError):
        return False
    return index.command.startswith("pointgan sweep")


SWEEP_MARKERS: fsguard.Markers = {SWEEP_JSON: _is_own_index}
_SAFE_ID = re.compile(r"[A-Za-z0-9.=_-]+")


@dataclass(frozen=True)
class Entry:
    """One member as ``sweep.json`` lists it: its id, its statistics group and its spec."""

    id: str
    group: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Index:
    """The contents of ``sweep.json``."""

    command: str
    sweep: dict[str, Any]  # the SweepSpec, as JSON
    entries: list[Entry]

    @property
    def groups(self) -> dict[str, str]:
        """member id -> group."""
        return {e.id: e.group for e in self.entries}


def is_sweep(path: Path | str) -> bool:
    return (Path(path) / SWEEP_JSON).is_file()


def write_index(out: Path, command: str, sweep: dict[str, Any], entries: list[Entry]) -> None:
    """Create ``members/`` and write ``sweep.json`` (atomically, before any member trains):
    each group's resolved spec once and per member only what differs (``sweepindex``), one
    member per line."""
    (out / MEMBERS).mkdir(parents=True, exist_ok=True)
    doc = {"schema_version": SCHEMA_VERSION, "command": command, "sweep": sweep,
           **sweepindex.encode([(e.id, e.group, e.spec) for e in entries])}
    atomic.atomic_write_text(out / SWEEP_JSON, _lines(doc))


def _lines(doc: dict[str, Any]) -> str:
    """JSON with one top-level key per line and each item of ``bases`` and ``members`` on a
    line of its own, without spaces (readable and diffable, without indenting every field of
    every member)."""
    parts = []
    for key, value in doc.items():
        if key in ("bases", "members") and value:
            items = ",\n".join(f"    {_compact(v)}" for v in value)
            parts.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {atomic.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _compact(value: Any) -> str:
    return json.dumps(fsguard.finite_json(value), separators=(",", ":"), allow_nan=False)


def read_index(path: Path | str) -> Index:
    """``sweep.json`` of ``path`` (either schema); a missing or corrupt one is one
    ``UsageError`` line."""
    path = Path(path)
    f = path / SWEEP_JSON
    if not f.is_file():
        raise UsageError(f"{path} is not a pointgan sweep directory (no {SWEEP_JSON})")
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
        entries = [Entry(*m) for m in sweepindex.decode(doc)]
        index = Index(str(doc.get("command", "")), dict(doc.get("sweep") or {}), entries)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            IndexError, AttributeError, RecursionError):
        raise UsageError(f"{f} is corrupt") from None
    if not entries:
        raise UsageError(f"{f} lists no members")
    if not all(isinstance(e.spec, dict) and isinstance(e.group, str) for e in entries):
        raise UsageError(f"{f} is corrupt (a member without a spec or group)")
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids) or not all(_SAFE_ID.fullmatch(i) and i not in (".", "..")
                                            for i in ids):
        raise UsageError(f"{f} is corrupt (member ids must be unique folder names)")
    return index


# -- replacing and resuming a sweep directory ------------------------------------------------------


def check_target(out: Path, force: bool, resume: bool) -> None:
    """The sweep counterpart of ``rundir.check_target``: raises before anything is made."""
    rundir.check_target_path(out, force, resume)
    if resume:
        read_index(out)
    elif force:
        fsguard.check_replaceable(out, SWEEP_LAYOUT, SWEEP_MARKERS, "sweep")
    elif rundir.is_nonempty_dir(out):
        raise UsageError(_not_empty(out))


def _not_empty(out: Path) -> str:
    """The refusal of a non-empty --out; a sweep there (one whose start failed, or was killed)
    gets the command that continues it, which works from any point."""
    where = fsguard._short(str(out))
    if is_sweep(out):
        return (f"--out: {where} holds a sweep already; continue it with: pointgan sweep "
                f"--resume --out {shlex.quote(str(out))} (or use --force to replace it)")
    return f"--out: {where} is not empty (use --force to replace it or --resume)"


def prepare_fresh(out: Path, force: bool) -> None:
    """Under ``out``'s lock: refuse a non-empty directory unless ``force``, and then delete
    only what pointgan wrote."""
    if rundir.is_nonempty_dir(out):
        if not force:
            raise UsageError(_not_empty(out))
        fsguard.check_replaceable(out, SWEEP_LAYOUT, SWEEP_MARKERS, "sweep")
        fsguard.clear_owned(out, SWEEP_LAYOUT)


def prepare_resume(out: Path, ids: list[str]) -> None:
    """Under ``out``'s lock: no symlinked ``members/``, ``batches/`` or member folder, no stray
    temp files."""
    fsguard.refuse_symlinked(out, (MEMBERS, sweepstore.BATCHES,
                                   *(f"{MEMBERS}/{i}" for i in ids)))
    fsguard.clean_temps(out, SWEEP_LAYOUT, (sweepstore.BATCHES,))
    (out / MEMBERS).mkdir(exist_ok=True)


def member_dir(path: Path | str, member_id: str) -> Path:
    """Where member ``member_id`` of the sweep at ``path`` keeps its run."""
    return Path(path) / MEMBERS / member_id


def member_ids(path: Path | str) -> list[str]:
    return [e.id for e in _index(path).entries]


def _index(path: Path | str) -> Index:
    """``read_index``, remembered until ``sweep.json`` changes."""
    if not (Path(path) / SWEEP_JSON).is_file():
        return read_index(path)  # its UsageError
    return _cached(Path(path) / SWEEP_JSON, "index", lambda f: read_index(f.parent))


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


def iter_members(path: Path | str, losses: bool = True) -> Iterator[tuple[str, str, Any]]:
    """(id, group, load) of every member, in ``sweep.json``'s order: ``load`` is None for a
    member that has not started (``member_started`` False), else a function that returns
    the member as ``load_member(path, id, losses=losses)`` does, raising the same UsageError.

    Batch by batch: a batch's files are read and decoded once, when its first member is
    loaded, and every member of it is taken from them (``load_member`` for each member
    looked the member up in every batch and re-read its batch from a small cache); a batch
    is let go after its last member."""
    path = Path(path)
    entries = _index(path).entries
    where, own = _store_index(path), _own_ids(path)
    left: dict[str, int] = {}
    for e in entries:
        if e.id in where:
            left[where[e.id][0]] = left.get(where[e.id][0], 0) + 1
    open_batches: dict[str, _BatchFiles] = {}
    for e in entries:
        at = where.get(e.id)
        if at is None:
            d = member_dir(path, e.id)
            started = e.id in own and (d / rundir.METRICS).is_file()
            yield e.id, e.group, (lambda d=d: rundir.load_run(d)) if started else None
            continue
        bid, i = at
        files = open_batches.get(bid) or open_batches.setdefault(bid, _BatchFiles(path, bid))
        yield e.id, e.group, lambda e=e, files=files, i=i: _batch_member(path, e, files, i,
                                                                         losses)
        left[bid] -= 1
        if not left[bid]:
            del open_batches[bid]


def _batch_member(path: Path, entry: Entry, files: _BatchFiles, i: int,
                  losses: bool) -> rundir.Run:
    """``load_member`` of a stored member, from its batch's files read once."""
    try:
        spec = RunSpec.model_validate(entry.spec)
    except ValidationError:
        raise UsageError(f"{path / SWEEP_JSON} is corrupt") from None
    mdir = member_dir(path, entry.id)
    upto = files.upto()
    metrics, params = files.metrics()
    rows = [r for r in metrics.rows_of(params[:, i], spec, losses) if r["step"] <= upto]
    if not rows:
        raise UsageError(f"{mdir} has no metrics yet (its batch has not checkpointed)")
    found = files.summaries()
    summary = None if found is None else checks.summary(
        found[i], sweepstore.state_path(path, files.bid))
    return rundir.Run(path=mdir, spec=spec, command=rerun_command(spec, str(mdir)),
                      metrics=rows, summary=summary)


def member_address(path: Path | str) -> tuple[Path, str] | None:
    """``SWEEP/members/ID`` -> (SWEEP, ID) when ``path`` is spelled as a place in a sweep's
    ``members/`` (the documented way to name a member), else None. Decided by the name alone,
    whatever the folder holds or links to: the member is read from its sweep, and a write
    there goes through ``outputs``."""
    path = Path(path)
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
        rundir.write_checkpoint(out, member, spec)
        if summaries is not None:
            atomic.atomic_write_json(out / rundir.SUMMARY, summaries.get(i))
    except OSError as exc:  # a full disk: no half-made run directory stays behind
        with contextlib.suppress(OSError):
            fsguard.clear_owned(out, rundir.RUN_LAYOUT)
            if made:
                out.rmdir()
        raise RuntimeFailure(f"cannot write {fsguard._short(str(out))}: "
                             f"{exc.strerror or exc}; nothing was kept (free some space and "
                             "export again)") from None
    return {"run_dir": str(out), "step": int(member["step"]), "finished": summaries is not None}


def read_summary(path: Path | str) -> dict[str, Any]:
    """The sweep's ``summary.json``; ``{}`` while the sweep has not finished."""
    f = Path(path) / SUMMARY
    if not f.is_file():  # is_file: a regular file (never a FIFO to wait on)
        return {}
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UsageError(f"{f} is corrupt") from None
    return checks.sweep_summary(doc, f)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """The sweep's ``summary.json``: written last, so its presence means the sweep finished."""
    atomic.atomic_write_json(path / SUMMARY, summary)


def map_names(name: str | None = None) -> dict[str, str]:
    """File names of one map: {"png": "map.png", ...}; ``name`` tells one of several apart."""
    stem = MAP if name is None else f"{MAP}-{name}"
    return {kind: f"{stem}.{kind}" for kind in MAP_KINDS}


def map_files(path: Path | str) -> list[Path]:
    """The map files a finished sweep holds (``map.*`` and ``map-*.*``), sorted by name."""
    path = Path(path)
    return sorted(f for kind in MAP_KINDS for pattern in (f"{MAP}.{kind}", f"{MAP}-*.{kind}")
                  for f in path.glob(pattern) if f.is_file())


def write_file(path: Path, name: str, data: bytes) -> None:
    """A file the sweep report adds beside ``summary.json`` (charts, tables)."""
    atomic.atomic_write_bytes(path / name, data)


def write_summary_csv(path: Path, data: bytes) -> None:
    """``summary.csv``: the per-group table, written just before ``summary.json``."""
    write_file(path, SUMMARY_CSV, data)


def charts(path: Path | str) -> list[Path]:
    """The charts the sweep report wrote beside ``summary.json`` (those that exist): the
    report's charts, then the stability maps."""
    path = Path(path)
    found = [path / n for n in REPORT_FILES if n.endswith(".png") and (path / n).is_file()]
    maps = [path / f"{MAP}.png", *sorted(path.glob(f"{MAP}-*.png"))]
    return found + [p for p in maps if p.is_file()]
