"""The study's two networks as plain ``nn.Module``s, and their packed form used by the engine.

The engine trains R runs at once on packed parameter tensors: the generator as ``(R, 2)`` =
``[w, b]`` and the discriminator as ``(R, 7)`` = ``[W1_0, W1_1, c1_0, c1_1, W2_0, W2_1, c2]``
for ``D(v) = sigmoid(W2 . tanh(W1 v + c1) + c2)``. These modules are the readable reference:
tests check the engine's hand-derived gradients against autograd on them, and ``diagnose``
re-trains a discriminator against the study's generator with them.
"""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """``y = w * x + b``: one neuron. The ideal generator is ``w = 0, b = real``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B,) -> (B,)
        return self.linear(x.unsqueeze(-1)).squeeze(-1)

    def packed(self) -> torch.Tensor:
        """``[w, b]`` as a (2,) tensor."""
        return torch.cat([self.linear.weight.reshape(1), self.linear.bias.reshape(1)]).detach()

    @classmethod
    def from_packed(cls, p: torch.Tensor) -> Generator:
        g = cls().to(p.dtype)
        with torch.no_grad():
            g.linear.weight.copy_(p[0].reshape(1, 1))
            g.linear.bias.copy_(p[1].reshape(1))
        return g


class Discriminator(nn.Module):
    """``Linear(1,2) -> tanh -> Linear(2,1) -> sigmoid``: the simplest net that can be a bell."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(1, 2)
        self.out = nn.Linear(2, 1)

    def logits(self, v: torch.Tensor) -> torch.Tensor:  # (N,) -> (N,)
        return self.out(torch.tanh(self.hidden(v.unsqueeze(-1)))).squeeze(-1)

    def forward(self, v: torch.Tensor) -> torch.Tensor:  # (N,) -> (N,) probabilities
        return torch.sigmoid(self.logits(v))

    def packed(self) -> torch.Tensor:
        """The 7 parameters in engine order, as a (7,) tensor."""
        h, o = self.hidden, self.out
        return torch.cat(
            [h.weight.reshape(2), h.bias.reshape(2), o.weight.reshape(2), o.bias.reshape(1)]
        ).detach()

    @classmethod
    def from_packed(cls, p: torch.Tensor) -> Discriminator:
        d = cls().to(p.dtype)
        with torch.no_grad():
            d.hidden.weight.copy_(p[0:2].reshape(2, 1))
            d.hidden.bias.copy_(p[2:4])
            d.out.weight.copy_(p[4:6].reshape(1, 2))
            d.out.bias.copy_(p[6:7])
        return d


def d_logits_packed(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """D logits for packed params ``d`` (..., 7) at values ``v`` (..., N): float64-safe helper
    for plotting and diagnosis (not the training hot path)."""
    h0 = torch.tanh(d[..., 0:1] * v + d[..., 2:3])
    h1 = torch.tanh(d[..., 1:2] * v + d[..., 3:4])
    return d[..., 4:5] * h0 + d[..., 5:6] * h1 + d[..., 6:7]


def d_prob_packed(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``D(v)`` for packed params (see ``d_logits_packed``)."""
    return torch.sigmoid(d_logits_packed(d, v))
