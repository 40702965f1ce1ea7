"""What a ``BatchTrainer`` records as it trains: snapshots of every run's parameters (and
losses), and where divergence is detected and rolled back.

Why here and not in the step: a snapshot is the one place the host looks at the runs (every
``snapshot_every`` steps), so it is also where a non-finite run is found, marked ``diverged``
and frozen at its last finite snapshot. ``Snapshots`` is a part of ``engine.BatchTrainer``.
"""

from __future__ import annotations

import torch

from . import losses
from .layout import LANE, round_up
from .models import d_logits_packed
from .snapshot_record import Snapshot

__all__ = ["Snapshot", "Snapshots", "snapshot_losses"]


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


class Snapshots:
    """``snapshot``: the current state evaluated (and divergence handled)."""

    def snapshot(self, with_losses: bool = True) -> Snapshot:
        """Evaluate the current state (float64, on clean samples of the current step's x);
        ``with_losses=False``: the parameters only (a sweep's batch store recomputes the losses
        from them when a member is read, so training need not spend a step's worth of work
        on each snapshot).

        Also where divergence is detected: a run with a non-finite parameter is marked
        ``diverged``, rolled back to its last finite snapshot and frozen there."""
        finite = torch.isfinite(self.g).all(1) & torch.isfinite(self.d).all(1)
        newly = self.alive & ~finite
        if bool(newly.any()):
            self.diverged_step = torch.where(newly, self.step, self.diverged_step)
            self.alive &= finite
            self._all_alive = False
            keep = newly.unsqueeze(1)
            g0, d0 = self._last_good
            self.g.copy_(torch.where(keep, g0, self.g))
            self.d.copy_(torch.where(keep, d0, self.d))
            for m in (self.mg, self.vg, self.md, self.vd, self.lc_ema, self.ug_prev,
                      self.ud_prev):
                m.masked_fill_(keep, 0.0)
        self._last_good = (self.g.clone(), self.d.clone())
        if not with_losses:
            return Snapshot(step=self.step, g=self.g.double().cpu(), d=self.d.double().cpu(),
                            g_loss=None, d_loss=None, d_real=None, d_fake=None,
                            alive=self.alive.cpu().clone())
        return self._evaluate()

    def _evaluate(self) -> Snapshot:
        """The game's metrics at the current parameters."""
        # Evaluated on the runs' device; only the (R,)-sized results travel to the host.
        g = self.g.double()
        d = self.d.double()
        x = self.x_at(min(self.step, self.steps - 1))[:, : self.B].double()
        easing, fw = self.easing64.to(self.device), self.fake_weight64.to(self.device)
        gl, dl, dr, df = snapshot_losses(g, d, x, self.real.double(), self.loss, self.g_loss,
                                         easing, fw)
        return Snapshot(step=self.step, g=g.cpu(), d=d.cpu(), g_loss=gl.cpu(), d_loss=dl.cpu(),
                        d_real=dr.cpu(), d_fake=df.cpu(), alive=self.alive.cpu().clone())
