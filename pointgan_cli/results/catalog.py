"""What is in a folder of results: the runs and sweeps under it, each in one line (``ls``).

A directory is a *run* when ``rundir.is_run`` says so and a *sweep* when ``sweepdir.is_sweep``
does; the search stops at either (a sweep's members are part of its line, a run's
``diagnose/`` is not another run) and never enters hidden folders or the trackers' own
(``wandb``, ``mlruns``). Everything is read through ``rundir`` and ``sweepdir``: a directory
that cannot be read is listed as ``unreadable`` with the reason, never fatal, so one broken run
does not hide the others.

Each entry says what ran (the preset plus the fields that differ from it: ``overrides``) and
how it ended: a run's ``class`` from its ``summary.json`` (``converged``, ``orbiting``, ...;
older runs without one fall back to converged / not converged), ``unfinished`` while there is
no summary; a sweep's count of converged members and its classes.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..naming import override_words
from ..naming import overrides as spec_overrides
from ..spec import RunSpec
from ..store import rundir, sweepdir

#: How deep ``find`` looks below the folder it is given (``runs/<name>`` is depth 2 from ``.``).
MAX_DEPTH = 4
#: Folders never searched: trackers' stores and the parts of a run that are not runs.
SKIP = {"wandb", "mlruns", "node_modules", "__pycache__", rundir.CHECKPOINTS, rundir.DIAGNOSE}


@dataclass
class Entry:
    """One run or sweep as ``pointgan ls`` lists it."""

    path: str  # as found under the folder searched (relative to it)
    kind: str  # "run", "sweep" or "unreadable"
    label: str = ""  # preset + overrides (runs), groups (sweeps)
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: str = ""
    steps: int | None = None
    status: str = ""  # class of a run; "k/n converged" of a sweep; "unfinished"
    distance: float | None = None  # a run's final distance; a sweep's median over members
    classes: dict[str, int] = field(default_factory=dict)  # sweeps: members per class
    members: int | None = None
    converged: int | None = None
    reason: str | None = None  # why an entry is unreadable

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find(root: Path | str, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Every run and sweep directory under ``root`` (``root`` itself included), sorted by path.
    UsageError when ``root`` is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory")
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        if sweepdir.is_sweep(d) or rundir.is_run(d):
            found.append(d)
            return
        if depth >= max_depth:
            return
        try:
            subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        for p in subs:
            if not p.name.startswith(".") and p.name not in SKIP:
                walk(p, depth + 1)

    walk(root, 0)
    return sorted(found)


def overrides(spec: RunSpec, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's overrides (the fields that differ from the preset) without the steps, which
    ``ls`` shows in a column of their own: as its summary recorded them when it has one
    (``records.run_summary``), else ``naming.overrides`` of the spec (an unfinished run)."""
    recorded = (summary or {}).get("overrides")
    over = recorded if isinstance(recorded, dict) else spec_overrides(spec)
    return {k: v for k, v in over.items() if k != "steps"}


def label(preset: str, over: dict[str, Any]) -> str:
    """``baseline noise-scale=1.5 weight-decay=0.1``: the preset and its overrides as flags."""
    return " ".join([preset, override_words(over)]) if over else preset


def describe(path: Path, shown: str | None = None) -> Entry:
    """The ``ls`` entry of one run or sweep directory (``unreadable`` with the reason when it
    cannot be read)."""
    name = shown if shown is not None else str(path)
    try:
        if sweepdir.is_sweep(path):
            return _describe_sweep(path, name)
        return _describe_run(path, name)
    except UsageError as exc:
        return Entry(path=name, kind="unreadable", status="unreadable", reason=str(exc))


def listing(root: Path | str, max_depth: int = MAX_DEPTH) -> list[Entry]:
    """``describe`` for everything ``find`` finds, paths shown relative to ``root``."""
    root = Path(root)
    return [describe(p, _shown(p, root)) for p in find(root, max_depth)]


def run_class(summary: dict[str, Any] | None) -> str:
    """A run's class: ``summary.json``'s ``class``; for summaries written before there was one,
    ``converged`` / ``diverged`` / ``not_converged``; ``unfinished`` without a summary."""
    if summary is None:
        return "unfinished"
    if isinstance(summary.get("class"), str):
        return summary["class"]
    if summary.get("status") == "diverged":
        return "diverged"
    return "converged" if summary.get("converged") else "not_converged"


def run_distance(summary: dict[str, Any] | None) -> float | None:
    if not summary:
        return None
    value = summary.get("final_distance", summary.get("distance"))
    return float(value) if isinstance(value, (int, float)) else None


# -- internals ---------------------------------------------------------------------------------


def _describe_run(path: Path, name: str) -> Entry:
    run = rundir.load_run(path, need_metrics=False)
    over = overrides(run.spec, run.summary)
    return Entry(path=name, kind="run", label=label(run.spec.preset, over),
                 preset=run.spec.preset, overrides=over, seeds=str(run.spec.seed),
                 steps=run.spec.steps, status=run_class(run.summary),
                 distance=run_distance(run.summary))


def _describe_sweep(path: Path, name: str) -> Entry:
    from ..sweep.ranges import format_seeds

    index = sweepdir.read_index(path)
    specs = _specs(index.entries, path)
    groups = list(dict.fromkeys(e.group for e in index.entries))
    classes: dict[str, int] = {}
    dists = []
    for s in sweepdir.member_summaries(path, [e.id for e in index.entries]):
        cls = run_class(s)
        classes[cls] = classes.get(cls, 0) + 1
        if (d := run_distance(s)) is not None:
            dists.append(d)
    n, conv = len(index.entries), classes.get("converged", 0)
    finished = bool(sweepdir.read_summary(path))
    steps = sorted({s.steps for s in specs})
    shown_groups = ", ".join(groups[:3]) + (f", ... ({len(groups)} groups)"
                                            if len(groups) > 3 else "")
    return Entry(
        path=name, kind="sweep", label=shown_groups,
        preset=None, seeds=format_seeds(sorted({s.seed for s in specs})),
        steps=steps[0] if len(steps) == 1 else None,
        status=f"{conv}/{n} converged" + ("" if finished else " (unfinished)"),
        distance=statistics.median(dists) if dists else None, classes=classes,
        members=n, converged=conv,
    )


def _specs(entries: list[sweepdir.Entry], path: Path) -> list[RunSpec]:
    from pydantic import ValidationError

    try:
        return [RunSpec.model_validate(e.spec) for e in entries]
    except ValidationError:
        raise UsageError(f"{path}: a member's spec in {sweepdir.SWEEP_JSON} is corrupt") from None


def _shown(p: Path, root: Path) -> str:
    rel = os.path.relpath(p, root)
    return str(root / rel) if rel == "." else rel
