"""The fused step: every run's whole training step in one compiled loop (numba, CPU).

Why: the torch engine spends a step in about a hundred small tensor operations and their
(R, 2, N) temporaries; here a ``prange`` over runs gives each run to one thread, which keeps
its nine parameters and optimizer state in a row of ``S`` and the step's samples in small
buffers that stay in L1, and runs the torch engine's step on them: the same randomness bit for
bit (``hashrng``), the same update order and float32 formulas (``grads``, ``optimizers``).
The sums and the sigmoids' ``exp`` round differently (``mathops``), so trajectories agree
with the torch engine's to float32 rounding, and verdicts statistically (docs/performance.md).

Each run is computed alone by the same code, so its numbers are the same alone, in any batch
and with any number of threads. The D step's 64 "real" slots all hold the real value unless
instance noise moves them: one slot then stands for all 64, its weights times 64 (exact).

``train_steps`` advances runs from step t0 to t1, recording their parameters at every snapshot
step on the way (``record``); the host (``trainer``) picks t1 at the next checkpoint (or stop
check) and handles divergence at each recorded snapshot, as the torch engine does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import hashrng as h
from .layout import (
    F_B1,
    F_B2,
    F_EPS,
    F_MOM,
    I_B,
    I_BP,
    I_GP,
    I_INST,
    I_K,
    I_ND,
    I_NOISE,
    I_SGD,
    INST,
    NOISE,
    NOISE_STEPS,
)
from .mathops import dot, sig32, total

F = np.float32
ZERO, ONE, TWO, FOUR = F(0.0), F(1.0), F(2.0), F(4.0)
STREAM_X, STREAM_NOISE, STREAM_X_EXTRA, STREAM_NOISE_EXTRA = 2, 3, 4, 5
STREAM_INSTANCE, STREAM_GP = 6, 7
LANE = 64


@njit(cache=True, error_model="numpy")
def forward(V, n, A0, B0, A1, B1, a0, a1, c, S0, S1, Z):
    """Hidden sigmoids and logits of D at V[:n] (as ``grads.d_forward``). Every hot loop
    runs over range(n) on arrays sliced by the caller (``mathops.dot`` says why)."""
    for i in range(n):
        v = V[i]
        s0 = sig32(A0 * v + B0)
        s1 = sig32(A1 * v + B1)
        S0[i] = s0
        S1[i] = s1
        Z[i] = s0 * a0 + c + s1 * a1


@njit(cache=True, error_model="numpy")
def loss_dz(Z, GZ, n, loss, w, ntw, sgn):
    """dL/dz per D slot (``grads.d_dz``): weight w, ntw = -w * target, sgn +1 fake / -1 real."""
    if loss == 0:  # bce
        for i in range(n):
            GZ[i] = ntw + sig32(Z[i]) * w
    elif loss == 1:  # lsgan
        for i in range(n):
            GZ[i] = ntw + Z[i] * w
    elif loss == 2:  # hinge
        for i in range(n):
            GZ[i] = w * sgn if Z[i] * sgn > F(-1.0) else ZERO
    else:  # wgan
        for i in range(n):
            GZ[i] = w * sgn


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def d_sums(V, S0, S1, GZ, U0, U1, n, out):
    """The D gradient's sums over n slots (``grads.grads_d``) into out (7,), in one pass with
    seven accumulators (seven separate passes cost more than twice as much); reordered sums
    only, as ``mathops.dot`` (U0, U1 are unused: kept for the signature)."""
    sg, sgs0, sgs1 = ZERO, ZERO, ZERO
    su0, su1, suv0, suv1 = ZERO, ZERO, ZERO, ZERO
    for i in range(n):
        gz, s0, s1, v = GZ[i], S0[i], S1[i], V[i]
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
    out[4], out[5], out[6] = sgs0 * TWO - sg, sgs1 * TWO - sg, sg


@njit(cache=True, error_model="numpy")
def penalty(V, n, om, weight, centre, A0, B0, A1, B1, a0, a1, P0, P1, P2, P3, out):
    """Add the gradient of ``sum omega P(phi(v))`` over V[:n] to out (``grads_penalty``),
    omega the constant om (every penalty's weights are equal over the slots it reads)."""
    aA0, aA1 = a0 * A0, a1 * A1
    for k in range(n):
        v = V[k]
        s0 = sig32(A0 * v + B0)
        s1 = sig32(A1 * v + B1)
        q0, q1 = s0 - s0 * s0, s1 - s1 * s1
        qp0, qp1 = q0 - TWO * q0 * s0, q1 - TWO * q1 * s1
        phi = q0 * aA0 + q1 * aA1
        if centre == 0:
            gphi = phi * weight * om
        else:
            sgn = ONE if phi > ZERO else (F(-1.0) if phi < ZERO else ZERO)
            gphi = (abs(phi) - ONE) * sgn * (weight * TWO) * om
        P0[k], P1[k] = gphi * q0, gphi * q1
        P2[k], P3[k] = gphi * qp0, gphi * qp1
    sq0, sq1 = total(P0, n), total(P1, n)
    sqp0, sqp1 = total(P2, n), total(P3, n)
    sqpv0, sqpv1 = dot(P2, V, n), dot(P3, V, n)
    out[0] += (a0 * sq0 + aA0 * sqpv0) * TWO
    out[1] += (a1 * sq1 + aA1 * sqpv1) * TWO
    out[2] += aA0 * sqp0 * TWO
    out[3] += aA1 * sqp1 * TWO
    out[4] += A0 * sq0 * TWO
    out[5] += A1 * sq1 * TWO


@njit(cache=True, error_model="numpy")
def direction(S, r, p, m, v, n, grad, lr, t, IS, Fs, out):
    """One optimizer step's ``u`` (``Optimizers._direction``) with the state updated in place."""
    if IS[I_SGD] == 1:
        mom = F(Fs[F_MOM])
        for k in range(n):
            gk = grad[k]
            if Fs[F_MOM] > 0.0:
                gk = gk if t == 1 else S[r, m + k] * mom + gk
                S[r, m + k] = gk
            out[k] = gk * lr
        return
    b1, b2 = F(Fs[F_B1]), F(Fs[F_B2])
    c1, c2 = F(1.0 - Fs[F_B1]), F(1.0 - Fs[F_B2])
    bc1 = F(1.0 - Fs[F_B1] ** t)
    sbc2 = F(math.sqrt(1.0 - Fs[F_B2] ** t))
    eps = F(Fs[F_EPS])
    step = lr / bc1
    for k in range(n):
        gk = grad[k]
        mk = S[r, m + k] * b1 + gk * c1
        vk = S[r, v + k] * b2 + gk * gk * c2
        S[r, m + k] = mk
        S[r, v + k] = vk
        out[k] = mk / (math.sqrt(vk) / sbc2 + eps) * step


@njit(cache=True, error_model="numpy")
def apply(S, r, p, m, v, n, grad, lr, t, IS, Fs, decay, prev, optimistic, first, u):
    """p <- p * decay - u (optimistic: 2 u - u_prev, u_prev <- u; the first step is plain)."""
    direction(S, r, p, m, v, n, grad, lr, t, IS, Fs, u)
    for k in range(n):
        uk = u[k]
        if optimistic:
            old = S[r, prev + k]
            S[r, prev + k] = uk
            if not first:
                uk = uk * TWO - old
        S[r, p + k] = S[r, p + k] * decay - uk if decay != ONE else S[r, p + k] - uk


@njit(inline="always", cache=True, error_model="numpy")
def record(S, r, t, t0, every, SNAP):
    """After step t (0-based; t + 1 steps done) of a call that began at t0: when t + 1 is a
    snapshot step (a multiple of ``every``), run r's parameters (G then D) go to its row of
    SNAP (R, snapshots, 9), one slot per snapshot step of the call, so the host reads every
    snapshot of a long call after it."""
    if (t + 1) % every == 0:
        j = (t + 1) // every - t0 // every - 1
        if j < SNAP.shape[1]:
            for k in range(9):
                SNAP[r, j, k] = S[r, k]


@njit(cache=True, error_model="numpy")
def normal_scratch(IS, n_inst):
    """Scratch for ``fill_draws``'s normals, in whole blocks: the G-noise pairs of
    NOISE_STEPS steps (their step keys and pair indices, uniforms, values; the first step they
    hold), and the instance noise's n_inst values of one step (its own values, the same
    uniforms' scratch)."""
    room = h.pair_room(max(NOISE_STEPS * IS[I_ND] * IS[I_K], (n_inst + 1) // 2))
    inst = h.pair_room((n_inst + 1) // 2) if n_inst else 0
    return (np.zeros(room, np.uint64), np.zeros(room, np.int64), np.zeros(room),
            np.zeros(room), np.zeros(2 * room, np.float32), np.full(1, -1, np.int64),
            np.zeros(2 * inst, np.float32))


@njit(cache=True, error_model="numpy")
def noise_block(seed, t, nd, K, NS):
    """The G-noise pairs of steps t to t + NOISE_STEPS - 1 (each sub-step's K pairs) into
    ``normal_scratch``'s NS, in one pass; steps past the call's end are drawn and unused."""
    KEYS, IDX, U0, U1, Z, first = NS[0], NS[1], NS[2], NS[3], NS[4], NS[5]
    kn, kx = h.stream_key(seed, STREAM_NOISE), h.stream_key(seed, STREAM_NOISE_EXTRA)
    i = 0
    for c in range(NOISE_STEPS):
        for j in range(nd):
            sk = h.step_key(kn, t + c) if j == 0 else h.step_key(kx, (t + c) * 64 + j)
            for k in range(K):
                KEYS[i], IDX[i] = sk, k
                i += 1
    n = h.pair_room(i)
    h.normal_block(KEYS[:n], IDX[:n], U0[:n], U1[:n], Z)
    first[0] = t


@njit(inline="always", cache=True, error_model="numpy")
def fill_draws(seed, t, IS, H, r, XB, EPS, INSB, GPB, NS):
    """Step t's randomness for one run (``randomness._fill_chunk``): x per D sub-step (B),
    G-noise (n_d, K, 2) scaled, instance noise (Bp + n_d N) scaled, WGAN-GP weights. NS:
    ``normal_scratch``'s buffers; the G-noise of the next steps waits there (``noise_block``),
    so run steps in increasing order with one NS."""
    B, Bp, K, nd = IS[I_B], IS[I_BP], IS[I_K], IS[I_ND]
    sk = h.step_key(h.stream_key(seed, STREAM_X), t)
    for b in range(B):
        XB[b] = h.uniform32(sk, b) * TWO - ONE
    if nd > 1:
        kx = h.stream_key(seed, STREAM_X_EXTRA)
        for j in range(1, nd):
            sk = h.step_key(kx, t * 64 + j)
            for b in range(B):
                XB[j * B + b] = h.uniform32(sk, b) * TWO - ONE
    if IS[I_NOISE] == 1:
        scale = H[r, NOISE]
        first = NS[5][0]
        if first < 0 or t < first or t >= first + NOISE_STEPS:
            noise_block(seed, t, nd, K, NS)
            first = t
        Z, o = NS[4], (t - first) * nd * K * 2
        for i in range(nd * K * 2):
            EPS[i] = Z[o + i] * scale
    if IS[I_INST] == 1:
        scale = H[r, INST]
        n = INSB.shape[0]
        sk = h.step_key(h.stream_key(seed, STREAM_INSTANCE), t)
        room = h.pair_room((n + 1) // 2)
        h.normal_pairs(sk, NS[2][:room], NS[3][:room], NS[6])
        for i in range(n):
            INSB[i] = NS[6][i] * scale
    if IS[I_GP] == 1:
        sk = h.step_key(h.stream_key(seed, STREAM_GP), t)
        for i in range(nd * Bp):
            GPB[i] = h.uniform32(sk, i)
