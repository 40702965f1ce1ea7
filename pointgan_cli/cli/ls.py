"""``pointgan ls``: the runs and sweeps under a folder, one line each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console
from . import options as o
from .working import working


def ls(
    folder: Annotated[
        Path,
        typer.Argument(help="Folder to search (itself and up to 4 levels below it).",
                       show_default=False),
    ] = Path("."),
    fmt: o.Format = o.TableFormat.table,
    json_out: o.Json = False,
) -> None:
    """List the runs and sweeps under FOLDER [default: the current folder]: what ran (preset
    and the flags that differ from it, seeds, steps) and how it ended (a run's class and
    final distance |w| + |b - real|; a sweep's converged members and median distance).

    --json and --format tsv/csv give runs and sweeps the same fields: status (finished,
    unfinished or unreadable), class (a finished run's class; null for a sweep), classes (runs
    per class), members and converged (counts of runs: a run is 1 member, converged 0 or 1),
    overrides (a sweep's: the ones all its members share), distance (a run's final one; a
    sweep's median).

    Example: pointgan ls runs
    """
    from ..results.catalog import listing

    with working("ls"):
        entries = listing(folder)
    if json_out:
        console.print_json([e.to_json() for e in entries])
        return
    rows = [[e.path, e.kind, e.label if e.kind != "unreadable" else e.reason, e.seeds or "-",
             "-" if e.steps is None else e.steps, e.outcome,
             "-" if e.distance is None else f"{e.distance:.3g}"] for e in entries]
    raw_cols = ["path", "kind", "label", "preset", "seeds", "steps", "status", "class",
                "members", "converged", "distance", "overrides", "reason"]
    raw = [[e.to_json()[c] for c in raw_cols] for e in entries]
    console.print_table(f"{len(entries)} runs and sweeps under {folder}",
                        ["path", "kind", "preset + overrides / groups", "seeds", "steps",
                         "class", "distance"], rows, fmt=fmt.value, raw=(raw_cols, raw))
