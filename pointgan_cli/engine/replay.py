"""A stored snapshot's losses and D outputs, recomputed from its parameters: the batch store
keeps only the parameters (float32, exact) and this gives back, in float64, the four
``games.LOSSES`` columns training computed (to float64 rounding), one game's way each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..games import DIRAC, POINT
from . import dirac, snapshots
from .randomness import clean_x

if TYPE_CHECKING:
    from ..spec import RunSpec


def _point(spec: RunSpec, steps: Sequence[int], g: torch.Tensor, d: torch.Tensor):
    """The pointgan game: D on the step's clean x (the member's seed, the step clamped to the
    last trained one) and on G's outputs there."""
    n = len(steps)
    at = torch.tensor([min(s, spec.steps - 1) for s in steps], dtype=torch.int64)
    x = clean_x(torch.tensor([spec.seed]), at, spec.batch_size)[0].double()  # (S, B)
    real = torch.full((n, 1), spec.real_value, dtype=torch.float32).double()
    easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
    fw = torch.full((n,), spec.fake_weight, dtype=torch.float64)
    return snapshots.snapshot_losses(g, d, x, real, spec.loss, spec.g_loss, easing, fw)


def _dirac(spec: RunSpec, steps: Sequence[int], g: torch.Tensor, d: torch.Tensor):
    """The Dirac-GAN: the noise-free game at (theta, psi)."""
    n = len(steps)
    easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
    fw = torch.full((n, 1), spec.fake_weight, dtype=torch.float64)
    return dirac.snapshot_losses(g, d, spec.loss, spec.g_loss, easing, fw)


_BY_GAME = {POINT.name: _point, DIRAC.name: _dirac}


def stored_losses(spec: RunSpec, steps: Sequence[int], g: np.ndarray,
                  d: np.ndarray) -> list[list[float]]:
    """The four loss columns (each S floats) of one member's snapshots at ``steps`` from its
    G and D parameters (S, n) float32."""
    cols = _BY_GAME[spec.game](spec, steps, torch.from_numpy(np.ascontiguousarray(g)).double(),
                               torch.from_numpy(np.ascontiguousarray(d)).double())
    return [q.tolist() for q in cols]
