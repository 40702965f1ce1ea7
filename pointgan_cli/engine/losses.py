"""The losses as plain, differentiable torch functions of logits: the readable definitions.

The engine's hot path (``grads``) differentiates these by hand; this module is what the metrics,
the tests (autograd oracle) and ``diagnose stability`` evaluate. Per run: ``z_fake`` (..., B) are
D's logits on generated samples, ``z_real`` (..., M) on real ones. Label easing E gives targets
E (fake) and 1 - E (real) for bce and lsgan; the fake weight F weights the two halves of the D
loss as ``(F * L_fake + L_real) / (1 + F)``.

Penalties follow the papers' scale. Mescheder et al. (2018) add ``gamma/2 E|dD/dv|^2`` (R1 on
real, R2 on generated samples) and Gulrajani et al. (2017) ``lambda E(|dD/dv| - 1)^2`` to the
*sum* ``L_fake + L_real``; pointgan averages the two halves, so it divides the whole loss by the
same ``1 + F``:

    L_D = (F * L_fake + L_real + P) / (1 + F),  P = gamma/2 E|phi|^2  or  lambda E(|phi| - 1)^2

With F = 1 this is the paper's loss halved (the same minimiser; Adam's steps are invariant to
the factor), and ``--r1``, ``--r2``, ``--gp-weight`` are the papers' gamma and lambda
(``penalty_weight`` gives the coefficient actually applied).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("bce", "lsgan", "hinge", "wgan")


def g_loss(z_fake: torch.Tensor, loss: str = "bce", g_kind: str = "non-saturating"):
    """Generator loss (mean over the last axis)."""
    if loss == "bce":
        if g_kind == "minimax":
            return -F.softplus(z_fake).mean(-1)  # log(1 - D(G(x)))
        return F.softplus(-z_fake).mean(-1)  # -log D(G(x))
    if loss == "lsgan":
        return (0.5 * (z_fake - 1.0) ** 2).mean(-1)
    return -z_fake.mean(-1)  # hinge and wgan


def d_loss_parts(z_fake, z_real, loss: str = "bce", easing=0.0):
    """(L_fake, L_real), each a mean over the last axis."""
    if loss == "bce":
        return ((F.softplus(z_fake) - easing * z_fake).mean(-1),
                (F.softplus(z_real) - (1.0 - easing) * z_real).mean(-1))
    if loss == "lsgan":
        return ((0.5 * (z_fake - easing) ** 2).mean(-1),
                (0.5 * (z_real - (1.0 - easing)) ** 2).mean(-1))
    if loss == "hinge":
        return F.relu(1.0 + z_fake).mean(-1), F.relu(1.0 - z_real).mean(-1)
    return z_fake.mean(-1), -z_real.mean(-1)  # wgan critic


def d_loss(z_fake, z_real, loss: str = "bce", easing=0.0, fake_weight=1.0):
    """Discriminator loss without penalties: ``(F * L_fake + L_real) / (1 + F)``."""
    lf, lr = d_loss_parts(z_fake, z_real, loss, easing)
    return (fake_weight * lf + lr) / (1.0 + fake_weight)


def penalty_weight(value, fake_weight):
    """The coefficient of a penalty with the papers' gamma / lambda ``value`` in pointgan's
    averaged D loss: ``value / (1 + F)`` (see the module docstring)."""
    return value / (1.0 + fake_weight)


def zero_centred_penalty(phi: torch.Tensor, gamma) -> torch.Tensor:
    """R1 / R2: ``gamma/2 * mean(phi^2)`` with phi = dD/dv (logit) at the samples."""
    return 0.5 * gamma * (phi**2).mean(-1)


def one_centred_penalty(phi: torch.Tensor, weight) -> torch.Tensor:
    """WGAN-GP: ``weight * mean((|phi| - 1)^2)`` at real/fake interpolates."""
    return weight * ((phi.abs() - 1.0) ** 2).mean(-1)
