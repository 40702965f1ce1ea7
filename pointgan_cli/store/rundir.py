"""Run directories: layout, checkpoints, metrics, and ``load_run``.

Layout of one run::

    spec.json          resolved RunSpec + the exact command that re-runs it (written first)
    metrics.jsonl      one JSON row per snapshot step (append-only)
    checkpoints/       step-000500.npz ... and last.npz (``ckptfile``: npz, no pickle)
    summary.json       final numbers (written last; its presence means the run finished)

Every file is written atomically (``atomic``: temp file in the same directory, fsync,
``os.replace``), so a crash or ``kill -9`` leaves either the old file or the new one, never half
of one. Commands that only read runs (animate, diagnose) go through ``load_run``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import UsageError, short
from ..spec import RunSpec
from . import checks, ckptfile, fsguard
from .atomic import atomic_write_json, atomic_write_text, dumps

SPEC = "spec.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
LAST = "last.npz"
DIAGNOSE = "diagnose"  # what the diagnose commands write
REPORT = "report.html"  # ``pointgan report``'s page (a sweep's has the same name)
ANIMATION = "animation"  # animate's default output, with the format as suffix
WANDB = "wandb"  # the W&B folder ``pointgan log --tracker wandb`` writes beside a run

#: What the commands that read a run write beside it (animate, diagnose, report, log to W&B):
#: all a sweep member's folder ``SWEEP/members/ID`` may hold (its results are in the sweep).
DERIVED_LAYOUT: fsguard.Layout = {
    f"{ANIMATION}.gif": fsguard.FILE, f"{ANIMATION}.mp4": fsguard.FILE,
    f"{ANIMATION}.png": fsguard.FILE, "frame-[0-9][0-9][0-9][0-9][0-9][0-9].png": fsguard.FILE,
    DIAGNOSE: {"*.png": fsguard.FILE, "*.json": fsguard.FILE}, REPORT: fsguard.FILE,
    WANDB: fsguard.RECORDED,  # only the W&B runs ``pointgan log`` recorded making there
}
#: Everything pointgan writes into a run directory (``train`` and the commands that add files,
#: see docs/run-directory.md). ``--force`` deletes these and refuses a directory with anything
#: else in it (``fsguard``); a ``spec.json`` pointgan wrote (checked by content) marks a run.
RUN_LAYOUT: fsguard.Layout = {
    SPEC: fsguard.FILE, METRICS: fsguard.FILE, SUMMARY: fsguard.FILE,
    CHECKPOINTS: {"step-[0-9][0-9][0-9][0-9][0-9][0-9].npz": fsguard.FILE, LAST: fsguard.FILE},
    **DERIVED_LAYOUT,
}
RUN_MARKERS: fsguard.Markers = {SPEC: checks.own_spec}


# -- checkpoint writes -------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _torch_version() -> str:
    """torch's version from its metadata: reading it imports nothing (the fused engine runs
    without torch), but it scans the installed distributions, so once per process (a sweep
    asks once per member)."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def versions() -> dict[str, str]:
    """The versions a summary records."""
    from .. import __version__

    torch_version = _torch_version()
    return {
        "pointgan": __version__,
        "torch": torch_version,
        "python": platform.python_version(),
    }


# -- preparing a directory ---------------------------------------------------------------------


def is_run(path: Path | str) -> bool:
    """Whether ``path`` is a run directory (``spec.json`` is written before anything else)."""
    return (Path(path) / SPEC).is_file()


def is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def check_target_path(out: Path, force: bool, resume: bool) -> None:
    """The checks every output directory shares (runs and sweeps): the flags agree and ``out``
    can be a directory."""
    if force and resume:
        raise UsageError("--force and --resume cannot be used together")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out: {short(str(parent))} is not a directory")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {short(str(out))} exists and is not a directory")
    fsguard.check_unlocked(out)


def check_target(out: Path, force: bool, resume: bool) -> None:
    """Refuse to touch an existing run unless asked; raises UsageError before anything is made.

    ``force`` replaces only a run directory pointgan wrote (``fsguard.check_replaceable``)."""
    check_target_path(out, force, resume)
    if resume:
        if not out.is_dir():
            raise UsageError(f"--resume: {short(str(out))} does not exist")
        if latest_checkpoint(out) is None:
            raise UsageError(f"--resume: no complete checkpoint in {out / CHECKPOINTS}")
    elif force:
        fsguard.check_replaceable(out, RUN_LAYOUT, RUN_MARKERS, "run")
    elif is_nonempty_dir(out):
        raise UsageError(_not_empty(out))


def _not_empty(out: Path) -> str:
    """The refusal of a non-empty ``--out``: ``--resume`` only where there is a checkpoint."""
    resume = " or --resume" if latest_checkpoint(out) is not None else ""
    return f"--out: {short(str(out))} is not empty (use --force to replace it{resume})"


def prepare_fresh(out: Path, force: bool = False) -> None:
    """Make ``out`` an empty run directory: refuses a non-empty one unless ``force``, and then
    deletes only what pointgan wrote (the caller holds ``out``'s lock)."""
    out.mkdir(parents=True, exist_ok=True)
    if is_nonempty_dir(out):
        if not force:
            raise UsageError(_not_empty(out))
        fsguard.check_replaceable(out, RUN_LAYOUT, RUN_MARKERS, "run")
        fsguard.clear_owned(out, RUN_LAYOUT)
    (out / CHECKPOINTS).mkdir()


def prepare_resume(out: Path) -> None:
    """Before continuing a run: no symlinked subfolder to write through, no stray temp files."""
    fsguard.refuse_symlinked(out, (CHECKPOINTS, DIAGNOSE))
    fsguard.clean_temps(out, RUN_LAYOUT, (CHECKPOINTS,))


def spec_document(spec: RunSpec, command: str) -> dict[str, Any]:
    return {
        "schema_version": spec.schema_version,
        "command": command,
        "spec": spec.model_dump(mode="json"),
        "versions": versions(),
    }


def write_spec(out: Path, spec: RunSpec, command: str) -> None:
    atomic_write_json(out / SPEC, spec_document(spec, command))


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}.npz"


# -- metrics -----------------------------------------------------------------------------------


class MetricsWriter:
    """Append-only ``metrics.jsonl``: each row is written whole, flushed, and fsynced at
    checkpoints; on resume the file is cut back to the checkpoint's step (atomically)."""

    def __init__(self, out: Path):
        self.path = out / METRICS
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(dumps(row) + "\n")

    def sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        try:
            self.sync()
        finally:
            self._f.close()

    def abandon(self) -> None:
        """Close after a failure without raising again (a full disk fails every flush)."""
        with contextlib.suppress(OSError):
            self._f.close()


def write_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    """``metrics.jsonl`` with exactly ``rows`` (atomically; an exported sweep member)."""
    atomic_write_text(out / METRICS, "".join(dumps(r) + "\n" for r in rows))


def truncate_metrics(out: Path, upto_step: int) -> None:
    """Keep only the complete rows with ``step <= upto_step`` (rows after a checkpoint belong
    to an interrupted future that resume will recompute; a torn last row is dropped, a corrupt
    row before it is an error naming the line)."""
    path = out / METRICS
    rows = read_metrics(path, strict=False) if path.exists() else []
    text = "".join(dumps(r) + "\n" for r in rows if r["step"] <= upto_step)
    atomic_write_text(path, text)


def read_metrics(path: Path, strict: bool = True) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``. ``strict=False`` drops a torn *last* line (what a killed
    or out-of-space writer leaves); a bad line anywhere else is always an error naming it."""
    checks.regular(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    lines = data.split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows: list[dict[str, Any]] = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        why = None
        try:
            row = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
            why = "is not valid JSON"
        else:
            why = ("is not a metrics row (an object with an integer step)"
                   if not isinstance(row, dict) or type(row.get("step")) is not int
                   else checks.metrics_row(row))
            if why is None and rows and row["step"] <= rows[-1]["step"]:
                why = f"has step {row['step']}, not after the previous row's {rows[-1]['step']}"
        if why is not None:
            if not strict and i == last:
                break  # a torn last line from a killed writer
            raise UsageError(f"{path}: line {i + 1} {why}")
        rows.append(row)
    return rows


def latest_checkpoint(out: Path) -> Path | None:
    """The checkpoint with the highest step that loads (``last.npz`` preferred on ties)."""
    ckdir = out / CHECKPOINTS
    if not ckdir.is_dir():
        return None
    candidates = sorted(ckdir.glob("step-*.npz"), reverse=True)
    if (ckdir / LAST).exists():
        candidates.insert(0, ckdir / LAST)
    best: tuple[int, Path] | None = None
    for p in candidates:
        try:
            step = int(ckptfile.load(p)["step"])  # checks the zip first: no FIFO, no bomb
        except Exception:  # noqa: BLE001 - incomplete or corrupt: not a candidate
            continue
        if best is None or step > best[0]:
            best = (step, p)
    return None if best is None else best[1]


def read_summary(path: Path) -> dict[str, Any] | None:
    """A run's ``summary.json``, or None while it has not finished (or cannot be read)."""
    f = Path(path) / SUMMARY
    try:
        checks.regular(f)
        return checks.summary(json.loads(f.read_text(encoding="utf-8")), f)
    except (OSError, ValueError, RecursionError, UsageError):  # JSONDecodeError too
        return None


def diagnose_dir(run: Path) -> Path:
    """Where the diagnose commands write their files for ``run`` (never through a symlinked
    ``diagnose/``: pointgan writes only inside the run directory)."""
    fsguard.refuse_symlinked(Path(run), (DIAGNOSE,), flag="RUN_DIR")
    return Path(run) / DIAGNOSE


def animation_path(run: Path, fmt: str) -> Path:
    """``animate``'s default output for ``run`` in format ``fmt`` (gif, mp4, png)."""
    return Path(run) / f"{ANIMATION}.{fmt}"


# -- reading a run -----------------------------------------------------------------------------


@dataclass
class Run:
    """A run directory as the read-only commands see it."""

    path: Path
    spec: RunSpec
    command: str
    metrics: list[dict[str, Any]]
    summary: dict[str, Any] | None

    @property
    def steps(self) -> list[int]:
        return [int(r["step"]) for r in self.metrics]

    def row_at(self, step: int | None) -> dict[str, Any]:
        """The metrics row at ``step`` (default: the last); UsageError if there is none."""
        if step is None:
            return self.metrics[-1]
        for r in self.metrics:
            if int(r["step"]) == step:
                return r
        last = self.metrics[-1]["step"]
        if step > last or step < 0:
            raise UsageError(f"--step: {step} is outside this run (0..{last})")
        raise UsageError(
            f"--step: no snapshot at step {step} (snapshots every {self.spec.snapshot_every})"
        )


def load_spec(path: Path) -> tuple[RunSpec, str]:
    """``spec.json`` of a run directory: (spec, command); every problem is one UsageError."""
    spec_path = Path(path) / SPEC
    if not spec_path.is_file():
        raise UsageError(f"{path} is not a pointgan run directory (no {SPEC})")
    try:
        doc = json.loads(spec_path.read_bytes().decode("utf-8"))
        spec = RunSpec.model_validate(doc["spec"])
        command = str(doc.get("command", ""))
    except (ValueError, KeyError, TypeError, ValidationError, RecursionError):
        raise UsageError(f"{spec_path} is corrupt") from None
    return spec, command


def load_run(path: Path, need_metrics: bool = True) -> Run:
    """Read a run directory; every problem becomes one UsageError line."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"run directory not found: {path}")
    spec, command = load_spec(path)
    metrics: list[dict[str, Any]] = []
    mpath = path / METRICS
    if mpath.is_file():
        metrics = read_metrics(mpath)
    if need_metrics and not metrics:
        raise UsageError(f"{path} has no metrics yet ({METRICS} is missing or empty)")
    summary = None
    if (path / SUMMARY).is_file():  # is_file: a regular file (never a FIFO to wait on)
        try:
            summary = json.loads((path / SUMMARY).read_bytes().decode("utf-8"))
        except (ValueError, RecursionError):
            raise UsageError(f"{path / SUMMARY} is corrupt") from None
        checks.summary(summary, path / SUMMARY)
    return Run(path=path, spec=spec, command=command, metrics=metrics, summary=summary)
