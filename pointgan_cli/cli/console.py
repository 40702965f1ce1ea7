"""Terminal output rules, in one place.

Results go to stdout (``--json``: exactly one JSON document); progress, tables and logs go to
stderr. Colour and progress bars appear only when both stdout and stderr are terminals, so
scripts and pipes get plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


def interactive() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


def err_console() -> Console:
    """stderr console; plain (no colour, no markup effects) unless interactive."""
    live = interactive()
    return Console(stderr=True, no_color=not live, force_terminal=live or None, highlight=False)


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr, or None when disabled / not interactive."""
    if not (enabled and interactive()):
        yield None
        return
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=err_console(),
        transient=False,
    )
    with prog:
        prog.add_task(description, total=total, info="")
        yield prog


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[_fmt(v) for v in r])
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
