"""The fused step on a GPU (numba.cuda): one thread per run, its state in ``S``'s row, the
samples streamed instead of buffered.

Why streamed: a GPU thread has registers, not an L1 buffer of its own, so each D sample is
drawn, evaluated and summed in one pass (the CPU kernel's buffers exist to vectorise across a
run's samples, which a GPU does across runs instead). The randomness (``hashrng``) and the
optimizer updates (``kernel.apply``) are the CPU kernel's own source compiled for the device
(``device_versions``), the update order is ``step.run_steps``'; the sums accumulate in sample
order. Options the streamed step does not have
(instance noise, penalties, LeCam) train on the CPU engines' fallback (``cuda_support``).

Tested on the CPU with numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``); not yet measured on
a GPU.
"""

from __future__ import annotations

import math
from types import FunctionType, SimpleNamespace

import numpy as np
from numba import cuda

from . import hashrng, kernel
from .kernel import LANE, ONE, TWO
from .layout import (
    DECAY,
    I_B,
    I_K,
    I_L2,
    I_LOSS,
    I_MINIMAX,
    I_ND,
    I_NOISE,
    I_SCHEME,
    LR_D,
    LR_G,
    MD,
    MG,
    NOISE,
    NTW_FAKE,
    NTW_REAL,
    REAL,
    UD,
    UG,
    VD,
    VG,
    W_FAKE,
    W_REAL,
    WD,
    D,
    G,
)

F = np.float32
STREAM_X, STREAM_NOISE, STREAM_X_EXTRA, STREAM_NOISE_EXTRA = 2, 3, 4, 5


def device_versions(*funcs) -> SimpleNamespace:
    """CUDA device functions from the CPU kernel's own source: each ``@njit`` function's code
    recompiled for the device, with the helpers it calls (listed before it) swapped for their
    device versions. One definition of the randomness and the optimizer updates serves both
    targets."""
    made: dict = {}
    for f in funcs:
        py = f.py_func
        scope = {**py.__globals__, **made}
        fn = FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)
        # NAME_ops: NAME in plain operations, where the CPU's is an LLVM intrinsic
        made[py.__name__.removesuffix("_ops")] = cuda.jit(device=True)(fn)
    return SimpleNamespace(**made)


h = device_versions(hashrng.mix32_ops, hashrng.stream_key, hashrng.step_key, hashrng.bits,
                    hashrng.u24, hashrng.uniform32, hashrng.normal_pair)
apply = device_versions(kernel.direction, kernel.apply).apply


@cuda.jit(device=True)
def sig(x):
    return ONE / (ONE + math.exp(-x))


@cuda.jit(device=True)
def x_key(seed, t, j):
    if j == 0:
        return h.step_key(h.stream_key(seed, STREAM_X), t)
    return h.step_key(h.stream_key(seed, STREAM_X_EXTRA), t * 64 + j)


@cuda.jit(device=True)
def noise_key(seed, t, j):
    if j == 0:
        return h.step_key(h.stream_key(seed, STREAM_NOISE), t)
    return h.step_key(h.stream_key(seed, STREAM_NOISE_EXTRA), t * 64 + j)


@cuda.jit(device=True)
def g_grad(S, r, seed, t, IS, out):
    """``grads.grads_g`` streamed over the B samples of step t."""
    B, loss = IS[I_B], IS[I_LOSS]
    w, b = S[r, G], S[r, G + 1]
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    wx = ONE / F(B)
    k0, k1 = A0 * a0, A1 * a1
    sk = x_key(seed, t, 0)
    gw, gb = F(0.0), F(0.0)
    for i in range(B):
        x = h.uniform32(sk, i) * TWO - ONE
        y = x * w + b
        s0, s1 = sig(A0 * y + B0), sig(A1 * y + B1)
        z = s0 * a0 + c + s1 * a1
        if loss == 0 and IS[I_MINIMAX] == 1:
            dz = -(sig(z) * wx)
        elif loss == 0:
            dz = -wx + sig(z) * wx
        elif loss == 1:
            dz = -wx + z * wx
        else:
            dz = -wx
        dy = dz * ((s0 - s0 * s0) * k0 + (s1 - s1 * s1) * k1)
        gw += dy * x
        gb += dy
    out[0], out[1] = gw, gb


@cuda.jit(device=True)
def dz_of(z, loss, w, ntw, sgn):
    if loss == 0:
        return ntw + sig(z) * w
    if loss == 1:
        return ntw + z * w
    if loss == 2:
        return w * sgn if z * sgn > F(-1.0) else F(0.0)
    return w * sgn


@cuda.jit(device=True)
def d_grad(S, r, H, seed, t, j, IS, gw, gb, out):
    """``BatchTrainer._d_grad_at`` streamed: K * B fakes from (gw, gb), then the real slot
    (one evaluation standing for LANE, as in the CPU kernel)."""
    B, K, loss = IS[I_B], IS[I_K], IS[I_LOSS]
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    skx, skn = x_key(seed, t, j), noise_key(seed, t, j)
    scale = H[r, NOISE]
    wf, nf = H[r, W_FAKE], H[r, NTW_FAKE]
    sg = sgs0 = sgs1 = su0 = su1 = suv0 = suv1 = F(0.0)
    for k in range(K + 1):
        real = k == K
        if real:
            wk, bk, n = F(0.0), H[r, REAL], 1
            wf, nf, sgn = H[r, W_REAL] * F(LANE), H[r, NTW_REAL] * F(LANE), F(-1.0)
        else:
            wk, bk, n, sgn = gw, gb, B, ONE
            if IS[I_NOISE] == 1:
                e0, e1 = h.normal_pair(skn, k)
                wk, bk = e0 * scale + gw, e1 * scale + gb
        for i in range(n):
            v = bk if real else (h.uniform32(skx, i) * TWO - ONE) * wk + bk
            s0, s1 = sig(A0 * v + B0), sig(A1 * v + B1)
            gz = dz_of(s0 * a0 + c + s1 * a1, loss, wf, nf, sgn)
            gs0, gs1 = gz * s0, gz * s1
            u0, u1 = gs0 - gs0 * s0, gs1 - gs1 * s1
            sg += gz
            sgs0 += gs0
            sgs1 += gs1
            su0 += u0
            su1 += u1
            suv0 += u0 * v
            suv1 += u1 * v
    w4a, w4b = S[r, D + 4] * F(4.0), S[r, D + 5] * F(4.0)
    out[0], out[1], out[2], out[3] = suv0 * w4a, suv1 * w4b, su0 * w4a, su1 * w4b
    out[4], out[5], out[6] = sgs0 * TWO - sg, sgs1 * TWO - sg, sg
    if IS[I_L2] == 1:
        wd = H[r, WD]
        for q in range(7):
            out[q] = out[q] + S[r, D + q] * wd


@cuda.jit
def train_steps_cuda(S, alive, seeds, t0, t1, H, IS, Fs):
    """Every alive run from step t0 to t1: one thread per run (``step.run_steps``' order)."""
    r = cuda.grid(1)
    if r >= S.shape[0] or not alive[r]:
        return
    gg = cuda.local.array(2, np.float32)
    gd = cuda.local.array(7, np.float32)
    u = cuda.local.array(7, np.float32)
    seed = seeds[r]
    nd, scheme = IS[I_ND], IS[I_SCHEME]
    lr_g, lr_d = H[r, LR_G], H[r, LR_D]
    decay = ONE if IS[I_L2] == 1 else H[r, DECAY]
    for t in range(t0, t1):
        td = t * nd + 1
        g_grad(S, r, seed, t, IS, gg)
        if scheme == 0:
            apply(S, r, G, MG, VG, 2, gg, lr_g, t + 1, IS, Fs, ONE, UG, False, t == 0, u)
            d_grad(S, r, H, seed, t, 0, IS, S[r, G], S[r, G + 1], gd)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td, IS, Fs, decay, UD, False, t == 0, u)
        else:
            d_grad(S, r, H, seed, t, 0, IS, S[r, G], S[r, G + 1], gd)
            opt = scheme == 3
            apply(S, r, G, MG, VG, 2, gg, lr_g, t + 1, IS, Fs, ONE, UG, opt, t == 0, u)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td, IS, Fs, decay, UD, opt, t == 0, u)
        for j in range(1, nd):
            d_grad(S, r, H, seed, t, j, IS, S[r, G], S[r, G + 1], gd)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td + j, IS, Fs, decay, UD, False, False, u)


THREADS = 128  # threads per block


def advance(S, alive, seeds, t0: int, t1: int, H, IS, Fs) -> None:
    """Launch ``train_steps_cuda`` over device arrays (one thread per run)."""
    blocks = -(-S.shape[0] // THREADS)
    train_steps_cuda[blocks, THREADS](S, alive, seeds, t0, t1, H, IS, Fs)
