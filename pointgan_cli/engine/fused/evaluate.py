"""A snapshot's losses in float64 numpy (``snapshots.snapshot_losses`` without torch).

Why again here: the fused engine never imports torch, and a snapshot is evaluated on the clean
samples of the current step: ``d_logits_packed`` with tanh, torch's softplus (threshold 20),
the losses of ``losses``. numpy's float64 tanh/log1p/exp may differ from torch's in the last
bit; the metrics keep their format and meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .hostrng import uniform_table


def clean_x(seeds: np.ndarray, steps: np.ndarray, batch: int) -> np.ndarray:
    """(R, C, batch) float32 inputs x, as ``randomness.clean_x``."""
    return uniform_table(seeds.astype(np.uint64), 2, steps.astype(np.int64), batch) \
        * np.float32(2.0) - np.float32(1.0)


def logits(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``models.d_logits_packed`` for d (R, 7) at v (R, N)."""
    h0 = np.tanh(d[:, 0:1] * v + d[:, 2:3])
    h1 = np.tanh(d[:, 1:2] * v + d[:, 3:4])
    return d[:, 4:5] * h0 + d[:, 5:6] * h1 + d[:, 6:7]


def softplus(x: np.ndarray) -> np.ndarray:
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def loss_values(g, d, x, real, easing, fw, loss: str, g_kind: str):
    """(g_loss, d_loss, d_real, d_fake), each (R,), for float64 g (R, 2), d (R, 7), x (R, B),
    real, easing, fw (R,)."""
    zf = logits(d, x * g[:, 0:1] + g[:, 1:2])
    zr = logits(d, real[:, None])[:, 0]
    e = easing[:, None]
    if loss == "bce":
        gl = (-softplus(zf) if g_kind == "minimax" else softplus(-zf)).mean(1)
        lf = (softplus(zf) - e * zf).mean(1)
        lr = softplus(zr) - (1.0 - easing) * zr
    elif loss == "lsgan":
        gl = (0.5 * (zf - 1.0) ** 2).mean(1)
        lf = (0.5 * (zf - e) ** 2).mean(1)
        lr = 0.5 * (zr - (1.0 - easing)) ** 2
    elif loss == "hinge":
        gl = -zf.mean(1)
        lf, lr = np.maximum(1.0 + zf, 0.0).mean(1), np.maximum(1.0 - zr, 0.0)
    else:
        gl = -zf.mean(1)
        lf, lr = zf.mean(1), -zr
    return gl, (fw * lf + lr) / (1.0 + fw), sigmoid(zr), sigmoid(zf).mean(1)


def snapshot_losses(specs: Sequence, g: np.ndarray, d: np.ndarray, step: int):
    """The four loss columns of a snapshot at ``step`` for the batch's specs."""
    seeds = np.array([s.seed for s in specs], np.uint64)
    x = clean_x(seeds, np.array([step]), specs[0].batch_size)[:, 0].astype(np.float64)
    return row_losses(specs, g, d, x)


def stored_losses(spec, steps: np.ndarray, g: np.ndarray, d: np.ndarray):
    """The four loss columns of one run's snapshots at ``steps`` (each clamped to its last
    trained step by the caller), one row per step: the values ``snapshot_losses`` gave in
    training, row by row (``replay`` recomputes a sweep member's with it)."""
    x = clean_x(np.array([spec.seed], np.uint64), steps, spec.batch_size)[0].astype(np.float64)
    return row_losses([spec] * len(steps), g, d, x)


def row_losses(specs: Sequence, g: np.ndarray, d: np.ndarray, x: np.ndarray):
    """``loss_values`` of rows of float64 g (n, 2), d (n, 7) at x (n, B), one spec per row
    (all of one loss): each row's numbers depend on its own inputs only."""
    real = np.array([s.real_value for s in specs], np.float32).astype(np.float64)
    easing = np.array([s.label_easing for s in specs], np.float64)
    fw = np.array([s.fake_weight for s in specs], np.float64)
    return loss_values(g, d, x, real, easing, fw, specs[0].loss, specs[0].g_loss)
