"""The fused kernel's float64 log and sin/cos (``libm64``) against libm's, over every input the
Box-Muller transform can give them, and the normals they make against ``normal_pair``'s."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pointgan_cli.engine.fused import hashrng as h
from pointgan_cli.engine.fused.libm64 import log_unit, sincos

N = 1 << 24  # a uniform's 24 bits


@njit(cache=False, error_model="numpy")
def _ulps(ours, ref):
    """|ours - ref| in units of ref's last place (a zero ref: ours must be zero too)."""
    if ref == 0.0:
        return 0.0 if ours == 0.0 else math.inf
    e = math.frexp(ref)[1]
    return abs(ours - ref) / math.ldexp(1.0, e - 53)


@njit(cache=False, error_model="numpy")
def _log_all():
    """(most ulps, how many equal) of our log of 1 - u against libm's log1p(-u) for every
    24-bit uniform u (as ``normal_pair``)."""
    worst, same = 0.0, 0
    for k in range(N):
        u = np.float64(k) * 2.0**-24
        ours, ref = log_unit(1.0 - u), math.log1p(-u)
        worst = max(worst, _ulps(ours, ref))
        same += ours == ref
    return worst, same


@njit(cache=False, error_model="numpy")
def _trig_all():
    """(most ulps, how many equal, how many with another sign) of our sin and cos of 2 pi u
    against libm's for every 24-bit uniform u."""
    worst, same, signs = 0.0, 0, 0
    for k in range(N):
        t = 2.0 * math.pi * (np.float64(k) * 2.0**-24)
        s, c = sincos(t)
        rs, rc = math.sin(t), math.cos(t)
        worst = max(worst, _ulps(s, rs), _ulps(c, rc))
        same += (s == rs) + (c == rc)
        signs += (np.sign(s) != np.sign(rs)) + (np.sign(c) != np.sign(rc))
    return worst, same, signs


def test_log_is_within_one_ulp_of_libm_for_every_uniform():
    worst, same = _log_all()
    assert worst <= 1.0, worst
    assert same / N > 0.98, same / N  # mostly the very same bits (98.49% measured)


def test_sin_and_cos_are_within_one_ulp_of_libm_for_every_angle():
    worst, same, signs = _trig_all()
    assert worst <= 1.0, worst
    assert same / (2 * N) > 0.96, same / (2 * N)  # 96.90% measured
    assert signs == 0  # the quadrants: every sign is libm's


@njit(cache=False, error_model="numpy")
def _pairs(steps, n_pairs):
    """Mismatches between the vectorised normals and libm's, over ``steps`` step keys."""
    room = h.pair_room(n_pairs)
    U0, U1, Z = np.empty(room), np.empty(room), np.empty(2 * room, np.float32)
    bad = 0
    key = h.stream_key(12345, 3)
    for t in range(steps):
        sk = h.step_key(key, t)
        h.normal_pairs(sk, U0, U1, Z)
        for p in range(n_pairs):
            a, b = h.normal_pair(sk, p)
            bad += (Z[2 * p] != a) + (Z[2 * p + 1] != b)
    return bad


def test_vectorised_normals_round_to_libms_float32_normals():
    """4,194,304 normals (8 pairs of 262,144 steps) and 1,200,000 more in blocks of 150
    pairs (instance noise's size): the float32 values are libm's, bit for bit."""
    assert _pairs(262_144, 8) == 0
    assert _pairs(4_000, 150) == 0
    assert h.pair_room(1) == 16 and h.pair_room(16) == 16 and h.pair_room(17) == 32
