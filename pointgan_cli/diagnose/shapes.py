"""Discriminator shapes and the measures every diagnosis is built on.

Everything works on packed parameters (see ``models``): a discriminator ``d`` is a float64
tensor (..., 7) = ``[W1_0, W1_1, c1_0, c1_1, W2_0, W2_1, c2]``, a generator ``g`` is (2,) =
``[w, b]``.

Why expectations on a fixed grid instead of sampled batches: the questions asked here ("does the
loss prefer this D to that one?") must not depend on which 64 samples a batch happened to draw.
With x ~ U[-1, 1], the mean over the midpoints of ``X_POINTS`` equal cells is the expectation up
to a quadrature error far below the differences we report.
"""

from __future__ import annotations

import torch

from ..engine import losses
from ..engine.models import d_logits_packed
from ..spec import RunSpec
from .dshape import SATURATION_GRAD, X_POINTS  # thresholds shared with the numpy evidence

DT = torch.float64


def x_grid(n: int = X_POINTS) -> torch.Tensor:
    """Midpoints of n equal cells of [-1, 1]: a mean over them is E over x ~ U[-1, 1]. (n,)"""
    return (torch.arange(n, dtype=DT) + 0.5) * (2.0 / n) - 1.0


def generated(g: torch.Tensor, n: int = X_POINTS) -> torch.Tensor:
    """The generator's outputs ``w x + b`` on the x grid: (..., 2) -> (..., n)."""
    return g[..., 0:1] * x_grid(n) + g[..., 1:2]


def d_loss(d: torch.Tensor, g: torch.Tensor, spec: RunSpec, n: int = X_POINTS) -> torch.Tensor:
    """Expected D loss (the run's own, ``losses.d_loss``, without penalties) of discriminators
    ``d`` (..., 7) against generator ``g`` (2,), x on the midpoint grid. -> (...)"""
    zf = d_logits_packed(d, generated(g, n))  # (..., n)
    zr = d_logits_packed(d, torch.tensor([spec.real_value], dtype=DT))  # (..., 1)
    return losses.d_loss(zf, zr, spec.loss, spec.label_easing, spec.fake_weight)


def dlogit_dv(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The logit's slope ``sum_j W2_j W1_j (1 - tanh^2(W1_j v + c1_j))``.
    d (..., 7), v (..., N) -> (..., N)"""
    t0 = torch.tanh(d[..., 0:1] * v + d[..., 2:3])
    t1 = torch.tanh(d[..., 1:2] * v + d[..., 3:4])
    return d[..., 4:5] * d[..., 0:1] * (1.0 - t0 * t0) + d[..., 5:6] * d[..., 1:2] * (1.0 - t1 * t1)


def dprob_dv(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """dD/dv = D (1 - D) dz/dv: how strongly D's output moves when a sample moves. (..., N)"""
    p = torch.sigmoid(d_logits_packed(d, v))
    return p * (1.0 - p) * dlogit_dv(d, v)


def saturation_fraction(
    d: torch.Tensor, g: torch.Tensor, threshold: float = SATURATION_GRAD, n: int = X_POINTS,
    probability: bool = True,
) -> float:
    """Fraction of generated samples (by x measure) where ``|dD/dv| < threshold``: the share of
    the generator's output that a step-shaped D no longer pushes anywhere. (``probability``
    False: D's output is its logit, as for the non-BCE losses.)"""
    v = generated(g, n)
    slope = dprob_dv(d, v) if probability else dlogit_dv(d, v)
    return float((slope.abs() < threshold).to(DT).mean())


def d_range(
    d: torch.Tensor, lo: float, hi: float, n: int = 1001, probability: bool = True
) -> float:
    """``max D - min D`` over [lo, hi]: near zero when weight decay has flattened D."""
    z = d_logits_packed(d, torch.linspace(lo, hi, n, dtype=DT))
    p = torch.sigmoid(z) if probability else z
    return float(p.max() - p.min())


# -- hand-built discriminators (all exactly representable by the 1-2-1 net) ------------------


def bell(k: float, h: float, center: float, half_width: float, c2: float = 0.0) -> torch.Tensor:
    """Difference of two tanh steps: logit ``h tanh(k(v - center + a)) - h tanh(k(v - center -
    a)) + c2``, high on ``center +- a`` and ``c2`` far away. (7,)"""
    a = half_width
    return torch.tensor(
        [k, k, -k * (center - a), -k * (center + a), h, -h, c2], dtype=DT
    )


def step(
    k: float, h: float, threshold: float, rising: bool = True, c2: float = 0.0
) -> torch.Tensor:
    """Both hidden units as the same step at ``threshold``: logit ``+-2h tanh(k(v - t)) + c2``,
    twice the swing a bell gets from the same weights. (7,)"""
    s = h if rising else -h
    return torch.tensor([k, k, -k * threshold, -k * threshold, s, s, c2], dtype=DT)


def flat(c2: float = 0.0) -> torch.Tensor:
    """A constant D = sigmoid(c2). (7,)"""
    return torch.tensor([0.0] * 6 + [c2], dtype=DT)


def fit_c2(d: torch.Tensor, g: torch.Tensor, spec: RunSpec, iters: int = 80) -> torch.Tensor:
    """Replace each D's output bias by the one that minimises its loss. d (C, 7) -> (C, 7).

    The loss is convex in c2 (BCE is convex in the logit, the logit is affine in c2), so its
    derivative is monotone and bisection finds the minimum without any step size to tune."""
    d = d.clone()
    lo = torch.full(d.shape[:-1], -60.0, dtype=DT)
    hi = torch.full(d.shape[:-1], 60.0, dtype=DT)
    e, fw = spec.label_easing, spec.fake_weight
    yf = generated(g)
    real = torch.tensor([spec.real_value], dtype=DT)
    for _ in range(iters):
        mid = (lo + hi) / 2
        d[..., 6] = mid
        # dL/dc2 = (F * mean(sigmoid(zf) - E) + sigmoid(zr) - (1 - E)) / (1 + F), up to 1/(1+F)
        pf = torch.sigmoid(d_logits_packed(d, yf)).mean(-1)
        pr = torch.sigmoid(d_logits_packed(d, real)).squeeze(-1)
        up = fw * (pf - e) + pr - (1.0 - e) > 0
        hi = torch.where(up, mid, hi)
        lo = torch.where(up, lo, mid)
    d[..., 6] = (lo + hi) / 2
    return d


def weight_scale(d: torch.Tensor) -> tuple[float, float]:
    """(mean |W1_j|, mean |W2_j|): the weight budget hand-built candidates are given."""
    return float(d[0:2].abs().mean()), float(d[4:6].abs().mean())
