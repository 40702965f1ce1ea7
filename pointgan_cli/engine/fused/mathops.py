"""The fused kernel's arithmetic building blocks: a float32 ``exp`` the compiler vectorises, the
sigmoid built on it, and the reductions.

Why our own ``exp``: numba calls libm's scalar ``expf``, which stops the loops over a run's
samples from vectorising, and the sigmoids are most of a step's work. This one is Cephes'
``expf`` (Cody-Waite reduction, degree-5 polynomial, about 1 ulp), written with plain float32
operations and a bit cast, so LLVM turns the sample loops into SIMD code. Its multiply-adds are
explicit fused ones (``fma32``, ``llvm.fma``): about a quarter fewer instructions per sigmoid,
the same accuracy (at most 2 ulp against float64, as before), and only these operations are
fused (a fast-math ``contract`` flag would fuse every multiply-add of the step, the torch
engine's formulas included). NaN propagates (a diverging run must stay non-finite until its
snapshot finds it).

Why the sums have ``reassoc``: a float sum vectorises only when the compiler may reorder it.
The order it picks depends on the compiled code and the loop's length alone, never on how many
runs share the batch or on the threads, so every run still gets the same bits alone or in any
batch. Nothing else carries fast-math flags (the ``exp`` reduction would lose its accuracy).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

F = np.float32
_HI, _LO = F(88.0), F(-87.0)
_LOG2E, _HALF = F(1.44269504088896341), F(0.5)
_C1, _C2 = F(0.693359375), F(-2.12194440e-4)
_P0, _P1, _P2 = F(1.9875691500e-4), F(1.3981999507e-3), F(8.3334519073e-3)
_P3, _P4, _P5 = F(4.1665795894e-2), F(1.6666665459e-1), F(5.0000001201e-1)
ONE = F(1.0)


@intrinsic
def _scale2(typingctx, y, n):
    """y * 2^n for an integral float32 n, by adding n to y's exponent field (an integer add
    instead of a float multiply: exact, hence the same bits, while y * 2^n stays a normal
    number, which ``exp32``'s clamp guarantees; a NaN y stays NaN)."""
    sig = types.float32(types.float32, types.float32)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        k = builder.shl(builder.fptosi(args[1], i32), ir.Constant(i32, 23))
        bits = builder.add(builder.bitcast(args[0], i32), k)
        return builder.bitcast(bits, ir.FloatType())

    return sig, codegen


@intrinsic
def fma32(typingctx, a, b, c):
    """float32 a * b + c rounded once (``llvm.fma``: vectorises, one instruction)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f32, [f32] * 3),
                                            "llvm.fma.f32")
        return builder.call(fn, args)

    return sig, codegen


@njit(inline="always", cache=True)
def exp32(x):
    """float32 e^x (Cephes expf, its multiply-adds fused: fewer instructions and the
    reduction's products exact), clamped to [-87, 88]; NaN stays NaN."""
    x = x if not (x > _HI) else _HI
    x = x if not (x < _LO) else _LO
    return _exp_core(x)


@njit(inline="always", cache=True)
def _exp_core(x):
    """``exp32`` of an x already in [-87, 88] (or NaN)."""
    n = np.floor(fma32(x, _LOG2E, _HALF))
    r = fma32(-n, _C1, x)
    r = fma32(-n, _C2, r)
    p = fma32(_P0, r, _P1)
    p = fma32(p, r, _P2)
    p = fma32(p, r, _P3)
    p = fma32(p, r, _P4)
    p = fma32(p, r, _P5)
    y = fma32(p * r, r, r) + ONE
    return _scale2(y, n)


@njit(inline="always", cache=True)
def sig32(x):
    """float32 sigmoid 1 / (1 + e^-x): ``exp32(-x)``, negated first and clamped with ``max``
    and ``min`` (kept NaN: ``max(y, c)`` is ``c if c > y else y``). Written so, the clamp
    compiles to one vmaxps and one vminps; negating after the clamp let LLVM fold the
    negation into compares and blends (5 operations instead of 2, ~13% of a sigmoid loop).
    The same bits either way: negation is exact (only a NaN's sign bit may differ)."""
    return ONE / (ONE + _exp_core(min(max(-x, _LO), _HI)))


#: ``sig32_inside`` is ``sig32`` for |x| below this: well inside the clamp's [-88, 87], so a
#: bound computed in float32 (a few roundings, each 6e-8 relative) that is below it is a bound
#: of every input.
INSIDE = F(80.0)


@njit(inline="always", cache=True)
def sig32_inside(x):
    """``sig32`` of an x the caller has bounded: |x| < ``INSIDE`` (or x NaN). The clamp is the
    identity there, so the same bits without its two operations (a loop of sigmoids 10%
    faster: the clamp's vmaxps and vminps share the FMA pipes with the ``exp``)."""
    return ONE / (ONE + _exp_core(-x))


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def dot(a, b, n):
    """sum of a[i] * b[i] over i < n (vectorised; order fixed by the code and the length).
    Loops start at 0 on sliced arrays: numba then knows the index is not negative and
    drops the wrap-around test that stops vectorisation."""
    acc = F(0.0)
    for i in range(n):
        acc += a[i] * b[i]
    return acc


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def total(a, n):
    """sum of a[i] over i < n (vectorised, see ``dot``)."""
    acc = F(0.0)
    for i in range(n):
        acc += a[i]
    return acc
