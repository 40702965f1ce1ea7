"""What is in a folder of results: the runs and sweeps under it, each in one line (``ls``).

A directory is a *run* when ``rundir.is_run`` says so and a *sweep* when ``sweepdir.is_sweep``
does; the search stops at either (a sweep's members are part of its line, a run's
``diagnose/`` is not another run) and never enters hidden folders or the trackers' own
(``wandb``, ``mlruns``). Everything is read through ``rundir`` and ``sweepdir``: a directory
that cannot be read is listed as ``unreadable`` with the reason, never fatal, so one broken run
does not hide the others.

Each entry says what ran (the preset plus the fields that differ from it: ``overrides``; for a
sweep, the overrides every member shares, so a sweep made with ``--lr-d 0.003`` is told from
the default one) and how it ended. Runs and sweeps have the same fields, of the same types
(``ls --json``): ``status`` is ``finished``, ``unfinished`` or ``unreadable``; ``class`` is a
run's class from its ``summary.json`` (``converged``, ``orbiting``, ...; older runs without one
fall back to converged / not_converged), None for a sweep and an unfinished run; ``classes``
counts runs per class and ``converged``/``members`` count runs (a run is one member, converged
is 0 or 1; a sweep counts its finished members' classes).
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
from ..store.sweepdir import SweepDir
from . import progress

#: How deep ``find`` looks below the folder it is given (``runs/<name>`` is depth 2 from ``.``).
MAX_DEPTH = 4
#: Folders never searched: trackers' stores and the parts of a run that are not runs.
SKIP = {"wandb", "mlruns", "node_modules", "__pycache__", rundir.CHECKPOINTS, rundir.DIAGNOSE}


@dataclass
class Entry:
    """One run or sweep as ``pointgan ls`` lists it."""

    path: str  # as found under the folder searched (relative to it)
    kind: str  # "run", "sweep" or "unreadable"
    label: str = ""  # preset + overrides (runs), groups + shared overrides (sweeps)
    preset: str | None = None  # None for a sweep of several presets
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: str = ""
    steps: int | None = None  # None for a sweep of several lengths
    status: str = "finished"  # "finished", "unfinished" or "unreadable"
    cls: str | None = None  # a finished run's class; None for a sweep
    distance: float | None = None  # a run's final distance; a sweep's median over members
    classes: dict[str, int] = field(default_factory=dict)  # finished runs per class
    members: int | None = None  # runs: 1 for a run; None when unreadable
    converged: int | None = None  # converged runs (0 or 1 for a run); None when unreadable
    reason: str | None = None  # why an entry is unreadable

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["class"] = doc.pop("cls")
        return {k: doc[k] for k in JSON_FIELDS}

    @property
    def outcome(self) -> str:
        """The table's "class" cell: a run's class, a sweep's "k/n converged"."""
        if self.kind == "sweep":
            done = "" if self.status == "finished" else " (unfinished)"
            return f"{self.converged}/{self.members} converged{done}"
        return self.cls or self.status


#: ``ls --json``'s fields, in order, the same for runs, sweeps and unreadable entries.
JSON_FIELDS = ("path", "kind", "label", "preset", "overrides", "seeds", "steps", "status",
               "class", "distance", "classes", "members", "converged", "reason")


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
    found = find(root, max_depth)
    what = progress.count(len(found), "run or sweep", "read", "runs and sweeps")
    return [describe(p, _shown(p, root)) for p in progress.each(found, what)]


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
    cls = run_class(run.summary)
    finished = run.summary is not None
    return Entry(path=name, kind="run", label=label(run.spec.preset, over),
                 preset=run.spec.preset, overrides=over, seeds=str(run.spec.seed),
                 steps=run.spec.steps, status="finished" if finished else "unfinished",
                 cls=cls if finished else None, distance=run_distance(run.summary),
                 classes={cls: 1} if finished else {}, members=1,
                 converged=int(cls == "converged"))


def _describe_sweep(path: Path, name: str) -> Entry:
    from ..sweep.ranges import format_seeds

    sweep = SweepDir.open(path)
    index = sweep.index
    specs = _specs(index.entries, path)
    groups = list(dict.fromkeys(e.group for e in index.entries))
    classes: dict[str, int] = {}
    dists = []
    for s in sweep.members.summaries(sweep.ids):
        if s is None:
            continue  # not finished: no class yet
        cls = run_class(s)
        classes[cls] = classes.get(cls, 0) + 1
        if (d := run_distance(s)) is not None:
            dists.append(d)
    n, conv = len(index.entries), classes.get("converged", 0)
    finished = bool(sweep.summary())
    steps = sorted({s.steps for s in specs})
    shown_groups = ", ".join(groups[:3]) + (f", ... ({len(groups)} groups)"
                                            if len(groups) > 3 else "")
    shared = shared_overrides(specs)
    presets = sorted({s.preset for s in specs})
    shown = f"{shown_groups} {override_words(shared)}" if shared else shown_groups
    return Entry(
        path=name, kind="sweep", label=shown,
        preset=presets[0] if len(presets) == 1 else None, overrides=shared,
        seeds=format_seeds(sorted({s.seed for s in specs})),
        steps=steps[0] if len(steps) == 1 else None,
        status="finished" if finished else "unfinished",
        distance=statistics.median(dists) if dists else None, classes=classes,
        members=n, converged=conv,
    )


def shared_overrides(specs: list[RunSpec]) -> dict[str, Any]:
    """The overrides (``overrides``: fields that differ from the member's preset) that every
    member has, with the same value: what the sweep's command set for all of it (a grid axis
    or a per-method setting varies, so it is not here)."""
    if not specs:
        return {}
    each = [overrides(s) for s in specs]
    return {k: v for k, v in each[0].items() if all(o.get(k, _MISSING) == v for o in each[1:])}


_MISSING = object()


def _specs(entries: list[sweepdir.Entry], path: Path) -> list[RunSpec]:
    from pydantic import ValidationError

    try:
        return [RunSpec.model_validate(e.spec) for e in entries]
    except ValidationError:
        raise UsageError(f"{path}: a member's spec in {sweepdir.SWEEP_JSON} is corrupt") from None


def _shown(p: Path, root: Path) -> str:
    rel = os.path.relpath(p, root)
    return str(root / rel) if rel == "." else rel
