"""float64 ``log`` and ``sin``/``cos`` written so the compiler vectorises them: the normals'
Box-Muller transform (``hashrng.normal_pairs``).

Why our own: numba calls libm's scalar ``log1p``, ``cos`` and ``sin``, so a step's 8
Box-Muller pairs cost about 320 ns of a ~1.2 us run-step, one pair after another. These are
fdlibm's algorithms (``__ieee754_log``; ``__kernel_sin``/``__kernel_cos`` after a two-term
Cody-Waite reduction by pi/2), each under 1 ulp, with their branches made selects, so a
loop over pairs compiles to 8-lane AVX-512 code (about 85 ns for the 8 pairs). They are not
libm's bits: over all 2^24 inputs a uniform can take, the float64 log differs from
``math.log1p`` in 1.5% of them and sin/cos from libm's in 3%, by one ulp; the normals are
then rounded to float32, which hides a one-ulp float64 difference unless the value lies
within an ulp of a float32 rounding boundary: none of 2 x 268,435,456 normals differed
(``benchmarks/normals_agree.py``; tests compare 5.4M).

Only what the transform needs: ``log_unit`` takes a positive normal float64 (1 - u with u a
24-bit uniform lies in [2^-24, 1]), ``sincos`` an angle in [0, 2 pi). Plain float64 operations
in fdlibm's order, no fast-math flags, no fused multiply-adds (as fdlibm's C).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_LG1, _LG2 = 6.666666666666735130e-01, 3.999999999940941908e-01
_LG3, _LG4 = 2.857142874366239149e-01, 2.222219843214978396e-01
_LG5, _LG6 = 1.818357216161805012e-01, 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10

_INVPIO2 = 6.36619772367581382433e-01
_PIO2_1, _PIO2_2 = 1.57079632673412561417e+00, 6.07710050630396597660e-11
_PIO2_2T = 2.02226624879595063154e-21
_S1, _S2 = -1.66666666666666324348e-01, 8.33333333332248946124e-03
_S3, _S4 = -1.98412698298579493134e-04, 2.75573137070700676789e-06
_S5, _S6 = -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2 = 4.16666666666666019037e-02, -1.38888888888741095749e-03
_C3, _C4 = 2.48015872894767294178e-05, -2.75573143513906633035e-07
_C5, _C6 = 2.08757232129817482790e-09, -1.13596475577881948265e-11


@intrinsic
def _bits(typingctx, x):
    """The int64 with the bits of float64 x."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx, i):
    """The float64 with the bits of int64 i."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(inline="always", cache=True, error_model="numpy")
def log_unit(x):
    """log(x) for a positive normal float64 x (fdlibm ``__ieee754_log``: x = 2^k (1 + f)
    with 1 + f in [sqrt(2)/2, sqrt(2)), then log(1 + f) = f - s (f - R(s^2)), s = f / (2 + f);
    its two formulas for small and large f computed both, one selected)."""
    bits = _bits(x)
    hx = bits >> 32
    k = (hx >> 20) - 1023
    hx = hx & 0xFFFFF
    i = (hx + 0x95F64) & 0x100000
    k += i >> 20
    f = _float(((hx | (i ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF)) - 1.0
    dk = float(k)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    big = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    small = dk * _LN2_HI - ((s * (f - r) - dk * _LN2_LO) - f)
    return big if ((hx - 0x6147A) | (0x6B851 - hx)) > 0 else small


@njit(inline="always", cache=True, error_model="numpy")
def _ksin(x, y):
    """fdlibm ``__kernel_sin(x, y, 1)``: sin(x + y) for |x + y| <= pi/4, y the tail of x."""
    z = x * x
    v = z * x
    r = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


@njit(inline="always", cache=True, error_model="numpy")
def _kcos(x, y):
    """fdlibm ``__kernel_cos(x, y)``: cos(x + y) for |x + y| <= pi/4."""
    z = x * x
    w = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


@njit(inline="always", cache=True, error_model="numpy")
def sincos(t):
    """(sin t, cos t) for t in [0, 2 pi): t - n pi/2 to about 118 bits (fdlibm
    ``__ieee754_rem_pio2``'s medium case, its second round always taken), then the kernels,
    swapped and negated by the quadrant n mod 4."""
    fn = math.floor(t * _INVPIO2 + 0.5)
    r = t - fn * _PIO2_1
    w = fn * _PIO2_2
    t2 = r
    r = t2 - w
    w = fn * _PIO2_2T - ((t2 - r) - w)
    y0 = r - w
    y1 = (r - y0) - w
    s, c = _ksin(y0, y1), _kcos(y0, y1)
    q = int(fn) & 3
    odd = (q & 1) == 1
    sq = c if odd else s
    cq = s if odd else c
    sq = -sq if q >= 2 else sq
    cq = -cq if (q + 1) & 2 == 2 else cq
    return sq, cq
