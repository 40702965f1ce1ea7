"""What a trainer records as it trains: snapshots of every run's parameters (and losses), and
where divergence is detected and rolled back.

Why here and not in the step: a snapshot is the one place the host looks at the runs (every
``snapshot_every`` steps), so it is also where a non-finite run is found, marked ``diverged``
and frozen at its last finite snapshot. A ``Snapshots`` recorder is given the game's metrics
(``PointMetrics`` here, the Dirac-GAN's in ``dirac``) and takes the ``TrainingState``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import losses
from .layout import LANE, round_up
from .models import d_logits_packed
from .randomness import ChunkedRandomness
from .snapshot_record import Snapshot
from .state import TrainingState

__all__ = ["PointMetrics", "Snapshot", "Snapshots", "roll_back_diverged", "snapshot_losses"]


def snapshot_losses(g, d, x, real, loss: str, g_kind: str, easing, fake_weight):
    """What a snapshot records besides the parameters: (g_loss, d_loss, d_real, d_fake),
    each (R,), for packed float64 parameters g (R, 2), d (R, 7) on clean samples from x
    (R, B), real (R, 1), easing (R, 1), fake_weight (R,). Row by row, so any row can be
    recomputed alone with the same bits (the sweep store keeps only the parameters).

    The logits are computed on rows padded to a multiple of ``LANE`` and sliced afterwards, so
    every element goes through the same SIMD path whatever R is: a contiguous (R, 1) or (R, B)
    operand is one flat loop whose scalar tail depends on R, and tanh/softplus/sigmoid may
    round differently there (d_loss used to differ between batches of 1-4 and of 32-64)."""
    B = x.shape[-1]
    xp = torch.nn.functional.pad(x, (0, round_up(B, LANE) - B))  # (R, Bp)
    zf = d_logits_packed(d, xp * g[:, 0:1] + g[:, 1:2])[:, :B]  # (R, B) clean samples
    rows = real.expand(-1, LANE).contiguous()  # (R, LANE), every column the real value
    zr = d_logits_packed(d, rows)[:, :1]  # (R, 1) strided view: one code path for every R
    return (losses.g_loss(zf, loss, g_kind), losses.d_loss(zf, zr, loss, easing, fake_weight),
            torch.sigmoid(zr).squeeze(1), torch.sigmoid(zf).mean(1))


def roll_back_diverged(s: TrainingState) -> None:
    """A run with a non-finite parameter is marked diverged (at ``s.step``), rolled back to its
    last finite snapshot with its optimizer moments zeroed, and frozen there (``alive``);
    then the current parameters become the last finite ones."""
    finite = torch.isfinite(s.g).all(1) & torch.isfinite(s.d).all(1)
    newly = s.alive & ~finite
    if bool(newly.any()):
        s.diverged_step = torch.where(newly, s.step, s.diverged_step)
        s.alive &= finite
        s.all_alive = False
        keep = newly.unsqueeze(1)
        s.g.copy_(torch.where(keep, s.last_g, s.g))
        s.d.copy_(torch.where(keep, s.last_d, s.d))
        for m in s.of_role("moments"):
            m.masked_fill_(keep, 0.0)
    s.last_g, s.last_d = s.g.clone(), s.d.clone()


class PointMetrics:
    """The pointgan game's metrics at a state (float64, on clean samples of the current
    step's x from ``randomness``): B samples, ``steps`` the last step + 1, ``real`` (R, 1),
    the losses, ``easing`` (R, 1) and ``fake_weight`` (R,) in float64 on the host."""

    def __init__(self, randomness: ChunkedRandomness, *, B: int, steps: int,
                 real: torch.Tensor, loss: str, g_loss: str, easing: torch.Tensor,
                 fake_weight: torch.Tensor):
        self.randomness, self.B, self.steps, self.real = randomness, B, steps, real
        self.loss, self.g_loss, self.easing, self.fake_weight = loss, g_loss, easing, fake_weight

    def __call__(self, s: TrainingState) -> Snapshot:
        # Evaluated on the runs' device; only the (R,)-sized results travel to the host.
        g, d = s.g.double(), s.d.double()
        x = self.randomness.x_at(min(s.step, self.steps - 1))[:, : self.B].double()
        dev = s.g.device
        gl, dl, dr, df = snapshot_losses(g, d, x, self.real.double(), self.loss, self.g_loss,
                                         self.easing.to(dev), self.fake_weight.to(dev))
        return Snapshot(step=s.step, g=g.cpu(), d=d.cpu(), g_loss=gl.cpu(), d_loss=dl.cpu(),
                        d_real=dr.cpu(), d_fake=df.cpu(), alive=s.alive.cpu().clone())


class Snapshots:
    """``snapshot``: a state evaluated by the game's ``metrics``, divergence handled first."""

    def __init__(self, metrics: Callable[[TrainingState], Snapshot]):
        self.metrics = metrics

    def snapshot(self, s: TrainingState, with_losses: bool = True) -> Snapshot:
        """Evaluate ``s`` (after ``roll_back_diverged``); ``with_losses=False``: the parameters
        only (a sweep's batch store recomputes the losses from them when a member is read, so
        training need not spend a step's worth of work on each snapshot)."""
        roll_back_diverged(s)
        if not with_losses:
            return Snapshot(step=s.step, g=s.g.double().cpu(), d=s.d.double().cpu(),
                            g_loss=None, d_loss=None, d_real=None, d_fake=None,
                            alive=s.alive.cpu().clone())
        return self.metrics(s)
