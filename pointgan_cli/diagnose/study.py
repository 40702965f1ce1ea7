"""The study's failed generator, and a discriminator trained against it with G frozen.

Used when ``diagnose loss-landscape`` is given no run: the study's failed run ended at
``w = 0.605, b = 0.015`` (outputs spanning about [-0.59, +0.62] while the real value is 1). To
ask which discriminator the loss prefers against *that* generator, we train one the ordinary way
(the plain ``Discriminator`` module, ``torch.optim.Adam``, the run's D loss on fresh batches)
while the generator stays put. Everything is seeded, so the numbers are the same every time.
"""

from __future__ import annotations

import torch

from ..engine import losses
from ..engine.models import Discriminator
from ..spec import RunSpec
from .shapes import DT

FAILED_W = 0.605
FAILED_B = 0.015
D_STEPS = 1000
MAX_D_STEPS = 100_000  # --d-steps bound: a typo must not train for ever
D_LR = 0.01
D_BATCH = 64
D_SEED = 0


def failed_generator() -> torch.Tensor:
    """[w, b] of the study's failed run. (2,)"""
    return torch.tensor([FAILED_W, FAILED_B], dtype=DT)


def train_discriminator(
    g: torch.Tensor,
    spec: RunSpec,
    steps: int = D_STEPS,
    lr: float = D_LR,
    batch: int = D_BATCH,
    seed: int = D_SEED,
) -> torch.Tensor:
    """Train a fresh D for ``steps`` Adam steps against the frozen generator ``g`` (2,).

    Returns the packed parameters (7,). The global torch RNG is left untouched (the module's
    initialisation runs inside ``fork_rng``; batches come from a private generator)."""
    w, b = float(g[0]), float(g[1])
    real = torch.tensor([spec.real_value], dtype=DT)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        disc = Discriminator().to(DT)
    draw = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(disc.parameters(), lr=lr)
    for _ in range(steps):
        x = torch.rand(batch, generator=draw, dtype=DT) * 2.0 - 1.0  # (B,)
        zf = disc.logits(w * x + b)
        zr = disc.logits(real)
        d_loss = losses.d_loss(zf, zr, spec.loss, spec.label_easing, spec.fake_weight)
        opt.zero_grad()
        d_loss.backward()
        opt.step()
    return disc.packed().to(DT)
