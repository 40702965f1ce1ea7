"""The first code a sweep's worker process runs: arm the parent-death signal, then nothing else.

Why a module of its own that imports only the standard library: a spawned worker used to import
torch (1.5-3 s) before arming ``PR_SET_PDEATHSIG``, so a sweep killed in that window left
workers that went on writing member directories with no parent. This module is the pool's
initializer; ``sweep.executors`` also keeps the spawned child from re-importing the command-line
entry script, so nothing heavy runs before ``init``. A worker whose parent is already gone
when it gets here exits at once.

Workers ignore SIGINT and SIGTERM: their parent stops them through ``stop`` (a shared byte
checked between two training steps), so every worker writes a checkpoint at its current step.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

#: Set by ``init`` in a worker: the progress queue and the shared stop flag of its sweep.
progress_queue: Any = None
stop: Any = None


def die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent dies (even by kill -9)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def init(parent_pid: int, queue: Any, stop_flag: Any) -> None:
    """Pool initializer (runs before the worker imports torch or any pointgan module)."""
    global progress_queue, stop
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    progress_queue, stop = queue, stop_flag


def should_stop() -> bool:
    return stop is not None and bool(stop.value)
