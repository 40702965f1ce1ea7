"""The common path compiled once by numba into plain machine code that ``native`` loads alone.

Why: loading a cached kernel through numba costs every fused command 0.35-0.45 s (numba's
import and its dispatcher's set-up) before the first step. ``train_range`` is the kernel's
common path (``runs.train_steps`` on ``fast``) as a C function, with every buffer it needs
passed in: it allocates nothing and raises nothing, so its code calls no numba run-time
function. ``build`` compiles it (importing this module compiles it) and writes its object code
to the cache with the names of the symbols it leaves to the loader; ``native`` then loads it
with llvmlite alone. The code is numba's own for the same functions (``fast.run_steps_in``),
so the numbers are the numba kernel's, bit for bit (``tests/test_fused_native.py``).
"""

from __future__ import annotations

from typing import Any

from numba import carray, cfunc
from numba import types as t

from . import fast
from .layout import I_B, I_K, I_ND

_f32, _i64 = t.CPointer(t.float32), t.int64
#: (S, R, NS, alive, seeds, t0, t1, H, NH, IS, NI, Fs, NF, SNAP, its rows and snapshots,
#: every, lo, hi, the float32 scratch and its length, the keys, the indices (room + 1: the
#: last is ``normal_scratch``'s "first step held"), the float64 uniforms (2 room), room,
#: the bias table, its rows, and whether to fill it first); 0 when done, 1 when a buffer is
#: too small.
SIGNATURE = t.int64(_f32, _i64, _i64, t.CPointer(t.uint8), t.CPointer(t.uint64), _i64, _i64,
                    _f32, _i64, t.CPointer(t.int64), _i64, t.CPointer(t.float64), _i64,
                    _f32, _i64, _i64, _i64, _i64, _i64, _f32, _i64, t.CPointer(t.uint64),
                    t.CPointer(t.int64), t.CPointer(t.float64), _i64, _f32, _i64, _i64)


@cfunc(SIGNATURE, nogil=True, error_model="numpy", cache=False)
def train_range(Sp, R, ns, alivep, seedsp, t0, t1, Hp, nh, ISp, ni, Fsp, nf, SNAPp, snap_r,
                snap_n, every, lo, hi, Wp, nw, KEYSp, IDXp, Up, room, BCp, nbc, fill):
    """``runs.train_steps`` on the common path for runs lo..hi-1, in the caller's buffers;
    with ``fill``, Adam's bias table is computed into BC first (once per call: the threads
    then share it, read-only)."""
    S, alive, seeds = carray(Sp, (R, ns)), carray(alivep, R), carray(seedsp, R)
    H, IS, Fs = carray(Hp, (R, nh)), carray(ISp, ni), carray(Fsp, nf)
    SNAP, BC = carray(SNAPp, (snap_r, snap_n, 9)), carray(BCp, (nbc, 2))
    B, K, nd = IS[I_B], IS[I_K], IS[I_ND]
    o_eps, o_v, o_z, o_gg, o_gd, o_nz, floats, need = fast.common_scratch(B, K, nd)
    if nw < floats or room < need or nbc < max(0, t1 * nd - t0):
        return 1
    W = carray(Wp, nw)
    KEYS, IDX, U = carray(KEYSp, room), carray(IDXp, room + 1), carray(Up, 2 * room)
    NS = (KEYS, IDX[:room], U[:room], U[room:], W[o_nz:o_nz + 2 * room], IDX[room:],
          W[0:0])
    XB, EPS, V, Z = W[0:o_eps], W[o_eps:o_v], W[o_v:o_z], W[o_z:o_gg]
    gg, gd = W[o_gg:o_gd], W[o_gd:o_nz]
    if fill:
        fast.bias_fill(Fs, t0 + 1, BC)
    for r in range(lo, hi):
        if alive[r]:
            IDX[room] = -1  # a fresh run holds no G-noise normals yet (``normal_scratch``)
            fast.run_steps_in(S, r, seeds[r], t0, t1, H, IS, Fs, BC, t0 + 1, SNAP, every, XB,
                              EPS, NS, V, Z, gg, gd)
    return 0


def build() -> tuple[bytes, str, list[str]]:
    """``train_range``'s object code, its symbol, and the symbols it leaves undefined."""
    library: Any = train_range._library  # type: ignore[attr-defined]
    module = library._final_module
    undefined = sorted({f.name for f in module.functions
                        if f.is_declaration and not f.name.startswith("llvm.")}
                       | {g.name for g in module.global_variables if g.is_declaration})
    return library._get_compiled_object(), train_range.native_name, undefined
