"""The fused kernel's packed arrays: which column of a run's state and settings holds what.

Why packed: the kernel takes a few flat arrays (one row per run) instead of dozens of
arguments, so adding an option adds a column, not a signature. ``trainer`` fills them from the
specs with the torch engine's float32 arithmetic; ``kernel`` reads them by these names.
"""

from __future__ import annotations

# -- per-run state (R, NS) float32 -------------------------------------------------------------
G, D = 0, 2  # generator [w, b], discriminator [W1_0, W1_1, c1_0, c1_1, W2_0, W2_1, c2]
MG, VG, MD, VD = 9, 11, 13, 20  # Adam moments (SGD: momentum buffer in MG / MD)
LC = 27  # LeCam anchors [a_real, a_fake]
UG, UD = 29, 31  # the optimistic update's previous steps
NS = 38

# -- per-run settings (R, NH) float32 ----------------------------------------------------------
LR_G, LR_D, WD, DECAY, NOISE, INST, REAL = 0, 1, 2, 3, 4, 5, 6
W_FAKE, NTW_FAKE, W_REAL, NTW_REAL = 7, 8, 9, 10  # D loss weight and -weight*target per slot
R1, R2, GP = 11, 12, 13  # penalty weights (papers' gamma / lambda over 1 + fake weight)
LC_W_FAKE, LC_W_REAL, LC_DECAY, LC_RATE = 14, 15, 16, 17
OMEGA_FAKE = 18  # 1 / (K B): each real fake's share of the fakes' mean
NH = 19

# -- shared integer settings (NI,) int64 -------------------------------------------------------
I_B, I_BP, I_K, I_ND, I_LOSS, I_MINIMAX, I_SCHEME, I_SGD, I_L2 = range(9)
I_NOISE, I_INST, I_R1, I_R2, I_GP, I_LECAM, I_STEPS = range(9, 16)
NI = 16
LOSSES = ("bce", "lsgan", "hinge", "wgan")
SCHEMES = ("alternating", "simultaneous", "extragradient", "optimistic")

# -- shared float settings (NF,) float64 -------------------------------------------------------
F_B1, F_B2, F_EPS, F_MOM = range(4)
NF = 4
