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


def print_table(title: str, columns: list[str], rows: list[list[Any]], fmt: str = "table",
                caption: str | None = None) -> None:
    """A result table on stdout: boxes on a terminal, aligned plain text elsewhere (full
    width, one line per row), or ``fmt="tsv"``: a header line and tab-separated rows."""
    cells = [[_fmt(v) for v in r] for r in rows]
    if fmt == "tsv":
        for line in [list(columns), *cells]:
            sys.stdout.write("\t".join(" ".join(c.split()) for c in line) + "\n")
    elif sys.stdout.isatty():
        from rich.markup import escape

        t = Table(title=escape(title), caption=escape(caption) if caption else None)
        for c in columns:
            t.add_column(escape(c))
        for r in cells:
            t.add_row(*[escape(c) for c in r])
        Console(highlight=False).print(t)
    else:
        lines = [list(columns), *[[" ".join(c.splitlines()) for c in r] for r in cells]]
        widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
        text = [title] if title else []
        text += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
        if caption:
            text.append(caption)
        sys.stdout.write("\n".join(text) + "\n")
    sys.stdout.flush()
