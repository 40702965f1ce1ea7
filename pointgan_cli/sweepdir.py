"""A sweep directory on disk: the only module that knows its file names and formats.

A sweep directory holds ``sweep.json`` (written first: the command, the resolved sweep spec and
the member list, which is what ``--resume`` re-expands), the members' runs under ``members/``,
and, once every member has finished, the sweep's ``summary.json`` and its charts. Everything
else (the sweep runner, reports, render, diagnose, trackers) reads and writes a sweep through
the functions here, so there is one spelling of each name and one error message for a
directory that is not a sweep or is corrupt. A member's own files belong to ``rundir``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import rundir
from .errors import UsageError

SWEEP_JSON = "sweep.json"
MEMBERS = "members"
SUMMARY = rundir.SUMMARY  # the sweep's summary has the same name as a run's
SCHEMA_VERSION = 1


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
    """Create ``members/`` and write ``sweep.json`` (atomically, before any member trains)."""
    (out / MEMBERS).mkdir(parents=True, exist_ok=True)
    members = [{"id": e.id, "group": e.group, "spec": e.spec} for e in entries]
    rundir.atomic_write_json(out / SWEEP_JSON, {"schema_version": SCHEMA_VERSION,
                                                "command": command, "sweep": sweep,
                                                "members": members})


def read_index(path: Path | str) -> Index:
    """``sweep.json`` of ``path``; a missing or corrupt one is one ``UsageError`` line."""
    path = Path(path)
    f = path / SWEEP_JSON
    if not f.is_file():
        raise UsageError(f"{path} is not a pointgan sweep directory (no {SWEEP_JSON})")
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
        entries = [Entry(str(m["id"]), str(m.get("group") or m["id"]), dict(m.get("spec") or {}))
                   for m in doc["members"]]
        index = Index(str(doc.get("command", "")), dict(doc.get("sweep") or {}), entries)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise UsageError(f"{f} is corrupt") from None
    if not entries:
        raise UsageError(f"{f} lists no members")
    return index


def member_dir(path: Path | str, member_id: str) -> Path:
    """Where member ``member_id`` of the sweep at ``path`` keeps its run."""
    return Path(path) / MEMBERS / member_id


def member_ids(path: Path | str) -> list[str]:
    return [e.id for e in read_index(path).entries]


def member_summary(path: Path | str, member_id: str) -> dict[str, Any] | None:
    """The member's ``summary.json``, or None while it has not finished (or is unreadable)."""
    return rundir.read_summary(member_dir(path, member_id))


def load_member(path: Path | str, member_id: str, need_metrics: bool = True) -> rundir.Run:
    return rundir.load_run(member_dir(path, member_id), need_metrics=need_metrics)


def member_metrics(path: Path | str, member_id: str) -> list[dict[str, Any]]:
    return rundir.read_metrics(member_dir(path, member_id) / rundir.METRICS)


def member_started(path: Path | str, member_id: str) -> bool:
    """Whether the member has written any metrics (a member never started cannot be read)."""
    return (member_dir(path, member_id) / rundir.METRICS).is_file()


def read_summary(path: Path | str) -> dict[str, Any]:
    """The sweep's ``summary.json``; ``{}`` while the sweep has not finished."""
    f = Path(path) / SUMMARY
    if not f.is_file():
        return {}
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError(f"{f} is corrupt") from None
    return doc if isinstance(doc, dict) else {}


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """The sweep's ``summary.json``: written last, so its presence means the sweep finished."""
    rundir.atomic_write_json(path / SUMMARY, summary)


def write_file(path: Path, name: str, data: bytes) -> None:
    """A file the sweep report adds beside ``summary.json`` (charts, tables)."""
    rundir.atomic_write_bytes(path / name, data)
