"""The fused kernel, loaded from the user's cache or compiled once (``cache``).

Why a loader: numba must learn its cache directory before it is imported, and a cold cache
costs seconds of compiling that the user is told about in one line. ``cpu_kernel(IS)`` returns
what trains a batch: on the common path the native code (``native``, loaded without numba),
else ``kernel()``, the numba-compiled ``runs.train_steps`` for the batch arrays' types;
``warm()`` loads what a sweep's members need in its main process before its workers start, so
they load the cache and never print the line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from . import cache, native
from . import layout as L

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
            cache.say_compiling("fused CPU kernel for these options")
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


def cpu_kernel(IS, serial: bool | None = None):
    """What trains a batch of shared settings IS on the CPU: the native common path where the
    batch takes it and its code loads (``native_kernel``), else ``kernel(serial)``."""
    if native.enabled() and L.is_common(IS):
        found = native_kernel(serial)
        if found is not None:
            return found
    return kernel(serial)


def native_kernel(serial: bool | None = None) -> native.NativeKernel | None:
    """The common path without numba, on one thread (``serial``, or None and
    ``$POINTGAN_FUSED_THREADS`` = 1), ``$POINTGAN_FUSED_THREADS`` or one per core; built
    into the cache first if it is not there (numba compiles it once). None where it cannot be
    built or linked here."""
    threads_env = os.environ.get(THREADS_ENV)
    if serial is None:
        serial = threads_env == "1"
    threads = 1 if serial else int(threads_env) if threads_env else native.default_threads()
    folder = cache.kernel_dir() / "native"
    fn = native.load(folder) if native.is_built(folder) else _build_native(folder)
    return None if fn is None else native.NativeKernel(fn, threads)


def _build_native(folder):
    """Compile the common path's object code into ``folder`` (under the compile lock, with the
    cold cache's line) and link it; where the folder cannot be written, link it from memory."""
    cache.use_cache_dir()
    cache.say_compiling("fused CPU kernel", "about ten seconds")
    with cache.compile_lock(), _numba_without_blas():
        if native.is_built(folder):  # another process built it while this one waited
            return native.load(folder)
        try:
            from . import native_build

            code, symbol, undefined = native_build.build()
        except Exception as exc:  # noqa: BLE001 - numba's internals moved: numba loads it
            native.write_failure(folder, f"{type(exc).__name__}: {exc}")
            return None
        try:
            native.write(folder, code, symbol, undefined)
        except OSError:
            return native.link(code, native.describe(code, symbol, undefined))
    return native.load(folder)


def warm(specs=None, serial: bool = False) -> None:
    """Load (or compile) in this process what trains ``specs`` (fused members) on the CPU, or
    with no specs both kernels (a sweep: with ``serial``, those its workers use, which start
    no thread, so forking stays safe)."""
    if specs is None:
        kernel(serial)
        if native.enabled():
            native_kernel(serial)
        return
    from ..batching import batch_key
    from .settings import shared

    first: dict = {}
    for s in specs:
        if s.device == "cpu":
            first.setdefault(batch_key(s), s)
    for s in first.values():
        cpu_kernel(shared([s])[0], serial)
