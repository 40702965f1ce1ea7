"""The optimizers' updates: Adam or SGD with momentum per run (``Optimizer``), and their
application to a ``TrainingState`` with the update schemes built on them (``Updates``:
optimistic steps, decoupled weight decay, extragradient's look-ahead).

Why by hand rather than ``torch.optim``: every run has its own learning rate (a (R, 1) column),
and the tensor step modes take the step count from a device tensor, so a captured CUDA graph
replays the same kernels at every step. The arithmetic is ``torch.optim.Adam``'s (and SGD's),
checked against them in the tests.
"""

from __future__ import annotations

import math

import torch

from .layout import DTYPE
from .state import TrainingState


def adam_table(n: int, beta1: float, beta2: float, device: torch.device) -> torch.Tensor:
    """Adam's bias corrections per optimizer step k < n: [1 - b1^k, sqrt(1 - b2^k)] (row 0
    unused), computed in float64 as the eager step does, for steps counted on the device."""
    k = torch.arange(n, dtype=torch.float64)
    table = torch.stack([1.0 - beta1**k, torch.sqrt(1.0 - beta2**k)], dim=1)
    return table.to(device, DTYPE)


class Optimizer:
    """One optimizer's step direction. ``table``: ``adam_table``, needed only where the step
    count comes as a device tensor (the tensor step modes)."""

    def __init__(self, *, sgd: bool, momentum: float, beta1: float, beta2: float, eps: float,
                 table: torch.Tensor | None = None):
        self.sgd, self.momentum = sgd, momentum
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.table = table

    def direction(self, m, v, grad, lr, t):
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
            assert self.table is not None, "a device step count needs adam_table"
            row = self.table.index_select(0, t)  # (1, 2)
            bc1, sbc2 = row[:, 0:1], row[:, 1:2]
        else:
            bc1, sbc2 = 1.0 - b1**t, math.sqrt(1.0 - b2**t)
        denom = v.sqrt() / sbc2 + self.eps
        return m / denom * (lr / bc1)

    def lookahead(self, p, m, v, grad, lr, t, decay=None) -> torch.Tensor:
        """Extragradient's look-ahead point: one optimizer step from ``p`` taken on a copy of the
        optimizer state, which itself stays as it was (plain SGD: ``p - lr grad``)."""
        u = self.direction(m.clone(), v.clone(), grad, lr, t)
        return (p if decay is None else p * decay) - u


def _optimistic(u: torch.Tensor, prev: torch.Tensor, first: bool):
    """(step taken, new previous step) of the optimistic update ``2 u_t - u_{t-1}``; the
    first step is a plain one (u_{-1} = u_0), so no run starts with a doubled step."""
    if first:
        return u, u
    return u * 2.0 - prev, u


class Updates:
    """G's and D's optimizer steps applied to a ``TrainingState`` in place: learning rates
    ``lr_g``, ``lr_d`` (R, 1), ``decay`` D's decoupled weight-decay factor (R, 1) (None: no
    decoupled decay)."""

    def __init__(self, optimizer: Optimizer, lr_g: torch.Tensor, lr_d: torch.Tensor,
                 decay: torch.Tensor | None):
        self.optimizer, self.lr_g, self.lr_d, self.decay = optimizer, lr_g, lr_d, decay

    def apply_g(self, s: TrainingState, gg: torch.Tensor, t_opt, optimistic: bool = False) -> None:
        u = self.optimizer.direction(s.mg, s.vg, gg, self.lr_g, t_opt)
        if optimistic:
            u, s.ug_prev = _optimistic(u, s.ug_prev, s.step == 0)
        s.g.sub_(u)

    def apply_d(self, s: TrainingState, gd: torch.Tensor, t_opt, optimistic: bool = False,
                anchors: torch.Tensor | None = None) -> None:
        """D's step; ``anchors``: LeCam's anchors of the gradient applied, kept as the new ones."""
        if self.decay is not None:
            s.d.mul_(self.decay)
        u = self.optimizer.direction(s.md, s.vd, gd, self.lr_d, t_opt)
        if optimistic:
            u, s.ud_prev = _optimistic(u, s.ud_prev, s.step == 0)
        s.d.sub_(u)
        if anchors is not None:
            s.lc_ema = anchors

    def lookahead(self, s: TrainingState, gg: torch.Tensor, gd: torch.Tensor, t_g,
                  t_d) -> tuple[torch.Tensor, torch.Tensor]:
        """Extragradient's look-ahead (G, D) from ``s``, which stays as it was."""
        opt = self.optimizer
        return (opt.lookahead(s.g, s.mg, s.vg, gg, self.lr_g, t_g),
                opt.lookahead(s.d, s.md, s.vd, gd, self.lr_d, t_d, self.decay))
