"""Where commands may write, and whose lock they hold while they do: a sweep's members are the
sweep's.

Why: a sweep keeps its members in its batch store, and ``SWEEP/members/ID`` is how every
command names one; it is read from that store whatever the folder holds (``sweepdir``).
Anything a writing command (``train``, ``train --resume``, ``sweep``, ``sweep export``) put
inside a sweep would pass for the sweep's results past its lock, and a symbolic link there
would carry the write out of the sweep, so an ``--out`` inside a sweep is refused
(``refuse_inside_sweep``). Outputs derived from a run (an animation, a report, a diagnosis)
go beside it (``derived_dir``): for a member into the real folder ``SWEEP/members/ID``, made
if needed and never through a symbolic link, while this process holds the sweep's lock (so
never while the sweep trains); for a run or a sweep into it, under its own lock.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import RuntimeFailure, UsageError, short
from ..naming import resume_command
from . import atomic, fsguard, sweepdir
from .memberpath import member_address
from .sweepdir import SweepDir


def enclosing_sweep(out: Path | str) -> Path | None:
    """The sweep directory that ``out`` lies inside (strictly below it), as typed or once
    symbolic links are resolved; None when there is none."""
    out = Path(out)
    typed = Path(os.path.abspath(out))
    try:
        real = out.resolve()
    except (OSError, RuntimeError):  # a symlink loop: the typed path is all there is
        real = typed
    for base in (typed, real):
        for parent in base.parents:
            if sweepdir.is_sweep(parent):
                return parent
    return None


def refuse_inside_sweep(out: Path | str, flag: str = "--out",
                        owner: Path | None = None) -> None:
    """UsageError when a writing command's ``out`` lies inside a sweep directory: the sweep
    alone writes its members (``sweep --resume`` continues them, ``sweep export`` copies one
    out). ``owner``: the one sweep allowed to hold ``out`` (the sweep that writes it, as
    ``sweep --check-classes`` writes its members' twins into ``SWEEP/check-2x``)."""
    sweep = enclosing_sweep(out)
    if sweep is None or (owner is not None and sweep.resolve() == Path(owner).resolve()):
        return
    where = member_address(out)
    mid = where[1] if where is not None and where[1] in _ids(where[0]) else "ID"
    home = where[0].path if where is not None else sweep
    q = shlex.quote(str(home))
    raise UsageError(
        f"{flag}: {short(str(out))} is inside the sweep {short(str(sweep))}, whose members "
        f"only the sweep writes; continue it with `{resume_command(home)}`, or copy "
        f"the member out with `pointgan sweep export {q} {shlex.quote(mid)} --out DIR`")


def refuse_a_sweep(out: Path | str, flag: str = "--out") -> None:
    """UsageError when a run's writer (``train``, ``train --resume``, ``sweep export``) is
    pointed at a sweep directory itself: a run is not written over a sweep, and the hints a
    run directory gets (``--force``, ``--resume``) would both fail there."""
    if sweepdir.is_sweep(out):
        raise UsageError(f"{flag}: {short(str(out))} is a sweep directory, not a run's; "
                         f"continue it with `{resume_command(out)}`, or choose "
                         f"another {flag}")


def _ids(sweep: SweepDir) -> list[str]:
    """The sweep's member ids, or none when its ``sweep.json`` cannot be read (the refusal
    then names no member rather than failing on the index)."""
    try:
        return sweep.ids
    except (UsageError, RuntimeFailure):
        return []


def member_folder(sweep: SweepDir, member_id: str, flag: str = "RUN_DIR") -> Path:
    """``SWEEP/members/ID`` as a real folder (made if missing): a symbolic link or a file at
    ``members/`` or at the member's name is refused, so a write there stays in the sweep."""
    folder = sweep.member_dir(member_id)
    for p in (folder.parent, folder):
        if p.is_symlink():
            raise UsageError(f"{flag}: {short(str(p))} is a symbolic link; pointgan writes only "
                             "inside its own directory")
        try:
            p.mkdir(exist_ok=True)
        except FileExistsError:
            raise UsageError(f"{flag}: {short(str(p))} is not a directory") from None
        if p.is_symlink() or not p.is_dir():
            raise UsageError(f"{flag}: {short(str(p))} is not a directory of this sweep")
    return folder


def record(folder: Path, before: set[str]) -> None:
    """Add to ``folder``'s ``fsguard.RECORD`` the entries made there since ``before`` (its
    listing, ``fsguard.listing``, before a tool such as W&B wrote into it): what ``--force``
    may later delete in that folder, and nothing else."""
    try:
        now = set(os.listdir(folder))
    except OSError:
        return
    names = sorted(fsguard.recorded(folder) | (now - before - {fsguard.RECORD}))
    atomic.atomic_write_text(Path(folder) / fsguard.RECORD, json.dumps(names, indent=1) + "\n")


@contextmanager
def derived_dir(source: Path | str, flag: str = "RUN_DIR") -> Iterator[Path]:
    """The folder the outputs derived from ``source`` (a run, a sweep, or ``SWEEP/members/ID``)
    go into, yielded while this process holds its owner's lock: a second pointgan writing
    there (a train or sweep still running) makes this one line, exit 2."""
    source = Path(source)
    where = member_address(source)
    if where is None:
        if not source.is_dir():
            raise UsageError(f"{flag}: directory not found: {short(str(source))}")
        with fsguard.DirLock(source, flag):
            yield source
        return
    sweep, mid = where
    if mid not in sweep.ids:
        raise UsageError(f"{flag}: no member {short(mid)} in {short(str(sweep.path))}")
    with sweep.lock(flag):
        yield member_folder(sweep, mid, flag)
