"""Terminal output rules, in one place.

Results (tables, summaries, ``--json``'s one JSON document) go to stdout; progress, notes and
logs go to stderr. On a terminal, tables have boxes and progress is a live bar. Off a terminal
(a pipe, a file, nohup, Slurm) tables are plain text at their full width, never wrapped or cut
(``--format tsv``/``csv``: the numbers themselves, see ``write_delimited``), and progress of a
long run (one still working after 5 s) is one plain line on stderr every 10% of the work or
every 30 s, whichever comes first: a sweep under nohup or Slurm shows how far it got, a short
run prints nothing. Rich loads only when it draws something.
"""

from __future__ import annotations

import csv
import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

#: Off a terminal: progress lines start once the work has run this many seconds, then come at
#: least every HEARTBEAT_S seconds and every STEP_SHARE of the work.
LONG_S = 5.0
HEARTBEAT_S = 30.0
STEP_SHARE = 0.1


def interactive() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


def err_console() -> Console:
    """stderr console; plain (no colour, no markup effects) unless interactive."""
    from rich.console import Console

    live = interactive()
    return Console(stderr=True, no_color=not live, force_terminal=live or None, highlight=False)


def note(text: str) -> None:
    """One plain line of log on stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    from ..store.fsguard import finite_json  # strict JSON: NaN/Infinity become null

    sys.stdout.write(json.dumps(finite_json(obj), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


#: ``--format`` values that print data for a program rather than a reader.
MACHINE = ("tsv", "csv")

Table = tuple[Sequence[str], Sequence[Sequence[Any]]]


def machine(fmt: Any) -> bool:
    """Whether ``--format`` asks for data (one table, raw values, nothing else on stdout)."""
    return str(getattr(fmt, "value", fmt)) in MACHINE


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                fmt: Any = "table", caption: str | None = None, raw: Table | None = None,
                optional: Sequence[str] = ()) -> None:
    """A result table on stdout: boxes on a terminal, aligned plain text elsewhere (full width,
    one line per row), or ``tsv``/``csv``: ``raw`` (columns and rows of plain values: numbers
    unrounded, counts as integers) where the display cells are words such as "3/4 (75%)",
    else the rows themselves (``write_delimited``). ``optional``: columns a terminal too
    narrow for the boxed table leaves out (last named first), saying so under it."""
    fmt = str(getattr(fmt, "value", fmt))
    if fmt in MACHINE:
        write_delimited(*(raw or (columns, rows)), fmt=fmt)
        return
    cells = [[_fmt(v) for v in r] for r in rows]
    if sys.stdout.isatty():
        from rich.console import Console

        out = Console(highlight=False)
        out.print(fitted_table(out, title, columns, cells, caption, optional))
    else:
        sys.stdout.write(plain_table(title, columns, cells, caption))
    sys.stdout.flush()


def fitted_table(console: Any, title: str, columns: Sequence[str],
                 cells: Sequence[Sequence[str]], caption: str | None = None,
                 optional: Sequence[str] = ()) -> Any:
    """``rich_table`` without the ``optional`` columns it needs to leave out to fit
    ``console``'s width (cells are never wrapped, so a table too wide would be cut)."""
    from rich.measure import Measurement

    keep = list(range(len(columns)))
    dropped: list[str] = []
    droppable = [c for c in reversed(optional) if c in columns]
    while True:
        hidden = (f"not shown at this width: {', '.join(reversed(dropped))} "
                  "(--format tsv has every column)") if dropped else None
        text = "; ".join(x for x in (caption, hidden) if x) or None
        table = rich_table(title, [columns[i] for i in keep],
                           [[r[i] for i in keep] for r in cells], text)
        width = Measurement.get(console, console.options.update_width(10**6), table).maximum
        if width <= console.width or not droppable:
            return table
        gone = droppable.pop(0)
        dropped.append(gone)
        keep.remove(list(columns).index(gone))


def rich_table(title: str, columns: Sequence[str], cells: Sequence[Sequence[str]],
               caption: str | None = None) -> Any:
    """The boxed table. A cell is never wrapped inside ("85% [64%, 95%]" stays one line): on a
    narrow terminal the caption wraps and the widest columns are cut with an ellipsis."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(title), caption=escape(caption) if caption else None,
              caption_justify="left")
    for c in columns:
        t.add_column(escape(c), no_wrap=True, overflow="ellipsis")
    for r in cells:
        t.add_row(*[escape(c) for c in r])
    return t


def write_delimited(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "tsv",
                    stream: Any = None) -> None:
    """One header line, then one line per row, written by the csv module. csv: RFC 4180 (a
    cell holding a comma, a quote or a line break is quoted); tsv: never quoted (``cut`` and
    ``awk`` read it), a tab or line break inside a cell becomes a space. Values as a program
    reads them back: floats at full precision (``repr``: parses to the same float), None
    empty, booleans true/false, lists and dicts as compact JSON."""
    out = sys.stdout if stream is None else stream
    table = [list(columns), *([raw_cell(v) for v in r] for r in rows)]
    if fmt == "tsv":
        writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None,
                            lineterminator="\n")
        table = [[" ".join(c.replace("\t", " ").splitlines()) for c in line] for line in table]
    else:
        writer = csv.writer(out, lineterminator="\n")
    writer.writerows(table)
    out.flush()


def raw_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v, separators=(",", ":"), allow_nan=False)
    return str(v)


def plain_table(title: str, columns: Sequence[str], cells: Sequence[Sequence[str]],
                caption: str | None = None) -> str:
    """Columns padded to their widest cell, two spaces apart; title above, caption below."""
    lines = [list(columns), *[[_one_line(c) for c in r] for r in cells]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    text = [title] if title else []
    for line in lines:
        text.append("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    if caption:
        text.append(caption)
    return "\n".join(text) + "\n"


def _one_line(s: str) -> str:
    return " ".join(s.splitlines())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "-"
    return str(v)


class Progress:
    """Progress on stderr: a Rich bar on a terminal, plain lines elsewhere (see the module)."""

    def __init__(self, total: int, description: str) -> None:
        self.total, self.description = max(total, 1), description
        self.done, self.info = 0, ""
        self.t0 = time.monotonic()
        self._bar: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._printed_slot = 0
        self._printed_at = self.t0

    def update(self, completed: int | None = None, total: int | None = None,
               advance: int = 0, info: str | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = max(total, 1)
            self.done = completed if completed is not None else self.done + advance
            if info is not None:
                self.info = info
            if self._bar is not None:
                self._bar.update(self._bar.task_ids[0], total=self.total, completed=self.done,
                                 info=self.info)
                return
            if time.monotonic() - self.t0 < LONG_S:
                return
            if self._slot() > self._printed_slot:
                self._line()

    def _slot(self) -> int:
        """Which STEP_SHARE of the work is done (0 .. 1/STEP_SHARE)."""
        return int(min(self.done / self.total, 1.0) / STEP_SHARE + 1e-9)

    def _line(self) -> None:
        share = min(self.done / self.total, 1.0)
        self._printed_slot = self._slot()
        self._printed_at = time.monotonic()
        info = f" {self.info}" if self.info else ""
        note(f"{self.description}: {self.done}/{self.total} ({share:.0%}) "
             f"{self._printed_at - self.t0:.0f} s{info}")

    def beat(self) -> None:
        """A line if none came for HEARTBEAT_S seconds (a batch can train for minutes between
        two reports)."""
        with self._lock:
            now = time.monotonic()
            if self._bar is None and now - self.t0 >= LONG_S and \
                    now - self._printed_at >= HEARTBEAT_S:
                self._line()

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):
            self.beat()


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Progress | None]:
    """A ``Progress`` on stderr while the block runs, or None when disabled (``--quiet``)."""
    if not enabled:
        yield None
        return
    prog = Progress(total, description)
    if interactive():
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                  console=err_console(), transient=False)
        with bar:
            bar.add_task(description, total=prog.total, info="")
            prog._bar = bar
            yield prog
        return
    beat = threading.Thread(target=prog._heartbeat, daemon=True)
    beat.start()
    try:
        yield prog
    finally:
        prog._stop.set()
        beat.join()

