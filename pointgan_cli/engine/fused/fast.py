"""The common step compiled on its own: BCE, Adam, alternating updates, no penalty, LeCam or
instance noise (every preset of the study but the literature's; a dense stability map).

Why a second path: the general step (``step``) runs every sample loop of D's step as separate
passes (forward, dL/dz, seven sums) through buffers, and asks at every step which options are
on. Here D's step is a few tight loops over one scratch buffer: each fake with its two hidden
pre-activations (the "real" slot's after the fakes, in the last vector), one loop of
sigmoids, the logits and their sigmoids, then the BCE slope and the seven sums in one pass
(``sig_all`` says why loops this small: one loop doing it all ran out of vector registers);
G's 64 samples are one pass; and Adam's bias corrections, which depend on the step alone, are
computed once per call for every run (``bias_table``) instead of two ``pow`` per update and
run. Same randomness, update order and float32 formulas as ``step``; only the sums' order
differs (``mathops`` says why that is allowed), so a run's numbers are still the same alone,
in any batch and with any number of threads. ``runs.train_steps`` picks this path per batch
(``is_common``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import layout
from .kernel import FOUR, ONE, TWO, ZERO, fill_draws, normal_scratch, record
from .layout import (
    DECAY,
    F_B1,
    F_B2,
    F_EPS,
    I_B,
    I_K,
    I_L2,
    I_MINIMAX,
    I_ND,
    I_NOISE,
    LR_D,
    LR_G,
    MD,
    MG,
    NTW_FAKE,
    NTW_REAL,
    PAD,
    REAL,
    VD,
    VG,
    W_FAKE,
    W_REAL,
    WD,
    D,
    G,
)
from .mathops import INSIDE, sig32, sig32_inside

F = np.float32
LANE = 64


is_common = njit(cache=True, error_model="numpy")(layout.is_common)
common_scratch = njit(cache=True, error_model="numpy")(layout.common_scratch)


@njit(cache=True, error_model="numpy")
def bias_table(Fs, first, last):
    """Adam's float32 bias corrections [1 - b1^n, sqrt(1 - b2^n)] for optimizer steps n from
    ``first`` to ``last`` (``kernel.direction``'s arithmetic, once per call, not per run)."""
    out = np.empty((max(0, last - first + 1), 2), np.float32)
    bias_fill(Fs, first, out)
    return out


@njit(cache=True, error_model="numpy")
def bias_fill(Fs, first, out):
    """``bias_table`` into out's rows."""
    for i in range(out.shape[0]):
        n = first + i
        out[i, 0] = F(1.0 - Fs[F_B1] ** n)
        out[i, 1] = F(math.sqrt(1.0 - Fs[F_B2] ** n))


@njit(cache=True, error_model="numpy")
def adam(S, r, p, m, v, n, grad, lr, bc1, sbc2, b1, b2, c1, c2, eps, decay):
    """``kernel.apply`` for Adam without the optimistic step: p <- p * decay - u."""
    step = lr / bc1
    for k in range(n):
        gk = grad[k]
        mk = S[r, m + k] * b1 + gk * c1
        vk = S[r, v + k] * b2 + gk * gk * c2
        S[r, m + k] = mk
        S[r, v + k] = vk
        uk = mk / (math.sqrt(vk) / sbc2 + eps) * step
        S[r, p + k] = S[r, p + k] * decay - uk if decay != ONE else S[r, p + k] - uk


@njit(cache=True, error_model="numpy")
def sig_all(X, n):
    """X[i] <- sigmoid(X[i]) for i < n. A loop of sigmoids alone compiles to 16-lane AVX-512
    code with every constant in a register; inside one pass doing all of D's step, with the
    logit, the slope and seven sums, the registers ran out (constants reloaded from the stack
    each iteration) and its three chained sigmoids were too long for the core to overlap."""
    for i in range(n):
        X[i] = sig32(X[i])


@njit(cache=True, error_model="numpy")
def sig_all_inside(X, n):
    """``sig_all`` of values the caller has bounded below ``INSIDE`` (``sig32_inside``). A
    function of its own, not a flag of ``sig_all``: both forms of the flag (a branch around
    two loops, a condition inside one) measured 0.7-2% slower in the kernel."""
    for i in range(n):
        X[i] = sig32_inside(X[i])


@njit(inline="always", cache=True, error_model="numpy")
def hidden_inside(A0, B0, A1, B1, vmax):
    """Whether D's two hidden pre-activations ``A v + B`` are below ``INSIDE`` for every
    |v| <= vmax."""
    return abs(A0) * vmax + abs(B0) < INSIDE and abs(A1) * vmax + abs(B1) < INSIDE


@njit(inline="always", cache=True, error_model="numpy")
def logit_inside(a0, a1, c):
    """Whether D's logit ``a0 s0 + c + a1 s1`` is below ``INSIDE`` for every s0, s1 in
    [0, 1] (the hidden sigmoids)."""
    return abs(a0) + abs(a1) + abs(c) < INSIDE


@njit(cache=True, error_model="numpy")
def hidden(m, a0, a1, c, Z, inside):
    """Z[:m], Z[m:2m] hold two hidden pre-activations per slot: their sigmoids in place,
    then D's logit into Z[2m:3m] (``kernel.forward``'s float32 formulas). ``inside``: every
    pre-activation is bounded below ``INSIDE`` (``d_grad`` says how it knows)."""
    H0, H1, L = Z[0:m], Z[m:2 * m], Z[2 * m:3 * m]
    if inside:
        sig_all_inside(Z, 2 * m)
    else:
        sig_all(Z, 2 * m)
    for i in range(m):
        L[i] = H0[i] * a0 + c + H1[i] * a1


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def g_grad(S, r, B, minimax, XB, out):
    """``step.g_grad`` for BCE without instance noise, in one pass over the B samples
    (forward, the G loss's slope, its chain through D, and the two sums); where every
    pre-activation is bounded below ``INSIDE`` (|x| <= 1: |v| <= |w| + |b|; the logit's by
    |a0| + |a1| + |c|), the sigmoids skip their clamp (``sig32_inside``: the same bits)."""
    w, b = S[r, G], S[r, G + 1]
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    inside = hidden_inside(A0, B0, A1, B1, abs(w) + abs(b)) and logit_inside(a0, a1, c)
    g_pass(XB, B, minimax, w, b, A0, A1, B0, B1, a0, a1, c, inside, out)


@njit(inline="always", cache=True, error_model="numpy")
def g_slope(s0, s1, e, wx, minimax, k0, k1):
    """dL_G/dv at one sample from D's hidden sigmoids s0, s1 and output e (inlined into the
    passes below, under their flags)."""
    gz = -(e * wx) if minimax else -wx + e * wx
    q0, q1 = s0 - s0 * s0, s1 - s1 * s1
    return gz * (q0 * k0 + q1 * k1)


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def g_pass(XB, B, minimax, w, b, A0, A1, B0, B1, a0, a1, c, inside, out):
    """``g_grad``'s pass over the samples; ``inside``: every pre-activation is bounded below
    ``INSIDE`` (``sig32_inside``; the condition is the loop's own, so LLVM compiles the
    loop twice and picks one per call)."""
    wx = ONE / F(B)
    k0, k1 = A0 * a0, A1 * a1
    sx, sg = ZERO, ZERO
    for i in range(B):
        x = XB[i]
        v = x * w + b
        p0, p1 = A0 * v + B0, A1 * v + B1
        s0 = sig32_inside(p0) if inside else sig32(p0)
        s1 = sig32_inside(p1) if inside else sig32(p1)
        p2 = s0 * a0 + c + s1 * a1
        e = sig32_inside(p2) if inside else sig32(p2)
        gz = g_slope(s0, s1, e, wx, minimax, k0, k1)
        sx += gz * x
        sg += gz
    out[0], out[1] = sx, sg


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def d_sums(V, n, m, w, ntw, Z, out):
    """D's seven raw sums [suv0, suv1, su0, su1, sgs0, sgs1, sg] over its n fakes from
    ``hidden``'s Z, rows of m (the logit's sigmoid in place; ``loss_dz`` for BCE and
    ``d_sums``)."""
    H0, H1, E = Z[0:n], Z[m:m + n], Z[2 * m:2 * m + n]
    sg, sgs0, sgs1 = ZERO, ZERO, ZERO
    su0, su1, suv0, suv1 = ZERO, ZERO, ZERO, ZERO
    for i in range(n):
        v, s0, s1 = V[i], H0[i], H1[i]
        gz = ntw + E[i] * w
        gs0 = gz * s0
        gs1 = gz * s1
        u0 = gs0 - gs0 * s0
        u1 = gs1 - gs1 * s1
        sg += gz
        sgs0 += gs0
        sgs1 += gs1
        su0 += u0
        su1 += u1
        suv0 += u0 * v
        suv1 += u1 * v
    out[0], out[1], out[2], out[3] = suv0, suv1, su0, su1
    out[4], out[5], out[6] = sgs0, sgs1, sg


@njit(cache=True, error_model="numpy")
def fake_sums(V, n, m, a0, a1, c, w, ntw, Z, out, inside):
    """D's step over its n fakes V (``kernel.forward``, ``loss_dz`` for BCE and ``d_sums``),
    their pre-activations in rows of m >= n of Z (the real slot's after them), as vectorised
    stages through Z (3m floats): out gets the fakes' raw sums. ``inside``: the hidden
    pre-activations are bounded below ``INSIDE``; the logits are when |a0| + |a1| + |c| is
    (each hidden sigmoid is in [0, 1])."""
    hidden(m, a0, a1, c, Z, inside)
    if logit_inside(a0, a1, c):
        sig_all_inside(Z[2 * m:3 * m], m)
    else:
        sig_all(Z[2 * m:3 * m], m)
    d_sums(V, n, m, w, ntw, Z, out)


@njit(cache=True, error_model="numpy")
def d_grad(S, r, H, B, K, j, gw, gb, XB, EPS, noise, l2, V, Z, out):
    """``step.d_grad`` for the common options: the fakes of sub-step j from the generator
    (gw, gb) plus its noise draws, then the real slot standing for all 64 (weights times 64)."""
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    x0, n = j * B, K * B
    m = n + PAD
    xk = XB[x0:x0 + B]
    vmax = abs(H[r, REAL])  # a bound of |v| over the slots: |x w + b| <= |w| + |b|, |x| <= 1
    for k in range(K):
        wk = EPS[(j * K + k) * 2] + gw if noise else gw
        bk = EPS[(j * K + k) * 2 + 1] + gb if noise else gb
        t = abs(wk) + abs(bk)
        vmax = t if t > vmax else vmax  # a NaN t is dropped: NaN inputs give NaN either way
        o = k * B
        vk, h0, h1 = V[o:o + B], Z[o:o + B], Z[m + o:m + o + B]
        for b in range(B):
            v = xk[b] * wk + bk
            vk[b] = v
            h0[b] = A0 * v + B0
            h1[b] = A1 * v + B1
    v = H[r, REAL]
    Z[n], Z[m + n] = A0 * v + B0, A1 * v + B1
    inside = hidden_inside(A0, B0, A1, B1, vmax)
    fake_sums(V, n, m, a0, a1, c, H[r, W_FAKE], H[r, NTW_FAKE], Z, out, inside)
    rep = F(LANE)
    s0, s1 = Z[n], Z[m + n]
    gz = H[r, NTW_REAL] * rep + Z[2 * m + n] * (H[r, W_REAL] * rep)
    gs0, gs1 = gz * s0, gz * s1
    u0, u1 = gs0 - gs0 * s0, gs1 - gs1 * s1
    sg = out[6] + gz
    suv0, suv1 = out[0] + u0 * v, out[1] + u1 * v
    su0, su1 = out[2] + u0, out[3] + u1
    sgs0, sgs1 = out[4] + gs0, out[5] + gs1
    w4a, w4b = S[r, D + 4] * FOUR, S[r, D + 5] * FOUR
    out[0], out[1], out[2], out[3] = suv0 * w4a, suv1 * w4b, su0 * w4a, su1 * w4b
    out[4], out[5], out[6] = sgs0 * TWO - sg, sgs1 * TWO - sg, sg
    if l2:
        wd = H[r, WD]
        for k in range(7):
            out[k] = out[k] + S[r, D + k] * wd


@njit(cache=True, error_model="numpy")
def run_steps(S, r, seed, t0, t1, H, IS, Fs, BC, first, SNAP, every):
    """``step.run_steps`` for the common options; BC: ``bias_table`` from step ``first``."""
    B, K, nd = IS[I_B], IS[I_K], IS[I_ND]
    XB = np.zeros(nd * B, np.float32)
    EPS = np.zeros(nd * K * 2, np.float32)
    NS = normal_scratch(IS, 0)
    V = np.zeros(K * B, np.float32)
    Z = np.zeros(3 * (K * B + PAD), np.float32)
    gg, gd = np.zeros(2, np.float32), np.zeros(7, np.float32)
    run_steps_in(S, r, seed, t0, t1, H, IS, Fs, BC, first, SNAP, every, XB, EPS, NS, V, Z, gg,
                 gd)


@njit(cache=True, error_model="numpy")
def run_steps_in(S, r, seed, t0, t1, H, IS, Fs, BC, first, SNAP, every, XB, EPS, NS, V, Z, gg,
                 gd):
    """``run_steps`` in the caller's buffers."""
    B, K, nd = IS[I_B], IS[I_K], IS[I_ND]
    none = NS[6]
    noise, l2, minimax = IS[I_NOISE] == 1, IS[I_L2] == 1, IS[I_MINIMAX] == 1
    lr_g, lr_d = H[r, LR_G], H[r, LR_D]
    decay = ONE if l2 else H[r, DECAY]  # L2 decay is in the gradient
    b1, b2 = F(Fs[F_B1]), F(Fs[F_B2])
    c1, c2 = F(1.0 - Fs[F_B1]), F(1.0 - Fs[F_B2])
    eps = F(Fs[F_EPS])
    for t in range(t0, t1):
        fill_draws(seed, t, IS, H, r, XB, EPS, none, none, NS)
        g_grad(S, r, B, minimax, XB, gg)
        n = t + 1 - first
        adam(S, r, G, MG, VG, 2, gg, lr_g, BC[n, 0], BC[n, 1], b1, b2, c1, c2, eps, ONE)
        for j in range(nd):
            d_grad(S, r, H, B, K, j, S[r, G], S[r, G + 1], XB, EPS, noise, l2, V, Z, gd)
            n = t * nd + 1 + j - first
            adam(S, r, D, MD, VD, 7, gd, lr_d, BC[n, 0], BC[n, 1], b1, b2, c1, c2, eps,
                 decay)
        record(S, r, t, t0, every, SNAP)
