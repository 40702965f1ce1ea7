"""The fused kernel's settings arrays from a batch's specs, with the torch engine's float32
arithmetic (``engine.BatchTrainer._common_init`` and ``_layout``), so both engines step with the
same per-run constants bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import layout as L

if TYPE_CHECKING:
    from ...spec import RunSpec

F = np.float32
LANE = 64


def _col(specs: Sequence[RunSpec], name: str) -> np.ndarray:
    return np.array([float(getattr(s, name)) for s in specs], np.float32)


def per_run(specs: Sequence[RunSpec]) -> np.ndarray:
    """(R, NH) float32 settings (see ``layout``)."""
    s0 = specs[0]
    K, B = s0.effective_inner_batch, s0.batch_size
    H = np.zeros((len(specs), L.NH), np.float32)
    col = lambda name: _col(specs, name)  # noqa: E731
    lr_d, wd = col("lr_d"), col("weight_decay")
    H[:, L.LR_G], H[:, L.LR_D], H[:, L.WD] = col("lr_g"), lr_d, wd
    H[:, L.DECAY] = F(1.0) - lr_d * wd
    H[:, L.NOISE], H[:, L.INST], H[:, L.REAL] = col("noise_scale"), col("instance_noise"), \
        col("real_value")
    fw, easing = col("fake_weight"), col("label_easing")
    pw = F(1.0) / (F(1.0) + fw)
    H[:, L.R1], H[:, L.R2], H[:, L.GP] = col("r1") * pw, col("r2") * pw, col("gp_weight") * pw
    fake_mean = F(1.0) / F(K * B)
    w_fake = (fw / (F(1.0) + fw)) * fake_mean
    w_real = (F(1.0) / (F(1.0) + fw)) / F(LANE)
    H[:, L.W_FAKE], H[:, L.NTW_FAKE] = w_fake, -(w_fake * easing)
    H[:, L.W_REAL], H[:, L.NTW_REAL] = w_real, -(w_real * (F(1.0) - easing))
    lc2 = col("lecam") * F(2.0)
    H[:, L.LC_W_FAKE] = fake_mean * lc2
    H[:, L.LC_W_REAL] = F(1.0 / LANE) * lc2
    decay = col("lecam_decay")
    H[:, L.LC_DECAY], H[:, L.LC_RATE] = decay, F(1.0) - decay
    H[:, L.OMEGA_FAKE] = fake_mean
    return H


def shared(specs: Sequence[RunSpec]) -> tuple[np.ndarray, np.ndarray]:
    """(NI,) int64 and (NF,) float64 settings every run of the batch shares."""
    s0 = specs[0]
    IS = np.zeros(L.NI, np.int64)  # noqa: E741
    IS[L.I_B] = s0.batch_size
    IS[L.I_BP] = -(-s0.batch_size // LANE) * LANE
    IS[L.I_K], IS[L.I_ND] = s0.effective_inner_batch, s0.d_steps
    IS[L.I_LOSS] = L.LOSSES.index(s0.loss)
    IS[L.I_MINIMAX] = int(s0.loss == "bce" and s0.g_loss == "minimax")
    IS[L.I_SCHEME] = L.SCHEMES.index(s0.update)
    IS[L.I_SGD], IS[L.I_L2] = int(s0.optimizer == "sgd"), int(s0.weight_decay_mode == "l2")
    IS[L.I_NOISE] = int(any(s.noise_scale > 0 for s in specs))
    IS[L.I_INST], IS[L.I_R1], IS[L.I_R2] = (int(s0.instance_noise > 0), int(s0.r1 > 0),
                                         int(s0.r2 > 0))
    IS[L.I_GP], IS[L.I_LECAM], IS[L.I_STEPS] = int(s0.gp_weight > 0), int(s0.lecam > 0), s0.steps
    Fs = np.array([s0.beta1, s0.beta2, s0.adam_eps, s0.momentum], np.float64)
    return IS, Fs


def initial_params(seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``engine.init_params`` without torch: G and D's first layer U(-1, 1), D's output layer
    U(-1/sqrt 2, 1/sqrt 2), from the seeds' STREAM_INIT uniforms at step 0."""
    from .hostrng import uniform_table

    u = uniform_table(seeds, 1, np.zeros(1, np.int64), 9)[:, 0, :] * F(2.0) - F(1.0)
    g = u[:, 0:2].copy()
    d = np.concatenate([u[:, 2:6], u[:, 6:9] * F(1.0 / np.sqrt(2.0))], axis=1)
    return g, d
