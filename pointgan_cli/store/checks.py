"""What a reader accepts: every file pointgan reads back is checked before it is used.

Why: a run or sweep directory may hold anything (a crafted file, a copy gone wrong, a FIFO),
and a reader that trusts it fails far from the cause, with a traceback, a hang or gigabytes
of memory. These checks say in one line which file is wrong: only regular files are opened
(``regular``), a zip (npz, a torch checkpoint) is refused before any member is inflated when
its declared sizes are implausible (``zip_sizes``) or an array's header claims more than its
member holds (``npy_array``), and JSON documents must have the types their readers use
(``summary``, ``sweep_summary``, ``metrics_row``).
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..errors import short as _short

#: The largest magnitude a recorded number may have: parameters are float32 and every other
#: number is derived from them, so a larger value is not one pointgan wrote.
MAX_VALUE = 1e39
#: A zip member may inflate to at most this many times its compressed size (plus ``SLACK``):
#: the batch store's arrays compress a few times, a zlib bomb a thousand times.
MAX_RATIO = 200
SLACK = 16 << 20


def bad(path: Path | str, why: str) -> UsageError:
    return UsageError(f"{_short(str(path))} is corrupt ({why})")


def regular(path: Path | str) -> None:
    """UsageError unless ``path`` is a regular file: a FIFO or device would block or never
    end a read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(f"cannot read {_short(str(path))}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"{_short(str(path))} is not a regular file")


def zip_sizes(path: Path | str, what: str = "") -> dict[str, int]:
    """Each member's declared size of the zip at ``path`` (a regular file), refused when one
    would inflate implausibly far (a zip bomb) or the file is not a zip (``what``: the kind
    of file, for the message)."""
    regular(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UsageError(f"cannot read {what}{path}: {type(exc).__name__}") from None
    sizes = {}
    for info in infos:
        if info.file_size > SLACK + MAX_RATIO * info.compress_size:
            raise bad(path, f"{info.filename} would inflate from {info.compress_size} to "
                            f"{info.file_size} bytes")
        sizes[info.filename] = info.file_size
    return sizes


def npy_array(path: Path | str, zf: zipfile.ZipFile, name: str) -> np.ndarray:
    """The array ``name`` (``.npy`` member) of an npz opened as ``zf``: its header is read
    first, and an object dtype, or a shape needing more bytes than the member holds, is
    refused before anything is allocated."""
    info = zf.getinfo(name)
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if dtype.hasobject:
            raise bad(path, f"{name} holds Python objects")
        count = math.prod(shape)
        if count * dtype.itemsize > info.file_size:
            raise bad(path, f"{name} claims shape {shape}, more than it holds")
        data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise bad(path, f"{name} is truncated")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.copy()


def npz_arrays(path: Path | str, what: str = "") -> dict[str, np.ndarray]:
    """Every array of the npz at ``path``, read as ``zip_sizes`` and ``npy_array`` allow: no
    FIFO waited on, no bomb inflated, no header's claim allocated."""
    names = [n for n in zip_sizes(path, what) if n.endswith(".npy")]
    try:
        with zipfile.ZipFile(path) as zf:
            return {n[:-4]: npy_array(path, zf, n) for n in names}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        raise bad(path, type(exc).__name__) from None


# -- JSON documents --------------------------------------------------------------------------


def own_spec(path: Path) -> bool:
    """Whether ``path`` (a run's ``spec.json``) is one pointgan wrote: ``rundir.spec_document``'s
    four keys, pointgan's version record and a ``pointgan`` command, not merely a file of
    that name (what ``--force`` takes as a run directory's mark)."""
    import json

    try:
        if path.stat().st_size > 1 << 20:
            return False
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return (isinstance(doc, dict)
            and set(doc) == {"schema_version", "command", "spec", "versions"}
            and isinstance(doc["versions"], dict)
            and isinstance(doc["versions"].get("pointgan"), str)
            and isinstance(doc["command"], str) and doc["command"].startswith("pointgan ")
            and isinstance(doc["spec"], dict) and "seed" in doc["spec"]
            and doc["spec"].get("schema_version") == doc["schema_version"])


_NUMBER_FIELDS = ("w", "b", "theta", "psi", "distance", "tolerance", "final_distance",
                  "window_max_distance", "time_avg_distance", "bias_b", "bias_psi",
                  "wall_seconds")
_INT_FIELDS = ("steps", "seed", "diverged_step")
_TEXT_FIELDS = ("status", "class", "preset")


def _number(v: Any) -> bool:
    return v is None or (type(v) in (int, float) and math.isfinite(v) and abs(v) <= MAX_VALUE)


def summary(doc: Any, path: Path | str) -> dict[str, Any]:
    """A run's ``summary.json`` document with the types its readers use, else UsageError."""
    if not isinstance(doc, dict):
        raise bad(path, "not a JSON object")
    for k in _NUMBER_FIELDS:
        if k in doc and not _number(doc[k]):
            raise bad(path, f"{k} is {_short(doc[k], 40)}, not a number")
    for k in _INT_FIELDS:
        if k in doc and not (doc[k] is None or type(doc[k]) is int):
            raise bad(path, f"{k} is {_short(doc[k], 40)}, not an integer")
    for k in _TEXT_FIELDS:
        if k in doc and not (doc[k] is None or isinstance(doc[k], str)):
            raise bad(path, f"{k} is {_short(doc[k], 40)}, not text")
    if "converged" in doc and not isinstance(doc["converged"], bool | None):
        raise bad(path, "converged is not true or false")
    for k in ("overrides", "verdict", "versions"):
        if k in doc and not isinstance(doc[k], dict | None):
            raise bad(path, f"{k} is not an object")
    return doc


_GROUP_NUMBERS = ("success_rate", "wilson_low", "wilson_high", "mcnemar_p", "mcnemar_p_holm",
                  "median_final_distance", "median_window_max_distance", "mean_bias_b",
                  "w_mean", "w_std", "b_mean", "b_std")


def sweep_summary(doc: Any, path: Path | str) -> dict[str, Any]:
    """A sweep's ``summary.json`` with the types its readers use, else UsageError."""
    if not isinstance(doc, dict):
        raise bad(path, "not a JSON object")
    for k in ("n", "converged"):
        if type(doc.get(k)) is not int:
            raise bad(path, f"{k} is {_short(doc.get(k), 40)}, not an integer")
    groups = doc.get("groups")
    if not isinstance(groups, list):
        raise bad(path, "groups is not a list")
    for i, g in enumerate(groups):
        if not isinstance(g, dict) or not isinstance(g.get("group"), str):
            raise bad(path, f"groups[{i}] is not a group")
        for k in ("n", "converged", "diverged"):
            if k in g and type(g[k]) is not int:
                raise bad(path, f"groups[{i}].{k} is not an integer")
        if "n" not in g or "converged" not in g:
            raise bad(path, f"groups[{i}] lacks n or converged")
        for k in _GROUP_NUMBERS:
            if k in g and not _number(g[k]):
                raise bad(path, f"groups[{i}].{k} is {_short(g[k], 40)}, not a number")
        for k in ("members", "failed"):
            if k in g and not (isinstance(g[k], list) and all(isinstance(m, str) for m in g[k])):
                raise bad(path, f"groups[{i}].{k} is not a list of member ids")
        for k in ("classes", "paired"):
            if k in g and not isinstance(g[k], dict | None):
                raise bad(path, f"groups[{i}].{k} is not an object")
        if not _tolerance_rows(g.get("success_by_tolerance")):
            raise bad(path, f"groups[{i}].success_by_tolerance is not a list of "
                            "{tol, converged, n} rows")
    ranking = doc.get("ranking", [])
    if not isinstance(ranking, list) or not all(isinstance(r, dict) for r in ranking):
        raise bad(path, "ranking is not a list of objects")
    return doc


def snapshots(path: Path | str, steps: list[int], params: Any,
              members: int | None = None) -> tuple[list[int], Any]:
    """A batch's metrics, ``(steps, params)`` as given: one snapshot (S, M, P) per step, steps
    increasing from 0 up, ``members`` rows each; else one UsageError line (a member's rows
    would not line up, and an exported run would be one that ``animate`` refuses)."""
    if (np.ndim(params) != 3 or len(params) != len(steps)
            or (members is not None and params.shape[1] != members)
            or any(b <= a for a, b in zip(steps, steps[1:])) or (steps and steps[0] < 0)):
        raise bad(path, "its steps and stored snapshots do not agree")
    return steps, params


def _tolerance_rows(rows: Any) -> bool:
    """A group's ``success_by_tolerance`` (absent, or rows of a number and two counts)."""
    return rows is None or (isinstance(rows, list) and all(
        isinstance(r, dict) and _number(r.get("tol")) and r.get("tol") is not None
        and type(r.get("converged")) is int and type(r.get("n")) is int for r in rows))


def metrics_row(row: dict[str, Any]) -> str | None:
    """Why a metrics row (an object with an integer step) cannot be used, or None: every
    other value must be a number of float32 range, null, or NaN (how a run that diverged is
    recorded by other writers: pointgan writes null)."""
    if row["step"] < 0:
        return "has a negative step"
    for k, v in row.items():
        if k != "step" and not (_number(v) or (type(v) is float and math.isnan(v))):
            return f"has {_short(k, 40)} = {_short(v, 40)}, not a number pointgan records"
    return None


def stacked_state(path: Path | str, stacked: dict, reference: dict, steps: int) -> None:
    """A batch's stored training state against ``reference`` (what its trainer's own
    ``stacked_state()`` holds for the members ``sweep.json`` lists): the same tensors with the
    same shapes and dtypes, a step within the run, finite parameters for every member still
    alive and finite last good values. UsageError naming the file otherwise."""
    def host(v: Any) -> Any:  # torch tensors (the torch engine) as numpy arrays
        return v.detach().cpu().numpy() if hasattr(v, "detach") else v

    step = stacked.get("step")
    if type(step) is not int or not 0 <= step <= steps:
        raise bad(path, f"step {_short(step, 40)} is not within 0..{steps}")

    def walk(got: Any, want: Any, key: str) -> None:
        if isinstance(want, dict):
            if not isinstance(got, dict):
                raise bad(path, f"{key} is not a group of arrays")
            for k, v in want.items():
                if k not in got:
                    raise bad(path, f"{key}{k} is missing")
                walk(got[k], v, f"{key}{k}/")
        elif isinstance(host(want), np.ndarray):
            got, want = host(got), host(want)
            if (not isinstance(got, np.ndarray) or got.shape != want.shape
                    or got.dtype != want.dtype):
                shape = tuple(got.shape) if isinstance(got, np.ndarray) else _short(got, 40)
                raise bad(path, f"{key.rstrip('/')} has shape {shape}, not "
                                f"{tuple(want.shape)} {want.dtype}")
            if got.dtype.kind == "f":
                alive = host(stacked.get("alive"))
                rows = got if key.startswith(("last_good", "optim")) or not isinstance(
                    alive, np.ndarray) or alive.shape != got.shape[:1] else got[alive.astype(bool)]
                if not bool(np.isfinite(rows).all()):
                    raise bad(path, f"{key.rstrip('/')} is not finite for a live member")

    walk(stacked, {k: v for k, v in reference.items() if k not in ("step", "format")}, "")
