"""A stored snapshot's losses and D outputs, recomputed from its parameters: the batch store
keeps only the parameters (float32, exact) and this gives back, in float64, the four
``games.LOSSES`` columns training computed, one game's way each, by the code of the engine
that trained the member: a member the fused engine trained gets ``fused.evaluate``'s numpy
(what its run alone computed, bit for bit, and no torch), any other the torch engine's
(numpy's and torch's ``tanh``/``log1p`` may differ in the last bit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..games import DIRAC, POINT
from .fused.support import uses_fused

if TYPE_CHECKING:
    import torch

    from ..spec import RunSpec


def _point_fused(spec: RunSpec, steps: Sequence[int], g: np.ndarray, d: np.ndarray):
    """The pointgan game as the fused engine evaluates a snapshot (``fused.evaluate``): the
    same float64 operations row by row, here one row per stored step instead of one per run
    of the batch, so each value is the one training computed."""
    from .fused.evaluate import stored_losses as fused_losses

    at = np.array([min(s, spec.steps - 1) for s in steps], np.int64)
    return fused_losses(spec, at, g.astype(np.float64), d.astype(np.float64))


def _point(spec: RunSpec, steps: Sequence[int], g: torch.Tensor, d: torch.Tensor):
    """The pointgan game: D on the step's clean x (the member's seed, the step clamped to the
    last trained one) and on G's outputs there."""
    import torch

    from . import snapshots
    from .randomness import clean_x

    n = len(steps)
    at = torch.tensor([min(s, spec.steps - 1) for s in steps], dtype=torch.int64)
    x = clean_x(torch.tensor([spec.seed]), at, spec.batch_size)[0].double()  # (S, B)
    real = torch.full((n, 1), spec.real_value, dtype=torch.float32).double()
    easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
    fw = torch.full((n,), spec.fake_weight, dtype=torch.float64)
    return snapshots.snapshot_losses(g, d, x, real, spec.loss, spec.g_loss, easing, fw)


def _dirac(spec: RunSpec, steps: Sequence[int], g: torch.Tensor, d: torch.Tensor):
    """The Dirac-GAN: the noise-free game at (theta, psi)."""
    import torch

    from . import dirac

    n = len(steps)
    easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
    fw = torch.full((n, 1), spec.fake_weight, dtype=torch.float64)
    return dirac.snapshot_losses(g, d, spec.loss, spec.g_loss, easing, fw)


_BY_GAME = {POINT.name: _point, DIRAC.name: _dirac}


def stored_losses(spec: RunSpec, steps: Sequence[int], g: np.ndarray,
                  d: np.ndarray) -> list[list[float]]:
    """The four loss columns (each S floats) of one member's snapshots at ``steps`` from its
    G and D parameters (S, n) float32."""
    cols: Any
    if spec.game == POINT.name and uses_fused(spec):
        cols = _point_fused(spec, steps, np.asarray(g), np.asarray(d))
    else:
        import torch

        cols = _BY_GAME[spec.game](spec, steps,
                                   torch.from_numpy(np.ascontiguousarray(g)).double(),
                                   torch.from_numpy(np.ascontiguousarray(d)).double())
    return [q.tolist() for q in cols]
