"""The optimizers' updates of a ``BatchTrainer``: Adam or SGD with momentum per run, and the
update schemes built on them (optimistic steps, extragradient's look-ahead).

Why by hand rather than ``torch.optim``: every run has its own learning rate (a (R, 1) column),
and the tensor step modes take the step count from a device tensor, so a captured CUDA graph
replays the same kernels at every step. The arithmetic is ``torch.optim.Adam``'s (and SGD's),
checked against them in the tests. ``Optimizers`` is a part of ``engine.BatchTrainer``.
"""

from __future__ import annotations

import math

import torch


class Optimizers:
    """One optimizer step of G or D (``_apply_g``, ``_apply_d``) from a gradient, with the
    trainer's optimizer state (``mg``, ``vg``, ``md``, ``vd``) updated in place."""

    def _direction(self, m, v, grad, lr, t):
        """The step ``u`` of one optimizer update (``p <- p - u``), lr per run (R, 1), with the
        optimizer state updated in place: torch.optim.Adam's bias-corrected step, or
        torch.optim.SGD with momentum (buffer kept in ``m``). ``t``: the optimizer's step count,
        an int or (tensor step modes) a device tensor of shape (1,)."""
        tensor_t = not isinstance(t, int)
        if self.sgd:
            if self.momentum > 0:
                if tensor_t:  # m is 0 before step 1, so this equals the copy below
                    m.mul_(self.momentum).add_(grad)
                elif t == 1:
                    m.copy_(grad)
                else:
                    m.mul_(self.momentum).add_(grad)
                grad = m
            return grad * lr
        b1, b2 = self.beta1, self.beta2
        m.mul_(b1).add_(grad * (1.0 - b1))
        v.mul_(b2).add_(grad * grad * (1.0 - b2))
        if tensor_t:
            row = self._adam_table.index_select(0, t)  # (1, 2)
            bc1, sbc2 = row[:, 0:1], row[:, 1:2]
        else:
            bc1, sbc2 = 1.0 - b1**t, math.sqrt(1.0 - b2**t)
        denom = v.sqrt() / sbc2 + self.eps
        return m / denom * (lr / bc1)

    def _optimistic(self, u: torch.Tensor, prev: torch.Tensor):
        """(step taken, new previous step) of the optimistic update ``2 u_t - u_{t-1}``; the
        first step is a plain one (u_{-1} = u_0), so no run starts with a doubled step."""
        if self.step == 0:
            return u, u
        return u * 2.0 - prev, u

    def _apply_g(self, gg: torch.Tensor, t_opt: int, optimistic: bool = False) -> None:
        u = self._direction(self.mg, self.vg, gg, self.lr_g, t_opt)
        if optimistic:
            u, self.ug_prev = self._optimistic(u, self.ug_prev)
        self.g.sub_(u)

    def _apply_d(self, gd: torch.Tensor, t_opt: int, optimistic: bool = False) -> None:
        if self.has_wd and not self.l2:
            self.d.mul_(self.decay)
        u = self._direction(self.md, self.vd, gd, self.lr_d, t_opt)
        if optimistic:
            u, self.ud_prev = self._optimistic(u, self.ud_prev)
        self.d.sub_(u)
        if self.has_lecam:
            self.lc_ema = self._lc_next  # the anchors of the gradient just applied

    def _lookahead(self, p, m, v, grad, lr, t, decay=None) -> torch.Tensor:
        """Extragradient's look-ahead point: one optimizer step from ``p`` taken on a copy of the
        optimizer state, which itself stays as it was (plain SGD: ``p - lr grad``)."""
        u = self._direction(m.clone(), v.clone(), grad, lr, t)
        return (p if decay is None else p * decay) - u
