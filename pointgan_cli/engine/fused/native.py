"""The kernel's common path loaded without numba: its machine code, llvmlite and ctypes.

Why: a fused command that loads its kernel through numba spends 0.35-0.45 s importing numba
and setting up its dispatcher before the first step, longer than a default ``pointgan train``
takes to train. ``native_build`` has numba compile the common path once into object code in
the user's cache; here llvmlite's JIT links it (a few ms) and ctypes calls it on one thread
per core, the threads taking shares of the runs until none is left (``SMALLEST_SHARE``), with
the GIL released. Each run is still computed alone by the same code, so its numbers are those
of the numba kernel (``tests/test_fused_native.py``). Where the cached code is missing or
cannot be loaded, ``load`` says None and the kernel loads through numba as before.

The object code's few references to numba's run-time library (reference counts and
exceptions) are never reached: the function allocates nothing, frees nothing and raises
nothing. Where numba is not loaded they are pointed at ``abort``, so a path that did reach one
would stop the process loudly rather than run on wrongly; where it is, they are its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from . import layout as L

#: ``POINTGAN_NATIVE_KERNEL=0``: always load the kernel through numba.
ENV = "POINTGAN_NATIVE_KERNEL"
#: Symbols of numba's run-time library that ``train_range``'s code names but never calls.
RUNTIME_PREFIXES = ("numba_", "NRT_")
_P = ctypes.c_void_p
_I = ctypes.c_int64
_ARGTYPES = (_P, _I, _I, _P, _P, _I, _I, _P, _I, _P, _I, _P, _I, _P, _I, _I, _I, _I, _I, _P,
             _I, _P, _P, _P, _I, _P, _I, _I)
#: The smallest share of a call's runs a thread takes, as a fraction of its even part:
#: threads take shares until none is left, each half of what is left per thread (large at
#: first, small at the end), so a thread the machine slows (the sweep's writes, another
#: process) takes fewer and the call ends with the threads at most one small share apart.
SMALLEST_SHARE = 1 / 16
_loaded: dict[str, object] = {}
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def toolchain_key() -> str:
    """What the object code depends on besides the sources (``cache.kernel_dir``): the CPU
    it was compiled for (numba compiles for the host's features), llvmlite, the numba
    installation, and numba's settings from the environment."""
    parts = list(_machine())
    parts += sorted(f"{k}={v}" for k, v in os.environ.items()
                    if k.startswith("NUMBA_") and k not in
                    ("NUMBA_CACHE_DIR", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER"))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _machine() -> tuple[str, ...]:
    """The parts of ``toolchain_key`` that do not change while a process runs."""
    import llvmlite
    import llvmlite.binding as ll

    numba_init = _numba_init()
    stat = os.stat(numba_init) if numba_init else None
    return (llvmlite.__version__, ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten(),
            str(numba_init), str(stat and (stat.st_size, stat.st_mtime_ns)))


def _numba_init() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("numba")
    return spec.origin if spec is not None else None


def paths(folder: Path) -> tuple[Path, Path]:
    """The object code and its description (symbol, undefined names) in ``folder``."""
    stem = f"train_range-{toolchain_key()}"
    return folder / f"{stem}.o", folder / f"{stem}.json"


def describe(code: bytes, symbol: str, undefined: list[str]) -> dict:
    """The description ``link`` needs beside the object code: its symbol, the names it leaves
    undefined, and its digest."""
    return {"symbol": symbol, "undefined": undefined, "sha256": hashlib.sha256(code).hexdigest()}


def write(folder: Path, code: bytes, symbol: str, undefined: list[str]) -> None:
    """Store what ``native_build.build`` made, each file atomically (the description last:
    its presence says the object code is complete)."""
    obj, meta = paths(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _replace(obj, code)
    _replace(meta, json.dumps(describe(code, symbol, undefined)).encode())


def write_failure(folder: Path, why: str) -> None:
    """Remember that the build failed here, so each command does not try again (the kernel
    then loads through numba)."""
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        _replace(paths(folder)[1], json.dumps({"failed": why}).encode())


def _replace(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole or keeps what it held: written beside it, then renamed.
    (The engine stands below ``store``, whose ``atomic`` does this for run directories.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def is_built(folder: Path) -> bool:
    """Whether ``folder`` holds the object code and its description, or a note that it
    cannot be built here (an object file removed by hand is built again)."""
    obj, meta = paths(folder)
    return meta.is_file() and (obj.is_file() or b'"failed"' in meta.read_bytes())


def load(folder: Path):
    """The C function of ``train_range`` from ``folder``'s object code, or None where it is
    missing, could not be built, or cannot be linked here."""
    obj, meta = paths(folder)
    key = str(obj)
    with _lock:
        if key not in _loaded:
            try:
                desc = json.loads(meta.read_text())
                _loaded[key] = None if "failed" in desc else link(obj.read_bytes(), desc)
            except (OSError, ValueError):
                _loaded[key] = None
    return _loaded[key]


def link(code: bytes, desc: dict):
    """``train_range``'s C function from its object code and description (``symbol``,
    ``undefined``, the code's ``sha256``), or None where it cannot be linked here."""
    try:
        return _link(code, desc)
    except Exception:  # noqa: BLE001 - any failure: the kernel loads through numba instead
        return None


def _link(code: bytes, desc: dict):
    if hashlib.sha256(code).hexdigest() != desc.get("sha256"):
        return None  # not the code that was built (llvmlite would crash on a damaged object)
    import llvmlite.binding as ll

    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    process = ctypes.CDLL(None)  # what the JIT's linker finds: this process's symbols
    abort = ctypes.cast(process.abort, ctypes.c_void_p).value
    for name in desc["undefined"]:
        if hasattr(process, name) or ll.address_of_symbol(name) is not None:
            continue  # in this process, or registered by numba (loaded here): its own
        if not name.startswith(RUNTIME_PREFIXES):
            return None  # a function the code may call is not in this process
        # LLVM's symbol table is the process's: never over numba's own (checked above);
        # numba, loaded later, registers its own over this
        ll.add_symbol(name, abort)
    machine = ll.Target.from_default_triple().create_target_machine(jit=True)
    engine = ll.create_mcjit_compiler(ll.parse_assembly(""), machine)
    engine.add_object_file(ll.ObjectFileRef.from_data(code))
    engine.finalize_object()
    address = engine.get_function_address(desc["symbol"])
    if not address:
        return None
    fn = ctypes.CFUNCTYPE(ctypes.c_int64, *_ARGTYPES)(address)
    fn._engine = engine  # type: ignore[attr-defined]  # the code lives as long as the engine
    return fn


def default_threads() -> int:
    """One thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class NativeKernel:
    """``runs.train_steps`` (common batches only) on ``threads`` threads: the numba kernel's
    call signature, so ``FusedTrainer`` calls either the same way."""

    def __init__(self, fn, threads: int):
        self.fn, self.threads = fn, max(1, threads)

    def __call__(self, S, alive, seeds, t0, t1, H, IS, Fs, SNAP, every) -> None:
        arrays = ((S, np.float32), (alive, np.bool_), (seeds, np.uint64), (H, np.float32),
                  (IS, np.int64), (Fs, np.float64), (SNAP, np.float32))
        for a, dtype in arrays:
            if a.dtype != dtype or not a.flags.c_contiguous:
                raise ValueError("the fused kernel needs C-contiguous arrays of its dtypes")
        if not L.is_common(IS):
            raise ValueError("the native kernel computes the common path only")
        R = S.shape[0]
        B, K, nd = int(IS[L.I_B]), int(IS[L.I_K]), int(IS[L.I_ND])
        floats, room = L.common_scratch(B, K, nd)[-2:]
        BC = np.zeros((max(0, t1 * nd - t0), 2), np.float32)
        threads = min(self.threads, max(1, R))
        smallest = max(1, int(R / threads * SMALLEST_SHARE))
        taken, lock = [0, 0], threading.Lock()  # the next run, the shares handed out
        status: list[int] = []

        def take() -> tuple[int, int] | None:
            with lock:
                lo = taken[0]
                if lo >= R:
                    return None
                taken[0] = min(R, lo + max(smallest, -(-(R - lo) // (2 * threads))))
                taken[1] += 1
                return lo, taken[0]

        def call(lo: int, hi: int, W, KEYS, IDX, U, fill: int) -> int:
            return self.fn(
                S.ctypes.data, R, S.shape[1], alive.ctypes.data, seeds.ctypes.data, t0, t1,
                H.ctypes.data, H.shape[1], IS.ctypes.data, IS.shape[0], Fs.ctypes.data,
                Fs.shape[0], SNAP.ctypes.data, SNAP.shape[0], SNAP.shape[1], every, lo, hi,
                W.ctypes.data, floats, KEYS.ctypes.data, IDX.ctypes.data, U.ctypes.data, room,
                BC.ctypes.data, BC.shape[0], fill)

        def scratch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """One thread's buffers: float32 scratch, the normals' keys, indices, uniforms."""
            return (np.zeros(floats, np.float32), np.zeros(room, np.uint64),
                    np.zeros(room + 1, np.int64), np.zeros(2 * room))

        def work() -> None:
            mine = scratch()
            while (share := take()) is not None:
                status.append(call(*share, *mine, 0))

        if call(0, 0, *scratch(), 1):  # the bias table, once, before the threads share it
            raise RuntimeError("the native fused kernel was given too small a buffer")
        helpers = [threading.Thread(target=work, daemon=True) for _ in range(threads - 1)]
        for th in helpers:
            th.start()
        try:
            work()
        finally:
            for th in helpers:
                th.join()
        if any(status) or len(status) != taken[1] or taken[0] < R:
            raise RuntimeError("the native fused kernel was given too small a buffer")
