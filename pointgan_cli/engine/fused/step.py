"""One run's training steps in the fused kernel, every option (``runs`` calls it per run).

The order is ``engine.BatchTrainer._step``'s: alternating (G steps, then D at the new G) or
simultaneous (both gradients at (G_t, D_t)), extragradient (both taken again at the look-ahead
point one optimizer step on a copy of the state reaches), optimistic as simultaneous with
``2 u_t - u_{t-1}``,
then ``d_steps - 1`` extra D steps; the optimizers' step counts are the torch engine's (G: t + 1,
D: t * d_steps + 1 + j). The samples of D's step: K * B fakes (padding carries weight 0 in the
torch engine and is skipped here), then the real slots (see ``kernel``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernel import (
    FOUR,
    LANE,
    ONE,
    TWO,
    apply,
    d_sums,
    fill_draws,
    forward,
    loss_dz,
    normal_scratch,
    penalty,
    record,
)
from .layout import (
    DECAY,
    GP,
    I_B,
    I_BP,
    I_GP,
    I_INST,
    I_K,
    I_L2,
    I_LECAM,
    I_LOSS,
    I_MINIMAX,
    I_ND,
    I_NOISE,
    I_R1,
    I_R2,
    I_SCHEME,
    LC,
    LC_DECAY,
    LC_RATE,
    LC_W_FAKE,
    LC_W_REAL,
    LR_D,
    LR_G,
    MD,
    MG,
    NTW_FAKE,
    NTW_REAL,
    OMEGA_FAKE,
    R1,
    R2,
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
from .mathops import dot, sig32, total

F = np.float32


@njit(cache=True, error_model="numpy")
def g_grad(S, r, IS, XB, INSB, V, S0, S1, Z, GZ, out):
    """Gradient [dw, db] of the G loss (``grads.grads_g``) at the current G and D."""
    B, loss = IS[I_B], IS[I_LOSS]
    w, b = S[r, G], S[r, G + 1]
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    inst = IS[I_INST] == 1
    for i in range(B):
        y = XB[i] * w + b
        V[i] = y + INSB[i] if inst else y
    forward(V, B, A0, B0, A1, B1, a0, a1, c, S0, S1, Z)
    wx = ONE / F(B)
    k0, k1 = A0 * a0, A1 * a1
    if loss == 0 and IS[I_MINIMAX] == 1:
        for i in range(B):
            GZ[i] = -(sig32(Z[i]) * wx)
    elif loss == 0:
        for i in range(B):
            GZ[i] = -wx + sig32(Z[i]) * wx
    elif loss == 1:
        for i in range(B):
            GZ[i] = -wx + Z[i] * wx
    else:
        for i in range(B):
            GZ[i] = -wx
    for i in range(B):
        q0, q1 = S0[i] - S0[i] * S0[i], S1[i] - S1[i] * S1[i]
        GZ[i] = GZ[i] * (q0 * k0 + q1 * k1)
    out[0] = dot(GZ, XB, B)
    out[1] = total(GZ, B)


@njit(cache=True, error_model="numpy")
def d_grad(S, r, H, IS, j, gw, gb, XB, EPS, INSB, GPB, V, S0, S1, Z, GZ, U0, U1, P, out, lcn):
    """Gradient (7,) of the D loss, penalties and L2 term at D sub-step j, with fakes from the
    generator (gw, gb) (``BatchTrainer._d_grad_at``); lcn gets LeCam's anchors."""
    B, Bp, K, loss = IS[I_B], IS[I_BP], IS[I_K], IS[I_LOSS]
    A0, A1, B0, B1 = S[r, D] * TWO, S[r, D + 1] * TWO, S[r, D + 2] * TWO, S[r, D + 3] * TWO
    a0, a1 = S[r, D + 4] * TWO, S[r, D + 5] * TWO
    c = (S[r, D + 6] - S[r, D + 4]) - S[r, D + 5]
    inst = IS[I_INST] == 1
    nfe = K * B
    N = K * Bp + LANE
    base = Bp + j * N  # this sub-step's instance noise
    x0 = j * B
    noise = IS[I_NOISE] == 1
    x = XB[x0:x0 + B]
    for k in range(K):
        wk = EPS[(j * K + k) * 2] + gw if noise else gw
        bk = EPS[(j * K + k) * 2 + 1] + gb if noise else gb
        vk = V[k * B:(k + 1) * B]
        for b in range(B):
            vk[b] = x[b] * wk + bk
        if inst:
            nk = INSB[base + k * Bp:base + k * Bp + B]
            for b in range(B):
                vk[b] = vk[b] + nk[b]
    nr = LANE if inst else 1
    real = H[r, REAL]
    for m in range(nr):
        V[nfe + m] = INSB[base + K * Bp + m] + real if inst else real
    n = nfe + nr
    forward(V, n, A0, B0, A1, B1, a0, a1, c, S0, S1, Z)
    # the real slots' weights stand for LANE / nr slots each (times 64 is exact)
    rep = F(LANE // nr)
    loss_dz(Z, GZ, nfe, loss, H[r, W_FAKE], H[r, NTW_FAKE], ONE)
    loss_dz(Z[nfe:], GZ[nfe:], nr, loss, H[r, W_REAL] * rep, H[r, NTW_REAL] * rep, F(-1.0))
    if IS[I_LECAM] == 1:
        mean_f = total(Z, nfe) * H[r, OMEGA_FAKE]
        mean_r = total(Z[nfe:], nr) * (ONE / F(LANE)) * rep
        a_real = S[r, LC] * H[r, LC_DECAY] + mean_r * H[r, LC_RATE]
        a_fake = S[r, LC + 1] * H[r, LC_DECAY] + mean_f * H[r, LC_RATE]
        lwf, lwr = H[r, LC_W_FAKE], H[r, LC_W_REAL] * rep
        for i in range(nfe):
            GZ[i] = GZ[i] + (Z[i] - a_real) * lwf
        for i in range(nfe, n):
            GZ[i] = GZ[i] + (Z[i] - a_fake) * lwr
        lcn[0], lcn[1] = a_real, a_fake
    d_sums(V, S0, S1, GZ, U0, U1, n, out)
    w4a, w4b = S[r, D + 4] * FOUR, S[r, D + 5] * FOUR
    out[0], out[1], out[2], out[3] = out[0] * w4a, out[1] * w4b, out[2] * w4a, out[3] * w4b
    M = P.shape[0] // 4
    P0, P1, P2, P3 = P[:M], P[M:2 * M], P[2 * M:3 * M], P[3 * M:]
    if IS[I_R1] == 1:
        penalty(V[nfe:], nr, (ONE / F(LANE)) * rep, H[r, R1], 0,
                A0, B0, A1, B1, a0, a1, P0, P1, P2, P3, out)
    if IS[I_R2] == 1:
        penalty(V, nfe, H[r, OMEGA_FAKE], H[r, R2], 0,
                A0, B0, A1, B1, a0, a1, P0, P1, P2, P3, out)
    if IS[I_GP] == 1:
        mix = V[n:n + B]  # the interpolates go after the slots
        for b in range(B):
            fk = V[b]
            rv = V[nfe + (b % LANE if inst else 0)]
            mix[b] = fk + GPB[j * Bp + b] * (rv - fk)
        penalty(mix, B, ONE / F(B), H[r, GP], 1,
                A0, B0, A1, B1, a0, a1, P0, P1, P2, P3, out)
    if IS[I_L2] == 1:
        wd = H[r, WD]
        for k in range(7):
            out[k] = out[k] + S[r, D + k] * wd



@njit(cache=True, error_model="numpy")
def run_steps(S, r, seed, t0, t1, H, IS, Fs, SNAP, every):
    """Run r from step t0 to t1 (``BatchTrainer._step`` each step), its snapshots into SNAP
    (``kernel.record``)."""
    B, Bp, K, nd, scheme = IS[I_B], IS[I_BP], IS[I_K], IS[I_ND], IS[I_SCHEME]
    n_slots = K * B + LANE + Bp
    XB = np.zeros(nd * B, np.float32)
    EPS = np.zeros(nd * K * 2, np.float32)
    INSB = np.zeros(Bp + nd * (K * Bp + LANE) if IS[I_INST] == 1 else 0, np.float32)
    GPB = np.zeros(nd * Bp if IS[I_GP] == 1 else 0, np.float32)
    NS = normal_scratch(IS, INSB.shape[0])
    V = np.zeros(n_slots, np.float32)
    S0, S1, Z = np.empty_like(V), np.empty_like(V), np.empty_like(V)
    GZ, U0, U1 = np.empty_like(V), np.empty_like(V), np.empty_like(V)
    P = np.zeros(4 * n_slots, np.float32)
    gg, gd, lcn = np.zeros(2, np.float32), np.zeros(7, np.float32), np.zeros(2, np.float32)
    u = np.zeros(7, np.float32)
    saved = np.zeros(S.shape[1], np.float32)
    lecam = IS[I_LECAM] == 1
    lr_g, lr_d, decay = H[r, LR_G], H[r, LR_D], H[r, DECAY]
    if IS[I_L2] == 1:
        decay = ONE  # L2 decay is in the gradient
    for t in range(t0, t1):
        fill_draws(seed, t, IS, H, r, XB, EPS, INSB, GPB, NS)
        td = t * nd + 1
        g_grad(S, r, IS, XB, INSB, V, S0, S1, Z, GZ, gg)
        if scheme == 0:  # alternating: D's gradient at the new G
            apply(S, r, G, MG, VG, 2, gg, lr_g, t + 1, IS, Fs, ONE, UG, False, t == 0, u)
            d_grad(S, r, H, IS, 0, S[r, G], S[r, G + 1], XB, EPS, INSB, GPB, V, S0, S1, Z,
                   GZ, U0, U1, P, gd, lcn)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td, IS, Fs, decay, UD, False, t == 0, u)
        else:  # simultaneous / extragradient / optimistic: both gradients at (G_t, D_t)
            d_grad(S, r, H, IS, 0, S[r, G], S[r, G + 1], XB, EPS, INSB, GPB, V, S0, S1, Z,
                   GZ, U0, U1, P, gd, lcn)
            if scheme == 2:  # extragradient: the gradients at the look-ahead point instead
                for k in range(S.shape[1]):
                    saved[k] = S[r, k]
                apply(S, r, G, MG, VG, 2, gg, lr_g, t + 1, IS, Fs, ONE, UG, False, t == 0, u)
                apply(S, r, D, MD, VD, 7, gd, lr_d, td, IS, Fs, decay, UD, False, t == 0, u)
                g_grad(S, r, IS, XB, INSB, V, S0, S1, Z, GZ, gg)
                d_grad(S, r, H, IS, 0, S[r, G], S[r, G + 1], XB, EPS, INSB, GPB, V, S0, S1,
                       Z, GZ, U0, U1, P, gd, lcn)
                for k in range(S.shape[1]):  # the look-ahead's optimizer state is a copy
                    S[r, k] = saved[k]
            opt = scheme == 3
            apply(S, r, G, MG, VG, 2, gg, lr_g, t + 1, IS, Fs, ONE, UG, opt, t == 0, u)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td, IS, Fs, decay, UD, opt, t == 0, u)
        if lecam:
            S[r, LC], S[r, LC + 1] = lcn[0], lcn[1]
        for j in range(1, nd):
            d_grad(S, r, H, IS, j, S[r, G], S[r, G + 1], XB, EPS, INSB, GPB, V, S0, S1, Z,
                   GZ, U0, U1, P, gd, lcn)
            apply(S, r, D, MD, VD, 7, gd, lr_d, td + j, IS, Fs, decay, UD, False, False, u)
            if lecam:
                S[r, LC], S[r, LC + 1] = lcn[0], lcn[1]
        record(S, r, t, t0, every, SNAP)
