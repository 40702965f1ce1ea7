"""What training needs from the process and the machine: threads, allocator, memory, signals.

Why a module of its own: single runs (``training``) and sweep jobs (``sweep.jobs``) train
in processes set up the same way, stop on the same signals and fail with the same one-line
errors; none of it is about a run's numbers or files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.batching import bytes_per_run
from ..errors import PointganError, RuntimeFailure, UsageError, short

if TYPE_CHECKING:
    from ..spec import RunSpec


class Interrupted(PointganError):
    """Training stopped by a signal after saving a checkpoint. Exit code 128 + the signal
    (130 for SIGINT / Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum

    def __reduce__(self):  # crosses process boundaries (sweep workers) with its signal
        return (type(self), (str(self), self.signum))


def keep_freed_memory() -> None:
    """Linux/glibc: keep freed blocks in the heap instead of returning them to the system.

    Each step allocates and frees the same few megabyte-sized temporaries; by default glibc
    serves those with fresh mmap()s, and the page faults of touching new pages cost more than
    the arithmetic (measured: 1.5x faster steps for 256 runs). Numbers are unaffected."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not trim the heap below 1 GiB
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap for blocks up to 32 MiB
    except (OSError, AttributeError):
        pass


_ALLOCATOR_TUNED = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (restored after). Loading libraries and building
    many small objects (every member's summary, matplotlib's artists) makes nothing to
    collect, but each full collection meanwhile walks every object the process holds: in a
    process with numba or torch loaded, reading 1,024 summaries took 0.16 s instead of 0.03 s
    and gathering a finished batch's success windows 25 ms instead of 2."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_loaded() -> None:
    """Leave what this process holds now (libraries, the compiled kernel, the members' specs)
    out of every later collection (``gc.freeze``): they live as long as the process, and
    without this each full collection during training walked them all (44 ms each in a fused
    sweep). Called inside ``gc_paused``, it also spares the collection that turning the
    collector on again would start at once."""
    gc.freeze()


class SignalFlag:
    """Turns SIGINT and SIGTERM into a flag while training (``signum`` says which came);
    restores the old handlers afterwards. ``enabled=False``: no handlers (sweep workers,
    which their parent stops through a shared flag instead)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool = True) -> None:
        self.signum = 0
        self.enabled = enabled
        self._old: dict[int, Any] = {}

    @property
    def hit(self) -> bool:
        return self.signum != 0

    def __enter__(self) -> SignalFlag:
        if self.enabled:
            for sig in self.SIGNALS:
                # not the main thread: signals cannot reach us anyway
                with contextlib.suppress(ValueError):
                    self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` at once (exit 130/143, one line) for work with
    no step to stop between, whose writes are atomic (a sweep's report): without it SIGTERM
    ended the process silently with -15."""

    def handle(signum: int, frame: Any) -> None:
        raise Interrupted("interrupted", signum)

    old: dict[int, Any] = {}
    for sig in SignalFlag.SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread
            old[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for num, handler in old.items():
            signal.signal(num, handler)


def disk_failure(exc: OSError, where: Path, again: str | None = None) -> RuntimeFailure:
    """One line for an I/O failure while writing (full disk, quota, read-only mount); on a
    full disk with ``again``, the command that continues from what is on disk (the caller
    knows whether that is ``--resume`` or a fresh start)."""
    why = exc.strerror or type(exc).__name__
    hint = (f"; free some space and run: {again}"
            if again and exc.errno in (errno.ENOSPC, errno.EDQUOT) else "")
    return RuntimeFailure(f"cannot write in {short(str(where))}: {why}{hint}")


def available_memory(device: str) -> int | None:
    """Bytes that training on ``device`` may still allocate (None: unknown). CPU: the kernel's
    MemAvailable; CUDA: the device's free memory."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def runs_that_fit(specs: Sequence[RunSpec], processes: int = 1) -> int | None:
    """How many runs of the largest of ``specs`` fit in memory per process (None: unknown);
    UsageError (one line, the estimate and the limit) when not even one does."""
    worst = max(specs, key=bytes_per_run)
    per_run = bytes_per_run(worst)
    avail = available_memory(worst.device)
    if avail is None:
        return None
    fit = avail // (per_run * max(1, processes))
    if fit < 1:
        raise UsageError(
            f"one run needs about {per_run / 2**20:,.0f} MiB (--batch-size {worst.batch_size}, "
            f"--inner-batch {worst.effective_inner_batch}, --d-steps {worst.d_steps}) x "
            f"{processes} process(es), more than the {avail / 2**20:,.0f} MiB available on "
            f"{worst.device}")
    return int(fit)


def check_memory(specs: Sequence[RunSpec]) -> None:
    """Refuse (UsageError) a batch whose estimated memory exceeds what is available, before
    anything is allocated or written."""
    fit = runs_that_fit(specs)
    if fit is not None and fit < len(specs):
        per_run = max(bytes_per_run(s) for s in specs)
        raise UsageError(
            f"a batch of {len(specs)} runs needs about {len(specs) * per_run / 2**20:,.0f} MiB, "
            f"more than the memory available on {specs[0].device} (fits {fit}); use a smaller "
            "--max-batch, --batch-size or --inner-batch")


def out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and any(k in str(exc) for k in ("out of memory", "can't allocate memory")))


def prepare_device(spec: RunSpec) -> None:
    """Process settings for training on ``spec.device``: one intra-op thread and the
    allocator tuning on a CPU (bitwise batch invariance; parallelism comes from processes);
    a CUDA device must exist. The fused engine needs no torch (``fused.trainer`` sets its
    own threads)."""
    from ..engine.fused.support import uses_fused

    if uses_fused(spec):
        keep_freed_memory()
        if spec.device != "cpu":
            from ..engine.fused.cuda_support import device_kernel

            device_kernel(spec.device)  # UsageError without CUDA
        return
    import torch

    if spec.device == "cpu":
        torch.set_num_threads(1)
        keep_freed_memory()
    elif not torch.cuda.is_available():
        raise UsageError(f"--device: {spec.device} requested but CUDA is not available")
