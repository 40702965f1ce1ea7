"""``pointgan report``: one self-contained HTML page for a run or a sweep."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import console
from . import options as o
from .working import working


def report(
    path: Annotated[Path, typer.Argument(help="Run directory or sweep directory.",
                                         show_default=False)],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", dir_okay=False, show_default=False,
                     help="Report file [default: PATH/report.html]."),
    ] = None,
    json_out: o.Json = False,
) -> None:
    """Write one self-contained report.html for a run or a sweep: the command that made it,
    the results table, the charts and the animation inline, and the class and diagnosis of
    every run that did not converge. Opens in any browser, offline; nothing else is changed.
    With JavaScript it is an explorer: sort the table, click a group or a map cell for its
    seeds' curves, a seed for its run over a slider; links like report.html#group=fixed&seed=3
    open a view.

    Example: pointgan report runs/sweep-20260101-120000
    """
    from ..report import write

    with working("report"):
        info = write(path, out)
    if json_out:
        console.print_json(info)
        return
    sys.stdout.write(f"{info['report']}\n")
