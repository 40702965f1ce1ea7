"""The counter-hash uniforms in numpy: ``hashrng.uniform_table`` for the host, without numba.

Why a numpy copy: the host draws a few uniforms itself (the initial parameters, a snapshot's
clean inputs), and a fused command that loads its kernel without numba (``native``) must not
import numba for them. The same bits as ``hashrng`` and ``rng``: lowbias32 in uint32
arithmetic, whose products wrap modulo 2^32 as the masked uint64 products there do
(``tests/test_fused.py`` compares the three).
"""

from __future__ import annotations

import numpy as np

_U32 = np.uint32
_MUL1, _MUL2 = _U32(0x7FEB352D), _U32(0x846CA68B)
_GOLDEN, _SEED_XOR, _STREAM_MUL = 0x9E3779B1, 0x9E3779B9, 0x632BE5AB
_M32 = 0xFFFFFFFF


def mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 of a uint32 array."""
    x = x ^ (x >> _U32(16))
    x = x * _MUL1
    x = x ^ (x >> _U32(15))
    x = x * _MUL2
    return x ^ (x >> _U32(16))


def uniform_table(seeds: np.ndarray, stream: int, steps: np.ndarray, n: int) -> np.ndarray:
    """(R, C, n) float32 uniforms of ``stream`` at the C ``steps`` for the R ``seeds``."""
    seed = (np.asarray(seeds).astype(np.uint64) & np.uint64(_M32)).astype(_U32)
    key = mix32(seed ^ _U32(_SEED_XOR))
    key = mix32(key ^ _U32((stream * _STREAM_MUL) & _M32))
    counter = (np.asarray(steps).astype(np.int64) & _M32).astype(_U32)
    skey = mix32(key[:, None] ^ counter[None, :])
    index = ((np.arange(n, dtype=np.uint64) * np.uint64(_GOLDEN)) & np.uint64(_M32)).astype(_U32)
    bits = mix32(mix32(skey[:, :, None] + index[None, None, :]))
    return ((bits >> _U32(8)) & _U32(0xFFFFFF)).astype(np.float32) * np.float32(2.0**-24)
