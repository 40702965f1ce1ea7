"""``train_steps``: the prange over a batch's runs, each on the common path (``fast``) when the
batch's options allow, else on the general step (``step``).

Why one entry point for both: the host compiles and caches one kernel per signature
(``compiled``); which path a batch takes depends only on its shared settings, so the choice is
made once per call, and each run is still computed alone by the same code.
"""

from __future__ import annotations

from numba import njit, prange

from . import fast, step
from .layout import I_ND


@njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def train_steps(S, alive, seeds, t0, t1, H, IS, Fs, SNAP, every):
    """Every alive run from step t0 to t1, one run per thread at a time; each run's parameters
    at every multiple of ``every`` on the way go to SNAP (``kernel.record``). Without the GIL:
    a sweep's writes thread packs and summarises the batch before meanwhile."""
    if fast.is_common(IS):
        BC = fast.bias_table(Fs, t0 + 1, t1 * IS[I_ND])
        for r in prange(S.shape[0]):
            if alive[r]:
                fast.run_steps(S, r, seeds[r], t0, t1, H, IS, Fs, BC, t0 + 1, SNAP, every)
    else:
        for r in prange(S.shape[0]):
            if alive[r]:
                step.run_steps(S, r, seeds[r], t0, t1, H, IS, Fs, SNAP, every)


@njit(cache=True, error_model="numpy")
def train_steps_serial(S, alive, seeds, t0, t1, H, IS, Fs, SNAP, every):
    """``train_steps`` on the calling thread only: a sweep's worker processes use it. A
    parallel kernel starts numba's thread pool (OpenMP) when it is compiled, and a process
    holding one must not fork; this one starts none, so the sweep's main process can load it
    and fork its workers. The numbers are the same (each run is computed alone)."""
    if fast.is_common(IS):
        BC = fast.bias_table(Fs, t0 + 1, t1 * IS[I_ND])
        for r in range(S.shape[0]):
            if alive[r]:
                fast.run_steps(S, r, seeds[r], t0, t1, H, IS, Fs, BC, t0 + 1, SNAP, every)
    else:
        for r in range(S.shape[0]):
            if alive[r]:
                step.run_steps(S, r, seeds[r], t0, t1, H, IS, Fs, SNAP, every)
