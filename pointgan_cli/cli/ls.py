"""``pointgan ls``: the runs and sweeps under a folder, one line each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console
from . import options as o


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

    Example: pointgan ls runs
    """
    from ..results.catalog import listing

    entries = listing(folder)
    if json_out:
        console.print_json([e.to_json() for e in entries])
        return
    rows = [[e.path, e.kind, e.label if e.kind != "unreadable" else e.reason, e.seeds or "-",
             "-" if e.steps is None else e.steps, e.status,
             "-" if e.distance is None else f"{e.distance:.3g}"] for e in entries]
    console.print_table(f"{len(entries)} runs and sweeps under {folder}",
                        ["path", "kind", "preset + overrides / groups", "seeds", "steps",
                         "class", "distance"], rows, fmt=fmt.value)
