"""Guards for the directories pointgan writes: what ``--force`` may delete, one writer at a time.

Why this module exists: ``--force`` used to ``rmtree`` whatever ``--out`` named, so
``--out ~ --force`` deleted a home directory. Now a directory is only ever *emptied of what
pointgan itself wrote*, recognised by a layout that the owner of the format declares
(``rundir.RUN_LAYOUT`` for a run, the sweep directory's owner for a sweep). Anything else in it,
a symbolic link anywhere in it, or a dangerous target (``/``, ``~``, the working directory or
one of its parents, a symlinked ``--out``) is refused with one line before anything is touched.
The directory itself is never removed, only its recognised entries.

Layouts are nested dicts: a key is an ``fnmatch`` pattern of an entry name; its value is
``FILE`` (a regular file), ``RECORDED`` (a folder a tool we ran writes into, e.g. ``wandb/``:
only the entries that pointgan's record in it, ``RECORD``, lists as made by pointgan's calls
of that tool), or another layout (a folder whose entries must match it). A directory is
pointgan's only when its marker file (``spec.json``, ``sweep.json``) is one pointgan wrote,
checked by content (the marker's verifier), not by name alone. The temporary file of an
interrupted write (``.NAME.XXXXXXXX.tmp``, an animation's ``.STEM.XXXXXXXX.tmp.SUFFIX``) is
pointgan's only where ``NAME`` is a file the layout names there: a user's own hidden
``.notes.backup.tmp`` is foreign like any other file.

Strict JSON: ``finite_json`` replaces NaN/Infinity (not JSON) by null in anything pointgan
writes or prints as JSON.

Locks: ``DirLock`` takes an exclusive ``fcntl.flock`` on the directory itself (no extra file to
leave behind), non-blocking, so a second writer gets one line and exit 2 while the first runs.
The kernel drops the lock when the holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from ..errors import UsageError
from ..errors import short as _short

FILE = "file"
RECORDED = "recorded"
Layout = dict[str, Union[str, "Layout"]]
#: In a ``RECORDED`` folder: the names pointgan made there (a JSON list of entry names).
RECORD = "pointgan-wrote.json"
#: A marker file's name -> whether the file at that path is one pointgan wrote.
Markers = dict[str, Callable[[Path], bool]]

#: Name pattern of the temp files pointgan's writes leave when interrupted: ``mkstemp``'s eight
#: characters between the target's name and ``.tmp`` (``atomic``), or between its stem and
#: ``.tmp.SUFFIX`` (an animation, whose encoder wants the suffix last).
TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp(?P<ext>\.(?:gif|mp4))?$")


def own_temp(name: str, layout: Layout) -> bool:
    """Whether ``name`` is the temp file of a write of a file ``layout`` names (so pointgan's)."""
    m = TEMP_RE.match(name)
    return m is not None and _match(m["name"] + (m["ext"] or ""), layout) == FILE


def unused_path(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``... if it exists: default output names carry the time
    to the second, and two commands started in the same second must not meet."""
    out, n = base, 2
    while out.exists() or out.is_symlink():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


def finite_json(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None``: JSON has no NaN/Infinity, and
    files pointgan writes must parse with any strict JSON parser."""
    kind = type(obj)  # exact types first: a sweep cleans tens of thousands of summaries
    if kind in _UNCHANGED:
        return obj
    if kind is float or isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: v if type(v) in _UNCHANGED else finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [v if type(v) in _UNCHANGED else finite_json(v) for v in obj]
    return obj


_UNCHANGED = frozenset({str, int, bool, type(None)})  # what finite_json returns as it is


def danger(out: Path) -> str | None:
    """Why replacing ``out`` is never allowed (or None): a symlink, ``/``, the home directory,
    the working directory or one of its parents."""
    if out.is_symlink():
        return "is a symbolic link"
    real = out.resolve()
    if real == Path(real.anchor):
        return "is the filesystem root"
    try:
        if real == Path.home().resolve():
            return "is your home directory"
    except RuntimeError:  # no home directory known
        pass
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return None
    if real == cwd or real in cwd.parents:
        return "is the working directory or one of its parents"
    return None


def _match(name: str, layout: Layout) -> str | Layout | None:
    for pattern, kind in layout.items():
        if fnmatch.fnmatchcase(name, pattern):
            return kind
    return None


def foreign_entry(root: Path, layout: Layout) -> Path | None:
    """The first entry under ``root`` that ``layout`` does not account for (or None).

    Symbolic links are always foreign: pointgan never makes one, and following one could
    delete files outside the directory."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return root
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            return path
        if own_temp(entry.name, layout) and entry.is_file(follow_symlinks=False):
            continue
        kind = _match(entry.name, layout)
        if kind is None:
            return path
        if kind == FILE:
            if not entry.is_file(follow_symlinks=False):
                return path
        elif kind == RECORDED:
            if not entry.is_dir(follow_symlinks=False):
                return path
            inner = _unrecorded(path)
            if inner is not None:
                return inner
        else:
            if not entry.is_dir(follow_symlinks=False):
                return path
            inner = foreign_entry(path, kind)  # type: ignore[arg-type]
            if inner is not None:
                return inner
    return None


def recorded(folder: Path) -> set[str]:
    """The names ``folder``'s ``RECORD`` lists (empty when it has none or it is unreadable)."""
    f = Path(folder) / RECORD
    try:
        if f.is_symlink() or not f.is_file() or f.stat().st_size > 1 << 20:
            return set()
        names = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return set()
    if not isinstance(names, list):
        return set()
    return {n for n in names if isinstance(n, str) and n not in ("", ".", "..") and "/" not in n}


def listing(folder: Path) -> set[str]:
    """The entry names of ``folder`` (empty when it does not exist): ``record``'s ``before``."""
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def _unrecorded(folder: Path) -> Path | None:
    """The first entry of a ``RECORDED`` folder that its record does not list (or None)."""
    mine = recorded(folder)
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name == RECORD and entry.is_file(follow_symlinks=False):
            continue
        if entry.name not in mine:
            return Path(entry.path)
    return None


def _has_marker(root: Path, markers: Markers) -> bool:
    if any((root / m).is_file() and own(root / m) for m, own in markers.items()):
        return True
    if any((root / m).exists() for m in markers):
        return False  # a marker's name, but not a file pointgan wrote
    # A directory interrupted before its marker was written holds only empty folders / temps.
    for _dirpath, _dirs, files in os.walk(root):
        if any(not TEMP_RE.match(f) for f in files):
            return False
    return True


def check_replaceable(out: Path, layout: Layout, markers: Markers, what: str,
                      flag: str = "--out") -> None:
    """Raise UsageError unless ``out`` is absent, empty, or a ``what`` directory (one of
    ``markers`` present and verified as pointgan's) holding only entries of ``layout``.
    Touches nothing."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    reason = danger(out)
    if reason is not None:
        raise UsageError(f"{flag}: {_short(str(out))} {reason}; refusing to replace it")
    if not out.is_dir():
        raise UsageError(f"{flag}: {_short(str(out))} exists and is not a directory")
    foreign = foreign_entry(out, layout)
    if foreign is not None:
        rel = foreign.relative_to(out) if foreign != out else Path(".")
        raise UsageError(
            f"{flag}: {_short(str(out))} holds {_short(str(rel))}, which pointgan did not write; "
            f"refusing to replace it (choose another {flag} or remove it yourself)"
        )
    if not _has_marker(out, markers):
        raise UsageError(f"{flag}: {_short(str(out))} is not a pointgan {what} directory; "
                         "refusing to replace it")


def clear_owned(out: Path, layout: Layout) -> None:
    """Delete the entries of ``out`` that match ``layout`` (call ``check_replaceable`` first);
    ``out`` itself stays, so a lock held on it stays valid."""
    for entry in list(os.scandir(out)):
        path = Path(entry.path)
        if entry.is_symlink():
            continue
        if own_temp(entry.name, layout) and entry.is_file(follow_symlinks=False):
            path.unlink(missing_ok=True)
            continue
        kind = _match(entry.name, layout)
        if kind is None:
            continue
        if kind == FILE:
            if entry.is_file(follow_symlinks=False):
                path.unlink(missing_ok=True)
        elif entry.is_dir(follow_symlinks=False):
            if kind == RECORDED:
                _clear_recorded(path)
            else:
                clear_owned(path, kind)  # type: ignore[arg-type]
                path.rmdir()


def _clear_recorded(folder: Path) -> None:
    """Delete what ``folder``'s record lists, then the record, then the folder if empty."""
    for name in recorded(folder):
        p = folder / name
        if p.is_dir() and not p.is_symlink():
            _remove_tree(p)
        elif p.is_symlink() or p.exists():
            p.unlink(missing_ok=True)
    (folder / RECORD).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_tree(path: Path) -> None:
    """rmtree without following symlinks (they are unlinked, never entered)."""
    for entry in list(os.scandir(path)):
        p = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(p)
        else:
            p.unlink(missing_ok=True)
    path.rmdir()


def clean_temps(root: Path, layout: Layout, subdirs: tuple[str, ...] = ()) -> None:
    """Remove pointgan's stray temp files (``own_temp`` of ``layout``) in ``root`` and its
    ``subdirs``; anything else stays."""
    for sub in ("", *subdirs):
        d, inner = root / sub, layout if not sub else _match(sub, layout)
        if not isinstance(inner, dict) or not d.is_dir() or d.is_symlink():
            continue
        for entry in os.scandir(d):
            if own_temp(entry.name, inner) and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def refuse_symlinked(root: Path, names: tuple[str, ...], flag: str = "--out") -> None:
    """A symlinked subfolder would make pointgan write outside the directory: refuse it."""
    for name in names:
        if (root / name).is_symlink():
            raise UsageError(f"{flag}: {_short(str(root / name))} is a symbolic link; pointgan "
                             "writes only inside its own directory")


def check_unlocked(path: Path, flag: str = "--out") -> None:
    """UsageError now if another process holds ``path``'s lock (an early, clear refusal; the
    writer still takes the lock itself before writing)."""
    if Path(path).is_dir():
        with DirLock(path, flag):
            pass


class DirLock:
    """Exclusive, non-blocking ``flock`` on a directory, held while a command writes into it.

    ``with DirLock(path): ...``; a second holder gets UsageError (exit 2). Filesystems without
    flock support (some network mounts) run unlocked rather than not at all."""

    def __init__(self, path: Path, flag: str = "--out"):
        self.path = Path(path)
        self.flag = flag
        self.fd: int | None = None

    def acquire(self) -> DirLock:
        import fcntl

        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UsageError(
                    f"{self.flag}: {_short(str(self.path))} is in use by another pointgan "
                    "process; wait for it to finish (or stop it) and try again"
                ) from None
            return self  # ENOLCK / EOPNOTSUPP: no locking on this filesystem
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
