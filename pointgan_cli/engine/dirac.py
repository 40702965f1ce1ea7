"""The Dirac-GAN of Mescheder, Geiger and Nowozin (2018) on the batched engine.

The smallest game with the problem that paper is about: the generator outputs the constant
theta, the discriminator is linear, ``D(x) = psi x``, the real data is a Dirac at 0. The unique
equilibrium is ``(theta, psi) = (0, 0)``. The paper writes the objective as
``L(theta, psi) = f(psi theta) + f(0)``, G minimising it and D maximising it, with
``f(t) = -log(1 + e^-t)`` (GAN) or ``f(t) = t`` (WGAN).

In pointgan's terms D's logit of "real" is ``z(x) = -psi x`` (the paper's ``psi x`` is the
logit of "fake") and the losses are those of ``losses``: the bce D loss on a fake is then
``-f(psi theta)``, the minimax G loss ``f(psi theta)`` (the paper's GAN), the non-saturating G
loss ``-f(-psi theta)`` (the paper's NS-GAN), and wgan is ``f(t) = t``. D's loss here is
``F * L_fake + L_real``, the paper's sum at fake weight F = 1: pointgan's game averages the two
halves, which would halve D's step and change the paper's figures.

Regularisers on the paper's scale: R1 and R2 ``gamma/2 (dz/dx)^2 = gamma/2 psi^2`` (D's input
gradient is -psi everywhere), WGAN-GP ``weight (|psi| - 1)^2``, instance noise: D sees
``theta + e`` and ``0 + e'``, ``e, e' ~ N(0, sigma^2)``, ``batch_size`` draws of each per step
from the run's own random stream (the paper's expectation plus sampling noise).

Parameters: G (R, 1) = [theta], D (R, 1) = [psi]. The update schemes, optimizers, consensus,
LeCam, checkpoints and divergence handling are the engine's (``BatchTrainer``); this module
says only what the gradients are, by hand (checked against autograd in tests/test_dirac.py).
The game's names, distance and words, without torch: ``games.dirac``.
Shapes keep the engine's rules: sample rows are multiples of ``LANE``, sums are per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..games.dirac import SEED_INIT_RANGE
from . import losses, rng
from .game import Game, Grad
from .grads import d_dz, g_dz
from .layout import DTYPE, LANE
from .randomness import ChunkedRandomness, Draws, InstanceNoiseOnly
from .settings import Settings
from .snapshot_record import Snapshot
from .state import TrainingState
from .trainer import BatchTrainer

if TYPE_CHECKING:
    from ..spec import RunSpec


def initial_params(specs: Sequence[RunSpec]) -> tuple[torch.Tensor, torch.Tensor]:
    """(theta (R, 1), psi (R, 1)) from each spec's ``--init``: the given point, or one drawn
    uniformly in [-2, 2)^2 from the run's own init stream (so alone = in a batch)."""
    seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64)
    u = rng.uniform(seeds, rng.STREAM_INIT, torch.zeros(1, dtype=torch.int64), LANE, DTYPE)
    drawn = (u[:, 0, :2] * 2.0 - 1.0) * SEED_INIT_RANGE  # (R, 2)
    rows = []
    for i, s in enumerate(specs):
        given = s.init_point
        rows.append(drawn[i] if given is None else torch.tensor(given, dtype=DTYPE))
    p = torch.stack(rows)
    return p[:, 0:1].contiguous(), p[:, 1:2].contiguous()


class DiracGame(Game):
    """The Dirac-GAN's layout and gradients. D-step layout: ``Bp`` fake slots then ``Bp`` real
    slots (R, N), each half weighted as a mean over its B samples."""

    def __init__(self, cfg: Settings):
        super().__init__(cfg)
        R, Bp, col = cfg.R, cfg.Bp, cfg.col
        fw, easing = col("fake_weight"), col("label_easing")
        # D's loss is the paper's sum, so the penalties keep the paper's gamma and lambda as
        # given (pointgan's averaged loss divides them by 1 + F, see ``losses``)
        self.r1, self.r2, self.gp = col("r1"), col("r2"), col("gp_weight")
        self.fake_weight64 = torch.tensor([[s.fake_weight] for s in cfg.specs],
                                          dtype=torch.float64)
        self.easing64 = torch.tensor([[s.label_easing] for s in cfg.specs], dtype=torch.float64)
        self.K, self.nf, self.N = 1, Bp, 2 * Bp
        mean = (cfg.mask / cfg.B).expand(R, Bp)  # (R, Bp) 1/B on samples, 0 on padding
        self.wv = torch.cat([mean * fw, mean], dim=1)  # F * L_fake + L_real
        self.ntw = -torch.cat([mean * fw * easing, mean * (1.0 - easing)], dim=1)
        ones = torch.ones(R, Bp, dtype=DTYPE, device=cfg.device)
        self.sgn = torch.cat([ones, -ones], dim=1)
        self.wsgn = self.wv * self.sgn
        self.omega_fake = self.omega_real = mean.contiguous()
        self.lc_w = torch.cat([mean, mean], dim=1) * (cfg.lc * 2.0)
        self.zeros = torch.zeros(R, Bp, dtype=DTYPE, device=cfg.device)

    def initial_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        g, d = initial_params(self.cfg.specs)
        return g.to(self.cfg.device), d.to(self.cfg.device)

    def randomness(self) -> ChunkedRandomness:
        """Only instance noise (WGAN-GP needs no interpolates here: D's input gradient is -psi
        everywhere), from the same stream as the pointgan game's (fakes, then reals, per D
        sub-step)."""
        c = self.cfg
        return InstanceNoiseOnly(c.seeds, n_d=c.n_d, B=c.B, Bp=c.Bp, K=self.K, N=self.N,
                                 inst=c.inst if c.has_inst else None)

    def metrics(self, randomness: ChunkedRandomness):
        c = self.cfg

        def evaluate(s: TrainingState) -> Snapshot:
            theta, psi = s.g.double().cpu(), s.d.double().cpu()  # (R, 1)
            g_loss, d_loss, d_real, d_fake = snapshot_losses(
                theta, psi, c.loss, c.g_loss, self.easing64, self.fake_weight64)
            return Snapshot(step=s.step, g=theta, d=psi, g_loss=g_loss, d_loss=d_loss,
                            d_real=d_real, d_fake=d_fake, alive=s.alive.cpu().clone())

        return evaluate

    def g_grad_at(self, g, d, coef, dr: Draws) -> torch.Tensor:
        """dL_G/dtheta (R, 1): G's samples are theta (+ instance noise), ``z = -psi y``, so
        ``dL/dtheta = -psi * sum_i dL/dz_i``."""
        c = self.cfg
        y = g.expand(c.R, c.Bp)
        if dr.inst is not None:
            y = y + dr.inst[:, : c.Bp]
        gz = g_dz(y * -d, c.wx, c.loss, c.g_loss)  # (R, Bp)
        return gz.sum(-1, keepdim=True) * -d

    def d_samples(self, g, dr: Draws, j: int, inplace: bool = False) -> torch.Tensor:
        """What D sees at sub-step j: Bp fakes theta (+ e), then Bp reals 0 (+ e')."""
        Bp = self.cfg.Bp
        fakes, reals = g.expand(self.cfg.R, Bp), self.zeros
        if dr.inst is not None:
            o = Bp + j * self.N
            fakes = fakes + dr.inst[:, o : o + Bp]
            reals = dr.inst[:, o + Bp : o + self.N]
        return torch.cat([fakes, reals], dim=1)

    def d_grad_at(self, d, coef, v, dr: Draws, j: int, lc_ema: torch.Tensor) -> Grad:
        """dL_D/dpsi (R, 1) at inputs v (R, N): ``-sum_i dL/dz_i v_i`` (z = -psi v), plus
        R1/R2 ``gamma psi``, WGAN-GP ``2 weight (|psi| - 1) sign(psi)``, LeCam, L2 decay;
        and the LeCam anchors it used."""
        c = self.cfg
        z = v * -d
        gz = d_dz(z, c.loss, self.wv, self.ntw, self.wsgn, self.sgn)
        anchors = None
        if c.has_lecam:
            dz, anchors = self.lecam_dz(z, lc_ema)
            gz = gz + dz
        gd = -(gz * v).sum(-1, keepdim=True)
        if c.has_r1:
            gd = gd + d * self.r1
        if c.has_r2:
            gd = gd + d * self.r2
        if c.has_gp:
            gd = gd + (d.abs() - 1.0) * torch.sign(d) * (self.gp * 2.0)
        if c.has_wd and c.l2:
            gd = gd + d * c.wd
        return gd, anchors


class DiracTrainer(BatchTrainer):
    """R Dirac-GAN runs whose specs share a ``batch_key``: the engine with this game's layout,
    gradients, draws and metrics (``DiracGame``)."""

    game_class = DiracGame

    @torch.inference_mode(False)  # normal tensors: the consensus term differentiates through them
    def __init__(self, specs: Sequence[RunSpec], step_mode: str | None = None):
        """Steps run eagerly on any device (``step_mode`` None or "eager"): two parameters
        per run leave nothing for a captured CUDA graph to win."""
        if step_mode not in (None, "eager"):
            raise ValueError(f"step_mode {step_mode!r}: the Dirac-GAN steps eagerly")
        super().__init__(specs, "eager")


def snapshot_losses(theta, psi, loss: str, g_kind: str, easing, fake_weight):
    """(g_loss, d_loss, d_real, d_fake), each (R,), of the noise-free game at float64 points
    theta, psi (R, 1): ``z_fake = -psi theta``, ``z_real = 0``, ``d_loss = F L_fake + L_real``
    as trained; easing and fake_weight (R, 1). Row by row, so a sweep's store recomputes any
    row alone with the same bits."""
    zf, zr = -psi * theta, torch.zeros_like(psi)
    lf, lr = losses.d_loss_parts(zf, zr, loss, easing)
    return (losses.g_loss(zf, loss, g_kind), (fake_weight * lf.unsqueeze(-1)).squeeze(-1) + lr,
            torch.sigmoid(zr).squeeze(1), torch.sigmoid(zf).squeeze(1))


HERMITE_NODES = 40  # Gauss-Hermite nodes for instance noise in expectation


def gauss_hermite(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights (float64) with ``sum_i w_i g(x_i) = E[g(X)]``, X ~ N(0, 1), exact for
    polynomials of degree < 2n: Golub-Welsch, the eigen-decomposition of the probabilists'
    Hermite recurrence's Jacobi matrix (off-diagonal sqrt(k))."""
    off = torch.sqrt(torch.arange(1, n, dtype=torch.float64))
    jac = torch.diag(off, 1) + torch.diag(off, -1)
    x, vec = torch.linalg.eigh(jac)
    return x, vec[0] ** 2


def expected_field(points: torch.Tensor, spec: RunSpec) -> torch.Tensor:
    """The update direction ``(-dL_G/dtheta, -dL_D/dpsi)`` of ``spec``'s Dirac-GAN at points
    (P, 2), float64: the training gradients with instance noise as a Gauss-Hermite expectation
    instead of samples, plus the consensus term when the spec has one; weight decay (either
    mode) as ``wd psi``, as gradient descent sees it. Differentiable: autograd gives its
    Jacobian. For drawing vector fields and for the eigenvalues at the equilibrium. LeCam's
    anchors are taken at their fixed point, the mean logits where the field is evaluated."""
    if spec.instance_noise > 0:
        e, wts = gauss_hermite(HERMITE_NODES)
        e = e * spec.instance_noise
    else:
        e = torch.zeros(1, dtype=torch.float64)
        wts = torch.ones(1, dtype=torch.float64)

    def grads(theta: torch.Tensor, psi: torch.Tensor):  # (P, 1) each
        y = theta + e  # fakes  (P, n)
        zf, zr = -psi * y, -psi * e.expand_as(y)  # D's logits on fakes and reals
        lg = (losses.g_loss(zf.unsqueeze(-1), spec.loss, spec.g_loss) * wts).sum(-1)
        lf, lr = losses.d_loss_parts(zf.unsqueeze(-1), zr.unsqueeze(-1), spec.loss,
                                     spec.label_easing)
        ld = ((spec.fake_weight * lf + lr) * wts).sum(-1)  # (P,)
        p = psi[:, 0]
        ld = ld + (spec.r1 + spec.r2) * 0.5 * p**2 + spec.gp_weight * (p.abs() - 1.0) ** 2
        ld = ld + 0.5 * spec.weight_decay * p**2
        if spec.lecam > 0:
            a_real = (zr * wts).sum(-1, keepdim=True).detach()
            a_fake = (zf * wts).sum(-1, keepdim=True).detach()
            ld = ld + spec.lecam * ((((zr - a_fake) ** 2) * wts).sum(-1)
                                    + (((zf - a_real) ** 2) * wts).sum(-1))
        (gt,) = torch.autograd.grad(lg.sum(), theta, create_graph=True)
        (gp,) = torch.autograd.grad(ld.sum(), psi, create_graph=True)
        return gt, gp

    with torch.enable_grad():
        pts = points.to(torch.float64)
        if not pts.requires_grad:
            pts = pts.detach().clone().requires_grad_(True)
        theta, psi = pts[:, 0:1], pts[:, 1:2]
        gt, gp = grads(theta, psi)
        if spec.consensus > 0:  # gradient of 1/2 |v|^2 w.r.t. both parameters
            half = 0.5 * (gt**2 + gp**2).sum()
            (c,) = torch.autograd.grad(half, pts, create_graph=True)
            gt, gp = gt + spec.consensus * c[:, 0:1], gp + spec.consensus * c[:, 1:2]
    return -torch.cat([gt, gp], dim=1)
