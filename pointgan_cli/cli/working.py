"""Progress of the read-only commands (``report``, ``diagnose run``, ``log``, ``ls``,
``compare``, ``sweep export``): what ``results.progress`` tasks report, shown on stderr once
the command has worked WAIT_S seconds, by the rules of ``console`` (a Rich bar on a terminal,
plain lines elsewhere). A quick command prints nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .console import HEARTBEAT_S, STEP_SHARE, err_console, interactive, note

#: A read-only command (report, diagnose, log, ls, compare, export) shows progress once it has
#: worked this long: a quick one prints nothing.
WAIT_S = 2.0


class Working:
    """Progress of a read-only command's loops (``results.progress``): after WAIT_S a Rich bar
    on a terminal, else one plain stderr line then one per 10% of a task or every
    HEARTBEAT_S seconds. A heartbeat thread starts the display even while one step takes
    long."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.what, self.total, self.done = "", 0, 0
        self.t0 = time.monotonic()
        self._live = interactive()
        self._bar: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._printed_slot = -1
        self._printed_at = 0.0

    def start(self, total: int, what: str) -> None:
        with self._lock:
            self.total, self.what, self.done = max(total, 0), what, 0
            self._printed_slot = -1
            self._show()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._show()

    def _label(self) -> str:
        return f"{self.command}: {self.what}" if self.what else self.command

    def _show(self, beat: bool = False) -> None:
        now = time.monotonic()
        if now - self.t0 < WAIT_S:
            return
        if self._live:
            if self._bar is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    TextColumn,
                    TimeElapsedColumn,
                )
                from rich.progress import Progress as Bar

                self._bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                console=err_console(), transient=True)
                self._bar.start()
                self._bar.add_task(self._label(), total=self.total or None)
            self._bar.update(self._bar.task_ids[0], description=self._label(),
                             total=self.total or None, completed=self.done)
            return
        slot = int(self.done / self.total / STEP_SHARE + 1e-9) if self.total else 0
        if slot > self._printed_slot or (beat and now - self._printed_at >= HEARTBEAT_S):
            self._printed_slot, self._printed_at = slot, now
            count = f" {self.done}/{self.total}" if self.total else ""
            share = f" ({min(self.done / self.total, 1.0):.0%})" if self.total else ""
            note(f"{self._label()}:{count}{share} {now - self.t0:.0f} s")

    def _heartbeat(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                self._show(beat=True)

    def close(self) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def working(command: str, enabled: bool = True) -> Iterator[Working | None]:
    """Report the progress of the ``results.progress`` tasks run inside the block (nothing
    when ``enabled`` is false, e.g. ``--quiet``)."""
    if not enabled:
        yield None
        return
    from ..results import progress

    shown = Working(command)
    beat = threading.Thread(target=shown._heartbeat, daemon=True)
    beat.start()
    try:
        with progress.reporting(shown):
            yield shown
    finally:
        shown.close()
        beat.join()
