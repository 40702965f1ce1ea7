"""A watchdog that takes a local Ray down with the sweep that started it, even after ``kill -9``.

Ray's own reaper stops its GCS server and raylet within seconds of the driver's death, but the
raylet's agents (``DashboardAgent``, ``RuntimeEnvAgent``) then spend 60 s trying to report the
raylet's death to the dead GCS (a fixed RPC timeout in Ray) before they exit. A sweep that
started its own Ray owns those processes, so nothing of it may outlive the sweep.

The watchdog is a small process in its own session (a terminal's Ctrl-C does not reach it)
holding one end of a pipe whose other end only the driver holds. Every half second it records
the driver's descendants with their start times; when the pipe closes without the word ``done``
(the driver died, however), it kills what it recorded, only where the same process (pid and
start time) is still alive, then exits. A driver that ends normally writes ``done`` after
``ray.shutdown()`` and the watchdog exits without touching anything. Linux only (``/proc``);
elsewhere nothing is started.

It runs as ``python -m pointgan_cli.sweep.reaper PID``, importing nothing but the standard
library, so it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

PROC = Path("/proc")
INTERVAL_S = 0.5


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process; None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return int(fields[1]), int(fields[19])


def same_process(pid: int, start: int) -> bool:
    """Whether ``pid`` is still the process that started at ``start`` (not gone, and its pid
    not taken by a newcomer)."""
    st = _stat(pid)
    return st is not None and st[1] == start


def descendants(root: int) -> dict[int, int]:
    """Every process below ``root``, as pid -> start time (read from /proc)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry.name))
            started[int(entry.name)] = st[1]
    found: dict[int, int] = {}
    todo = [pid for pid in children.get(root, ()) if pid != os.getpid()]  # not the watchdog
    while todo:
        pid = todo.pop()
        if pid in found or pid not in started:
            continue
        found[pid] = started[pid]
        todo.extend(children.get(pid, ()))
    return found


def kill_recorded(recorded: dict[int, int]) -> list[int]:
    """SIGKILL each recorded process that is still the same process; the pids killed."""
    killed = []
    for pid, start in recorded.items():
        if not same_process(pid, start):
            continue  # gone, or the pid now belongs to someone else
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(pid)
    return killed


def watch(driver: int, pipe: IO[bytes]) -> int:
    """Record the driver's descendants until the pipe closes; kill them unless told ``done``."""
    recorded: dict[int, int] = {}
    said = b""
    while True:
        recorded.update(descendants(driver))
        ready, _, _ = select.select([pipe], [], [], INTERVAL_S)
        if not ready:
            continue
        chunk = os.read(pipe.fileno(), 64)
        if chunk:
            said += chunk
            continue
        break  # end of file: the driver is gone or has closed its end
    if said.strip() == b"done":
        return 0
    recorded.update(descendants(driver))  # a last look, in case they have not been reparented
    kill_recorded(recorded)
    return 0


class Reaper:
    """The driver's side: ``start()`` before ``ray.init``, ``done()`` after ``ray.shutdown``."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not PROC.is_dir():
            return
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pointgan_cli.sweep.reaper", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )

    def done(self) -> None:
        """Tell the watchdog all is well and let it go (Ray has shut itself down)."""
        if self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(b"done")
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the pipe ends the watch
    driver = int(argv[0])
    start = time.monotonic()
    while _stat(driver) is None and time.monotonic() - start < 1:
        time.sleep(0.01)
    return watch(driver, sys.stdin.buffer)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
