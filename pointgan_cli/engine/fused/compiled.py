"""The fused kernel, loaded from the user's cache or compiled once (``cache``).

Why a loader: numba must learn its cache directory before it is imported, and a cold cache
costs seconds of compiling that the user is told about in one line. ``kernel()`` returns the
compiled ``runs.train_steps`` for the batch arrays' types; ``warm()`` does the same in a sweep's
main process before its workers start, so they load the cache and never print the line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from . import cache

#: Threads of the kernel's prange (default: every core). A sweep's worker processes set 1.
THREADS_ENV = "POINTGAN_FUSED_THREADS"
_kernels: dict = {}


def signature():
    """The kernel's one signature: state, alive, seeds, t0, t1, settings (see ``layout``), the
    snapshots' buffer and the snapshot interval."""
    from numba import types as t

    f32, arr = t.float32, t.Array
    return (arr(f32, 2, "C"), arr(t.boolean, 1, "C"), arr(t.uint64, 1, "C"), t.int64, t.int64,
            arr(f32, 2, "C"), arr(t.int64, 1, "C"), arr(t.float64, 1, "C"), arr(f32, 3, "C"),
            t.int64)


def kernel(serial: bool | None = None):
    """``runs.train_steps`` (or ``train_steps_serial``: ``serial``, or None and
    ``$POINTGAN_FUSED_THREADS`` = 1), compiled (or loaded) for its one signature."""
    if serial is None:
        serial = os.environ.get(THREADS_ENV) == "1"
    name = "train_steps_serial" if serial else "train_steps"
    if name not in _kernels:
        cache.use_cache_dir()
        cold = not cache.is_cached("runs", name)
        if cold:
            cache.say_compiling("fused CPU kernel")
        # cold: one process compiles at a time, the others then load what it cached
        with cache.compile_lock() if cold else nullcontext(), _numba_without_blas():
            from . import runs

            fn = getattr(runs, name)
            fn.compile(signature())
        _kernels[name] = fn
        threads = os.environ.get(THREADS_ENV)
        if threads and not serial:
            import numba

            numba.set_num_threads(max(1, min(int(threads),
                                             numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    return _kernels[name]


@contextmanager
def _numba_without_blas() -> Iterator[None]:
    """numba's first compile (or cache load) imports ``numba.np.arraymath``, which imports
    scipy's BLAS to know whether jitted code may call ``np.dot``: 0.15-0.19 s of every fused
    command's start (scipy.linalg and what it imports). The kernel calls no BLAS, and nothing
    else in pointgan imports scipy, so while the kernel loads that import fails (a None in
    ``sys.modules``) and numba records "no BLAS"; afterwards scipy imports as usual."""
    key = "scipy.linalg.cython_blas"
    if key in sys.modules or "numba.np.arraymath" in sys.modules:
        yield  # already imported: nothing left to save
        return
    sys.modules[key] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if key in sys.modules and sys.modules[key] is None:
            del sys.modules[key]


def warm(serial: bool = False) -> None:
    """Load (or compile) a kernel in this process (a sweep: the serial one its workers use,
    which starts no thread, so forking stays safe)."""
    kernel(serial)
