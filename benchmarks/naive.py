"""The naive baseline: one run as plain nn.Modules with autograd and torch.optim, written the
study's way (one Python step at a time). Benchmarks measure the engine against it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pointgan_cli.engine.models import Discriminator, Generator
from pointgan_cli.spec import RunSpec


class NaiveRun:
    def __init__(self, spec: RunSpec):
        torch.manual_seed(spec.seed)
        self.spec = spec
        self.G, self.D = Generator(), Discriminator()
        betas = (spec.beta1, spec.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=spec.lr_g, betas=betas)
        dopt = torch.optim.AdamW if spec.weight_decay_mode == "decoupled" else torch.optim.Adam
        self.opt_d = dopt(self.D.parameters(), lr=spec.lr_d, betas=betas,
                          weight_decay=spec.weight_decay)
        self.real = torch.full((spec.batch_size,), spec.real_value)

    def step(self) -> None:
        s = self.spec
        x = torch.rand(s.batch_size) * 2 - 1
        self.opt_g.zero_grad()
        d_fake = self.D(self.G(x))
        F.binary_cross_entropy(d_fake, torch.ones_like(d_fake)).backward()
        self.opt_g.step()

        self.opt_d.zero_grad()
        t_fake = torch.full_like(x, s.label_easing)
        t_real = torch.full_like(x, 1 - s.label_easing)
        w, b = self.G.linear.weight.detach(), self.G.linear.bias.detach()
        k = s.effective_inner_batch
        loss = 0.0
        for _ in range(k):  # the inner batch of noise draws
            nw = w + torch.randn(()) * s.noise_scale if s.noise_scale > 0 else w
            nb = b + torch.randn(()) * s.noise_scale if s.noise_scale > 0 else b
            fake = (x.unsqueeze(-1) * nw + nb).squeeze(-1)
            lf = F.binary_cross_entropy(self.D(fake), t_fake)
            lr_ = F.binary_cross_entropy(self.D(self.real), t_real)
            loss = loss + (s.fake_weight * lf + lr_) / (1 + s.fake_weight) / k
        loss.backward()
        self.opt_d.step()


def naive_us_per_step(spec: RunSpec, steps: int) -> float:
    """Microseconds per step of the naive loop (after a short warm-up)."""
    import time

    run = NaiveRun(spec)
    for _ in range(20):
        run.step()
    t = time.perf_counter()
    for _ in range(steps):
        run.step()
    return (time.perf_counter() - t) / steps * 1e6
