"""The fused kernel's packed arrays: which column of a run's state and settings holds what.

Why packed: the kernel takes a few flat arrays (one row per run) instead of dozens of
arguments, so adding an option adds a column, not a signature. ``trainer`` fills them from the
specs with the torch engine's float32 arithmetic; ``kernel`` reads them by these names. The
common path's scratch and its test are here too, as plain functions: the kernel compiles them
(``fast``) and the host that calls the kernel without numba (``native``) runs them as they are.
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

# -- the common path (``fast``) and its scratch, one set per thread -------------------------
PAD = 16  # the real slot's lane after the fakes, rounded up to a whole AVX-512 vector
#: Steps whose G-noise normals ``fill_draws`` computes in one vectorised pass (the 8 pairs
#: of one step are too few for the vector loop: alone, they cost 75 ns of a ~1 us run-step).
NOISE_STEPS = 16
#: ``normal_pairs`` computes pairs in blocks of this many: LLVM vectorises its loops 8 lanes
#: wide, two vectors at a time, and a loop of fewer iterations runs its scalar remainder only
#: (8 pairs alone: 165 ns; as one block of 16: 85 ns).
PAIR_BLOCK = 16


def pair_room(n_pairs):
    """Pairs ``normal_pairs`` computes to get n_pairs: whole blocks."""
    return -(-n_pairs // PAIR_BLOCK) * PAIR_BLOCK


def is_common(IS):
    """Whether a batch's options are the ones the common path (``fast``) computes: BCE, Adam,
    alternating updates, no instance noise, penalty or LeCam."""
    return (IS[I_LOSS] == 0 and IS[I_SCHEME] == 0 and IS[I_SGD] == 0 and IS[I_INST] == 0
            and IS[I_R1] == 0 and IS[I_R2] == 0 and IS[I_GP] == 0 and IS[I_LECAM] == 0)


def common_scratch(B, K, nd):
    """The float32 scratch of one thread on the common path, as offsets into one buffer: x
    (nd B), G-noise (nd K 2), fakes V (K B), Z (3 (K B + PAD)), G's and D's sums (2, 7), the
    normals' values (2 room); then room, the pairs ``normal_scratch`` holds (its keys, indices
    and float64 uniforms are buffers of room each). Returns (o_eps, o_v, o_z, o_gg, o_gd,
    o_nz, floats, room)."""
    room = -(-(NOISE_STEPS * nd * K) // PAIR_BLOCK) * PAIR_BLOCK  # pair_room, which numba
    # cannot call from here (a plain function): both compile this one (``fast``)
    o_eps = nd * B
    o_v = o_eps + nd * K * 2
    o_z = o_v + K * B
    o_gg = o_z + 3 * (K * B + PAD)
    o_gd = o_gg + 2
    o_nz = o_gd + 7
    return o_eps, o_v, o_z, o_gg, o_gd, o_nz, o_nz + 2 * room, room
