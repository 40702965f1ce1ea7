"""What a batch of runs shares and what each run sets: a trainer's settings, read once from
the specs.

Why one object: the game's layout and gradients, the optimizers and the step all read the
same schedule, flags and per-run columns; each part is handed this object (or the few
values it needs) instead of reading them off a shared trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from .batching import batch_key
from .layout import DTYPE, LANE, round_up

if TYPE_CHECKING:  # the engine reads a spec's fields; it needs no pydantic at run time
    from ..spec import RunSpec


class Settings:
    """Specs sharing a ``batch_key``: the shared schedule and switches (from the first spec),
    per-run hyper-parameters as (R, 1) columns on the runs' device (``col``), the seeds, and
    the G step's sample weights. ``has_*``: whether any part of the step uses an option (off,
    it costs nothing)."""

    def __init__(self, specs: Sequence[RunSpec]):
        if not specs:
            raise ValueError("BatchTrainer needs at least one spec")
        keys = {batch_key(s) for s in specs}
        if len(keys) != 1:
            raise ValueError("specs in one batch must share batch_key()")
        s0 = specs[0]
        self.specs = list(specs)
        self.R = R = len(specs)
        self.device = dev = torch.device(s0.device)
        self.steps = s0.steps
        self.B = s0.batch_size
        self.Bp = round_up(self.B, LANE)
        self.K = s0.effective_inner_batch
        self.n_d = s0.d_steps
        self.loss, self.g_loss = s0.loss, s0.g_loss
        self.scheme = s0.update  # alternating | simultaneous | extragradient | optimistic
        self.sgd, self.momentum = s0.optimizer == "sgd", s0.momentum
        self.l2 = s0.weight_decay_mode == "l2"
        self.beta1, self.beta2, self.eps = s0.beta1, s0.beta2, s0.adam_eps
        self.seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64, device=dev)
        col = self.col
        self.lr_g, self.lr_d = col("lr_g"), col("lr_d")
        self.wd, self.noise = col("weight_decay"), col("noise_scale")
        self.inst, self.real = col("instance_noise"), col("real_value")
        self.cons, self.has_cons = col("consensus"), s0.consensus > 0
        self.lc, self.lc_decay, self.has_lecam = col("lecam"), col("lecam_decay"), s0.lecam > 0
        self.decay = 1.0 - self.lr_d * self.wd  # decoupled weight decay factor (R, 1)
        self.has_wd = any(s.weight_decay > 0 for s in specs)
        self.has_noise = any(s.noise_scale > 0 for s in specs)
        self.has_inst = s0.instance_noise > 0
        self.has_r1, self.has_r2, self.has_gp = s0.r1 > 0, s0.r2 > 0, s0.gp_weight > 0
        # G-step sample weights: 1/B on real samples, 0 on padding.  (R, Bp)
        self.mask = mask = (torch.arange(self.Bp, device=dev) < self.B).to(DTYPE)
        self.wx = (mask / self.B).expand(R, self.Bp).contiguous()

    def col(self, name: str) -> torch.Tensor:
        """Per-run hyper-parameter ``name`` as a (R, 1) column on the runs' device."""
        # a flat list converts several times faster than R one-element lists
        values = torch.tensor([float(getattr(s, name)) for s in self.specs], dtype=DTYPE)
        return values.view(self.R, 1).to(self.device)

    @property
    def decoupled_decay(self) -> torch.Tensor | None:
        """D's decoupled weight-decay factor (R, 1), None where the batch has none."""
        return self.decay if self.has_wd and not self.l2 else None
