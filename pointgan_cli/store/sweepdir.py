"""A sweep directory on disk: the only module that knows its file names and formats.

A sweep directory holds ``sweep.json`` (written first: the command, the resolved sweep spec and
the member list, which is what ``--resume`` re-expands), the members' training in the batch
store under ``batches/`` (``sweepstore``), what commands derive from a member under
``members/ID/``, and, once every member has finished, the sweep's ``summary.json`` and its
charts. Everything else (the sweep runner, reports, render, diagnose, trackers) opens a sweep
once as a ``SweepDir`` and goes through it: creating, replacing, locking and resuming it, its
index, its members (``SweepDir.members``, a ``sweepmembers.StoredMembers``), its summary and
charts. So there is one spelling of each name, one error message for a directory that is not
a sweep or is corrupt, and a sweep's path goes down into the store once instead of being
handed from module to module.

``SWEEP_LAYOUT`` lists every name pointgan writes here: ``--force`` empties a sweep directory
of exactly those and refuses one holding anything else (``fsguard``); a file added to a sweep
directory must be added to it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import UsageError, short
from ..spec import RunSpec
from . import atomic, checks, fsguard, rundir, sweepindex, sweepstore
from .sweepmembers import StoredMembers

SWEEP_JSON = "sweep.json"
MEMBERS = "members"
SUMMARY = rundir.SUMMARY  # the sweep's summary has the same name as a run's
SUMMARY_CSV = "summary.csv"  # the per-group table of summary.json, for spreadsheets
SCHEMA_VERSION = 2  # the member list of sweepindex
#: Stability maps (``sweep/maps.py``): ``map.png``, ``map.json``, ``map.csv`` for a sweep's only
#: map; ``map-<variant>.*`` for each when a sweep draws several (``--study map``).
MAP = "map"
MAP_KINDS = ("png", "json", "csv")
DIRAC_GRID, DIRAC_TABLE = "dirac-grid.png", "dirac-table.md"  # a Dirac-GAN sweep's report
SUMMARY_FILES = ("weights.png", "success.png", "convergence.png", DIRAC_GRID,
                DIRAC_TABLE)  # the report's files

SWEEP_LAYOUT: fsguard.Layout = {
    SWEEP_JSON: fsguard.FILE,
    SUMMARY: fsguard.FILE,
    SUMMARY_CSV: fsguard.FILE,
    rundir.REPORT: fsguard.FILE,
    **{name: fsguard.FILE for name in SUMMARY_FILES},
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


def _write_index(out: Path, command: str, sweep: dict[str, Any], entries: list[Entry]) -> None:
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
    return json.dumps(atomic.finite_json(value), separators=(",", ":"), allow_nan=False)


def read_index(path: Path | str) -> Index:
    """``sweep.json`` of ``path``; a missing or corrupt one is one ``UsageError`` line."""
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


def _not_empty(out: Path) -> str:
    """The refusal of a non-empty --out; a sweep there (one whose start failed, or was killed)
    gets the command that continues it, which works from any point."""
    where = short(str(out))
    if is_sweep(out):
        return (f"--out: {where} holds a sweep already; continue it with: pointgan sweep "
                f"--resume --out {shlex.quote(str(out))} (or use --force to replace it)")
    return f"--out: {where} is not empty (use --force to replace it or --resume)"


class SweepDir:
    """The sweep directory at ``path``: made once from the path, it owns the layout, the
    index, the store and the guard calls. What it reads (``sweep.json``, the store's batch
    files, through ``members``) it keeps for its lifetime: open the sweep again to see what
    was written since (a sweep's report, after the workers trained)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._index: Index | None = None
        self._by_id: dict[str, Entry] | None = None
        self._specs: dict[str, RunSpec] = {}
        self.members = StoredMembers(self)

    @classmethod
    def open(cls, path: Path | str) -> SweepDir:
        """An existing sweep, its ``sweep.json`` read now (a missing or corrupt one is one
        ``UsageError`` line)."""
        sweep = cls(path)
        sweep.index  # noqa: B018  (read now: the error before anything else)
        return sweep

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        return is_sweep(self.path)

    @property
    def index_file(self) -> Path:
        return self.path / SWEEP_JSON

    def member_dir(self, member_id: str) -> Path:
        """Where member ``member_id`` is addressed (``SWEEP/members/ID``) and what commands
        derive from it is written."""
        return self.path / MEMBERS / member_id

    # -- creating, replacing, resuming -------------------------------------------------------

    def check_target(self, force: bool, resume: bool) -> None:
        """The sweep counterpart of ``rundir.check_target``: raises before anything is made."""
        out = self.path
        rundir.check_target_path(out, force, resume)
        if resume:
            read_index(out)
        elif force:
            fsguard.check_replaceable(out, SWEEP_LAYOUT, SWEEP_MARKERS, "sweep")
        elif rundir.is_nonempty_dir(out):
            raise UsageError(_not_empty(out))

    def lock(self, flag: str = "--out") -> fsguard.DirLock:
        """The directory's lock, held for a whole sweep (``with sweep.lock(): ...``) and by a
        command writing beside a member; ``flag`` names the path in the refusal."""
        return fsguard.DirLock(self.path, flag)

    def prepare_fresh(self, force: bool) -> None:
        """Under the lock: refuse a non-empty directory unless ``force``, and then delete only
        what pointgan wrote."""
        if rundir.is_nonempty_dir(self.path):
            if not force:
                raise UsageError(_not_empty(self.path))
            fsguard.check_replaceable(self.path, SWEEP_LAYOUT, SWEEP_MARKERS, "sweep")
            fsguard.clear_owned(self.path, SWEEP_LAYOUT)

    def prepare_resume(self) -> None:
        """Under the lock: no symlinked ``members/``, ``batches/`` or member folder, no stray
        temp files, no metrics of a batch killed before its first checkpoint."""
        fsguard.refuse_symlinked(self.path, (MEMBERS, sweepstore.BATCHES,
                                             *(f"{MEMBERS}/{i}" for i in self.ids)))
        fsguard.clean_temps(self.path, SWEEP_LAYOUT, (sweepstore.BATCHES,))
        (self.path / MEMBERS).mkdir(exist_ok=True)
        for orphan in sweepstore.orphan_metrics(self.path):
            orphan.unlink()

    def create(self, command: str, sweep: dict[str, Any], entries: list[Entry]) -> None:
        """Create ``members/`` and write ``sweep.json`` (atomically, before any member
        trains): what ``--resume`` continues."""
        _write_index(self.path, command, sweep, entries)
        self._index, self._by_id = None, None

    # -- the index ---------------------------------------------------------------------------

    @property
    def index(self) -> Index:
        """``sweep.json``, read once."""
        if self._index is None:
            self._index = read_index(self.path)
        return self._index

    @property
    def entries(self) -> list[Entry]:
        return self.index.entries

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    @property
    def groups(self) -> dict[str, str]:
        """member id -> group."""
        return self.index.groups

    def entry(self, member_id: str) -> Entry:
        if self._by_id is None:
            self._by_id = {e.id: e for e in self.entries}
        found = self._by_id.get(member_id)
        if found is None:
            raise UsageError(f"no member {member_id!r} in {self.path}")
        return found

    def spec_of(self, member_id: str) -> RunSpec:
        """A member's spec, as ``sweep.json`` recorded it."""
        if member_id not in self._specs:
            try:
                self._specs[member_id] = RunSpec.model_validate(self.entry(member_id).spec)
            except ValidationError:
                raise UsageError(f"{self.index_file} is corrupt") from None
        return self._specs[member_id]

    # -- the batch store, for training ---------------------------------------------------------

    def batch_ids(self) -> list[str]:
        """The store's batches with a state file, in order."""
        return sweepstore.batch_ids(self.path)

    def batch_name(self, number: int) -> str:
        return sweepstore.batch_name(number)

    def batch_state_file(self, bid: str) -> Path:
        return sweepstore.state_path(self.path, bid)

    def read_batch_state(self, bid: str) -> tuple[list[str], dict]:
        """(ids, stacked state) of a batch, read now (a batch resuming)."""
        return sweepstore.read_state(self.batch_state_file(bid))

    def read_batch_metrics(self, bid: str) -> sweepstore.BatchMetrics:
        """A batch's metrics, read now (a batch resuming)."""
        return sweepstore.read_metrics(sweepstore.metrics_path(self.path, bid))

    def write_batch(self, bid: str, metrics: sweepstore.BatchMetrics, stacked: dict) -> None:
        """A batch's checkpoint: its metrics, then its state, each atomically."""
        sweepstore.write_batch(self.path, bid, metrics, stacked)

    # -- the sweep's summary and charts ------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The sweep's ``summary.json``; ``{}`` while the sweep has not finished."""
        f = self.path / SUMMARY
        if not f.is_file():  # is_file: a regular file (never a FIFO to wait on)
            return {}
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise UsageError(f"{f} is corrupt") from None
        return checks.sweep_summary(doc, f)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """The sweep's ``summary.json``: written last, so its presence means the sweep
        finished."""
        atomic.atomic_write_json(self.path / SUMMARY, summary)

    def write_file(self, name: str, data: bytes) -> None:
        """A file the sweep's summaries add beside ``summary.json`` (charts, tables)."""
        atomic.atomic_write_bytes(self.path / name, data)

    def write_summary_csv(self, data: bytes) -> None:
        """``summary.csv``: the per-group table, written just before ``summary.json``."""
        self.write_file(SUMMARY_CSV, data)

    def map_files(self) -> list[Path]:
        """The map files a finished sweep holds (``map.*`` and ``map-*.*``), sorted by name."""
        return sorted(f for kind in MAP_KINDS for pattern in (f"{MAP}.{kind}", f"{MAP}-*.{kind}")
                      for f in self.path.glob(pattern) if f.is_file())

    def charts(self) -> list[Path]:
        """The charts written beside ``summary.json`` (those that exist): the summaries'
        charts, then the stability maps."""
        path = self.path
        found = [path / n for n in SUMMARY_FILES if n.endswith(".png") and (path / n).is_file()]
        maps = [path / f"{MAP}.png", *sorted(path.glob(f"{MAP}-*.png"))]
        return found + [p for p in maps if p.is_file()]


def map_names(name: str | None = None) -> dict[str, str]:
    """File names of one map: {"png": "map.png", ...}; ``name`` tells one of several apart."""
    stem = MAP if name is None else f"{MAP}-{name}"
    return {kind: f"{stem}.{kind}" for kind in MAP_KINDS}
