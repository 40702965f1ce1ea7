"""Atomic writes: a file is complete or absent, never half written.

Why: a crash, a full disk or ``kill -9`` in the middle of a write must leave the old file or the
new one. Every file pointgan writes goes through a temp file in the same directory
(``.NAME.XXXXXXXX.tmp``, which ``fsguard``'s layouts allow), is fsynced, then renamed over the
target. JSON is strict (``finite_json``, ``dumps``: NaN/Infinity, which JSON has not, become
null in anything pointgan writes or prints as JSON).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

_UMASK = os.umask(0)
os.umask(_UMASK)


def publish(tmp: str | Path, path: Path) -> None:
    """Give the temp file normal permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temp file in the same directory, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (same-directory temp file, fsync, rename)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON text (non-finite floats become null)."""
    return json.dumps(finite_json(obj), indent=indent, allow_nan=False)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, dumps(obj, indent=2) + "\n")
