"""A sweep member named by its path, ``SWEEP/members/ID``: the documented way to name a member
to every command that reads a run (``animate``, ``diagnose``, ``report``, ``log``, ``compare``,
``train --resume``, ``sweep export``). Why apart from ``sweepdir``: this is about what a path
the user typed means (a run directory or a member), decided by the name alone; the sweep it
names is then read as a ``SweepDir``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..spec import RunSpec
from . import rundir
from .sweepdir import _SAFE_ID, MEMBERS, SweepDir, is_sweep


def member_address(path: Path | str) -> tuple[SweepDir, str] | None:
    """``SWEEP/members/ID`` -> (the sweep, ID) when ``path`` is spelled as a place in a sweep's
    ``members/``, else None. Decided by the name alone, whatever the folder holds or links
    to: the member is read from its sweep, and a write there goes through ``outputs``. A name
    typed from inside ``members/`` (``ID``, ``./ID``) is read as the place it names."""
    path = Path(path)
    if path.parent.name != MEMBERS and Path(os.path.abspath(path)).parent.name == MEMBERS:
        path = Path(os.path.abspath(path))
    if (path.parent.name != MEMBERS or not _SAFE_ID.fullmatch(path.name)
            or path.name in (".", "..")):
        return None
    sweep = path.parent.parent
    return (SweepDir(sweep), path.name) if is_sweep(sweep) else None


def load_any_run(path: Path | str, need_metrics: bool = True) -> rundir.Run:
    """A run directory, or a sweep member named ``SWEEP/members/ID``: what every command that
    reads a run goes through."""
    where = member_address(path)
    if where is None:
        return rundir.load_run(Path(path), need_metrics=need_metrics)
    sweep, member_id = where
    return sweep.members.load(member_id, need_metrics=need_metrics)


def member_spec(path: Path | str) -> RunSpec | None:
    """The spec of the member ``path`` names (``SWEEP/members/ID``, optionally with
    ``/spec.json``), from ``sweep.json`` whatever the folder holds; None for anything else
    (``--config``)."""
    path = Path(path)
    if path.name == rundir.SPEC and member_address(path.parent) is not None:
        path = path.parent
    where = member_address(path)
    return None if where is None else where[0].spec_of(where[1])


def stored_spec(path: Path | str) -> RunSpec | None:
    """The spec ``--config PATH`` stands for when PATH is a sweep's member (``member_spec``)
    or a run directory (the spec it was trained with); None for anything else (a config
    file)."""
    found = member_spec(path)
    if found is None and rundir.is_run(path):
        found = rundir.load_spec(Path(path))[0]
    return found
