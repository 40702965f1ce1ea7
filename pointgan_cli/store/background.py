"""A sweep batch's checkpoints written on a thread of their own while training goes on.

Why: each checkpoint of a batch is two files, each fsynced, and a finished batch's are packed
first (bz2 and zlib, which release the GIL); the fused engine trains in the sweep's own
process, so the disk's flushes and the packing kept its cores from training. With the writes on
one thread, the next steps (and the next batch) train meanwhile.

What stays as it was: every write is atomic (temp file, fsync, rename; ``atomic``) and the
writes happen one after another in the order they were given, so a batch's metrics still land
before its state and a later checkpoint never before an earlier one. A write that fails stops
the ones queued after it (a state must never be written over metrics that failed); ``wait``
raises its error. A process killed while a write is queued leaves the batch at its previous
checkpoint, as a kill a moment earlier would, and ``--resume`` continues from there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


class BackgroundWrites:
    """Writes run in order on one thread (started at the first ``submit``). ``wait`` blocks
    until every write given so far is done; ``close`` (also on leaving a ``with`` block, an
    exception included) waits, then ends the thread, so no thread outlives it (a process forks
    its workers only while it runs no other thread). Once a write has failed, ``submit`` and
    ``wait`` raise its error and nothing more is written."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._failed: BaseException | None = None

    def submit(self, write: Callable[[], object]) -> None:
        """Queue ``write`` after the writes given before it."""
        self._settle(block=False)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="pointgan-writes")
        self._pending.append(self._pool.submit(self._run, write))

    def _run(self, write: Callable[[], object]) -> None:
        if self._failed is not None:  # an earlier write failed: write nothing after it
            return
        try:
            write()
        except BaseException as exc:
            self._failed = exc

    def _settle(self, block: bool) -> None:
        """Forget the finished writes (every write, ``block``: waiting for them); raise the
        failure if one failed."""
        if block:
            for fut in self._pending:
                fut.result()
            self._pending = []
        else:
            self._pending = [f for f in self._pending if not f.done()]
        if self._failed is not None:
            raise self._failed

    def wait(self) -> None:
        """Every write given so far is on disk, or the first failure is raised."""
        self._settle(block=True)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if typ is None:
            self.close()
            return
        # leaving with an error: the writes queued before it still land, and the error that
        # is leaving is the one reported
        with contextlib.suppress(Exception):
            self.close()
