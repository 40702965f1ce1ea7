"""The torch engine's counter-hash randomness (``rng``) as numba functions: the same bits.

Every value is a pure function of (seed, stream, step, index): lowbias32 over the seed, the
stream, the step's low 32 bits and the index times the golden ratio, as in ``rng._hash32``.
Uniforms keep 24 bits (exact in float32); normals are Box-Muller in float64 rounded once to
float32, as ``rng.normal_pairs``: ``normal_pairs`` computes a step's pairs as one vectorised
loop with ``libm64``'s log and sin/cos, ``normal_pair`` one pair with libm's (the CUDA kernel's
device function). The float64 values of the three may differ in the last bit; the float32
rounding hides that unless it straddles a rounding boundary (none of 2 x 268,435,456 normals
differed, ``benchmarks/normals_agree.py``; tests compare the streams bit for bit).
Integers are uint64 masked to 32 bits (numba widens uint32 arithmetic).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import layout as _layout
from .libm64 import log_unit, sincos

M32 = np.uint64(0xFFFFFFFF)
_MUL1, _MUL2 = np.uint64(0x7FEB352D), np.uint64(0x846CA68B)
_GOLDEN, _SEED_XOR, _STREAM_MUL = np.uint64(0x9E3779B1), np.uint64(0x9E3779B9), 0x632BE5AB
_S16, _S15, _S8 = np.uint64(16), np.uint64(15), np.uint64(8)
_U24 = np.uint64(0xFFFFFF)
_TWO_PI = 2.0 * math.pi


@intrinsic
def _lowbias32(typingctx, x):
    """``mix32_ops`` in 32-bit integers: the low 32 bits of x, mixed, widened back. numba
    does uint32 arithmetic in 64 bits (masked after each multiply), which vectorises 8 lanes
    to a vector; in 32 bits the hash loops run 16 lanes (64 uniforms: 31 -> 19 ns). The same
    bits: the products are taken modulo 2^32 either way."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        t = builder.trunc(args[0], i32)
        for shift, mul in ((16, 0x7FEB352D), (15, 0x846CA68B), (16, None)):
            t = builder.xor(t, builder.lshr(t, ir.Constant(i32, shift)))
            if mul is not None:
                t = builder.mul(t, ir.Constant(i32, mul))
        return builder.zext(t, ir.IntType(64))

    return types.uint64(types.uint64), codegen


@njit(inline="always", cache=True)
def mix32(x):
    """lowbias32 on a uint64 holding 32 bits (``_lowbias32``)."""
    return _lowbias32(x)


@njit(inline="always", cache=True)
def mix32_ops(x):
    """``mix32`` in plain operations: the CUDA kernel's (``cuda.device_versions``)."""
    x ^= x >> _S16
    x = (x * _MUL1) & M32
    x ^= x >> _S15
    x = (x * _MUL2) & M32
    return x ^ (x >> _S16)


@njit(inline="always", cache=True)
def stream_key(seed, stream):
    """The per-(seed, stream) key: the first two mixes of ``rng._hash32``."""
    k = mix32((np.uint64(seed) & M32) ^ _SEED_XOR)
    return mix32(k ^ (np.uint64(stream * _STREAM_MUL) & M32))


@njit(inline="always", cache=True)
def step_key(key, counter):
    """The key of one step (or ``step * 64 + sub`` for extra D steps)."""
    return mix32(key ^ (np.uint64(counter) & M32))


@njit(inline="always", cache=True)
def bits(skey, i):
    """The 32 hash bits of index i under a step key."""
    return mix32(mix32((skey + np.uint64(i) * _GOLDEN) & M32))


@njit(inline="always", cache=True)
def u24(skey, i):
    """The 24-bit integer of a uniform: ``(bits >> 8) & 0xFFFFFF``."""
    return (bits(skey, i) >> _S8) & _U24


@njit(inline="always", cache=True)
def uniform32(skey, i):
    """float32 uniform in [0, 1) (24 bits, exact)."""
    return np.float32(u24(skey, i)) * np.float32(2.0**-24)


@njit(inline="always", cache=True)
def normal_pair(skey, p):
    """Box-Muller pair p of a step (uniform indices 2p and 2p + 1), each rounded to float32."""
    u0 = np.float64(u24(skey, 2 * p)) * 2.0**-24
    u1 = np.float64(u24(skey, 2 * p + 1)) * 2.0**-24
    r = math.sqrt(-2.0 * math.log1p(-u0))
    theta = _TWO_PI * u1
    return np.float32(r * math.cos(theta)), np.float32(r * math.sin(theta))


pair_room = njit(cache=True)(_layout.pair_room)


@njit(cache=True, error_model="numpy")
def normal_pairs(skey, U0, U1, Z):
    """Box-Muller pairs p < n of a step key into Z[2p], Z[2p + 1] (float32), n = U0's length
    (``pair_room``; U0, U1 float64 scratch of n). Two loops, each vectorised: the uniforms'
    hashes, then the transform (``box_muller``)."""
    n = U0.shape[0]
    for p in range(n):
        U0[p] = np.float64(u24(skey, 2 * p)) * 2.0**-24
        U1[p] = np.float64(u24(skey, 2 * p + 1)) * 2.0**-24
    box_muller(U0, U1, Z)


@njit(cache=True, error_model="numpy")
def normal_block(KEYS, IDX, U0, U1, Z):
    """Pair IDX[p] of step key KEYS[p] into Z[2p], Z[2p + 1] for p < n = U0's length: the
    pairs of several steps (or sub-steps) in one vectorised pass, as ``normal_pairs``."""
    n = U0.shape[0]
    for p in range(n):
        U0[p] = np.float64(u24(KEYS[p], 2 * IDX[p])) * 2.0**-24
        U1[p] = np.float64(u24(KEYS[p], 2 * IDX[p] + 1)) * 2.0**-24
    box_muller(U0, U1, Z)


@njit(cache=True, error_model="numpy")
def box_muller(U0, U1, Z):
    """Z[2p], Z[2p + 1] <- ``normal_pair``'s formula on uniforms U0[p], U1[p], with
    ``libm64``'s log and sin/cos (one vectorised loop)."""
    for p in range(U0.shape[0]):
        r = math.sqrt(-2.0 * log_unit(1.0 - U0[p]))
        s, c = sincos(_TWO_PI * U1[p])
        Z[2 * p] = np.float32(r * c)
        Z[2 * p + 1] = np.float32(r * s)


@njit(cache=True)
def uniform_table(seeds, stream, steps, n):
    """(R, C, n) float32 uniforms, as ``rng.uniform`` (for tests and host-side draws)."""
    out = np.empty((seeds.shape[0], steps.shape[0], n), np.float32)
    for r in range(seeds.shape[0]):
        key = stream_key(seeds[r], stream)
        for c in range(steps.shape[0]):
            sk = step_key(key, steps[c])
            for i in range(n):
                out[r, c, i] = uniform32(sk, i)
    return out


@njit(cache=True, error_model="numpy")
def normal_table(seeds, stream, steps, n_pairs, vectorised=True):
    """(R, C, n_pairs, 2) float32 normals, as ``rng.normal_pairs``: the CPU kernel's
    (``normal_pairs``) or, not ``vectorised``, the CUDA kernel's (``normal_pair``)."""
    out = np.empty((seeds.shape[0], steps.shape[0], n_pairs, 2), np.float32)
    room = pair_room(n_pairs)
    U0, U1, Z = np.empty(room), np.empty(room), np.empty(2 * room, np.float32)
    for r in range(seeds.shape[0]):
        key = stream_key(seeds[r], stream)
        for c in range(steps.shape[0]):
            sk = step_key(key, steps[c])
            if vectorised:
                normal_pairs(sk, U0, U1, Z)
            for p in range(n_pairs):
                if vectorised:
                    out[r, c, p, 0], out[r, c, p, 1] = Z[2 * p], Z[2 * p + 1]
                else:
                    out[r, c, p, 0], out[r, c, p, 1] = normal_pair(sk, p)
    return out
