"""Where the fused engine's compiled kernels live, and the one line that says a compile happens.

Why a cache of our own: numba caches beside the source by default, which fails when the package
is installed read-only, and compiling the kernel from scratch costs several seconds. Kernels go
to ``$POINTGAN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/pointgan``, else ``~/.cache/pointgan``);
``use_cache_dir`` must run before numba is imported (numba reads ``NUMBA_CACHE_DIR`` then); it
also picks numba's own thread pool (see there). The
first compile in a cold cache prints one line on stderr; a process prints it at most once, and a
sweep compiles in its main process before starting workers, so workers load the cache silently.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV = "POINTGAN_CACHE_DIR"
_said: set[str] = set()  # what ``say_compiling`` has said in this process


def cache_dir() -> Path:
    """The user-writable directory of compiled kernels."""
    explicit = os.environ.get(ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pointgan"


#: The fused engine's modules that only run on the host: nothing in them is compiled, and no
#: compiled module imports them (``tests/test_fused.py`` checks both), so an edit to them (or
#: an upgrade that changes only them) keeps the compiled kernels.
HOST_ONLY = frozenset({"__init__.py", "cache.py", "compiled.py", "cuda_support.py",
                       "evaluate.py", "hostrng.py", "native.py", "settings.py", "support.py",
                       "trainer.py"})


def source_key() -> str:
    """A digest of the fused engine's compiled source files (all but ``HOST_ONLY``). numba
    keys a cached kernel on the file that defines it (its path and time stamp) only, so an
    edit to a helper it inlines from another module would keep running the old kernel; a
    folder per source version cannot."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        if f.name not in HOST_ONLY:
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def kernel_dir() -> Path:
    """Where this version's compiled kernels go: ``cache_dir()/numba/<source_key()>``."""
    return cache_dir() / "numba" / source_key()


def use_cache_dir() -> Path:
    """Point numba's cache at ``kernel_dir()`` (before numba is imported; if it already is,
    its config is updated too) and return that directory."""
    where = kernel_dir()
    with contextlib.suppress(OSError):  # numba then warns that it cannot cache; compiles
        where.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(where)
    # numba's own thread pool rather than GNU OpenMP, whose fork handler terminates the child
    # of a process that used it (a sweep's workers are forked); a user's choice stands
    layer = os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    # numba.core.config sets its settings at run time (reload_config), so they are not
    # declared attributes of the module
    config: Any = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = str(where)
        config.THREADING_LAYER = layer
    return where


def is_cached(module_stem: str, func: str) -> bool:
    """Whether numba's cache holds an index for ``func`` of the module ``module_stem``
    compiled from these sources at this path: ``<stem>.<func>-<line>.py<ver>.nbi`` in the
    folder numba keeps for this source folder (``numba_subdir``). Another checkout of the same
    sources has a folder of its own, which numba does not read for this one."""
    root = kernel_dir() / numba_subdir()
    return root.is_dir() and any(root.glob(f"{module_stem}.{func}-*.nbi"))


def numba_subdir() -> str:
    """The folder numba's cache (with ``NUMBA_CACHE_DIR`` set) keeps for the kernels of this
    source folder: its name and the SHA-1 of its absolute path
    (``numba.core.caching._CacheLocator.get_suitable_cache_subpath``)."""
    import hashlib

    folder = os.path.dirname(os.path.abspath(__file__))
    return f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"


def say_compiling(what: str, takes: str = "about half a minute") -> None:
    """The one stderr line of a cold cache, at most once per process for each ``what`` (the
    common path's object code and numba's kernel for the other options are two compiles, a
    mixed sweep may need both); ``takes``: how long it takes here."""
    if what in _said:
        return
    _said.add(what)
    try:  # what use_cache_dir made, or could not (numba then compiles in every process)
        kernel_dir().mkdir(parents=True, exist_ok=True)
        writable = os.access(kernel_dir(), os.W_OK)
    except OSError:
        writable = False
    choose = (f"{ENV} names a folder that cannot be written here" if os.environ.get(ENV) else
              f"set {ENV} to a folder you can write")
    print(f"pointgan: compiling the {what} once ({takes}); cached in {cache_dir()}"
          if writable else
          f"pointgan: compiling the {what} ({takes}); cannot cache it in "
          f"{cache_dir()}, so every run compiles again ({choose})",
          file=sys.stderr, flush=True)


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Held while this process compiles a kernel the cache lacks: processes that start at
    once on a cold cache (a user's sweeps side by side, a test run's workers) compile one at a
    time, and each after the first finds the kernel cached and loads it (0.2 s) instead of
    compiling it again (about half a minute each, on cores the others need). An advisory
    ``flock`` on ``kernel_dir()/compile.lock``; where there is none (no ``fcntl``, a folder
    that cannot be written), each process compiles as before."""
    try:
        import fcntl

        kernel_dir().mkdir(parents=True, exist_ok=True)
        fd = os.open(kernel_dir() / "compile.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
