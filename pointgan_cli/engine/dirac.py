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
from .grads import d_dz, g_dz
from .layout import CHUNK, DTYPE, LANE
from .randomness import Draws, step_of
from .trainer import BatchTrainer, Snapshot

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


class DiracTrainer(BatchTrainer):
    """R Dirac-GAN runs whose specs share a ``batch_key``: the engine with this game's
    gradients. D-step layout: ``Bp`` fake slots then ``Bp`` real slots (R, N), each half
    weighted as a mean over its B samples."""

    @torch.inference_mode(False)  # normal tensors: the consensus term differentiates through them
    def __init__(self, specs: Sequence[RunSpec], step_mode: str | None = None):
        """Steps run eagerly on any device (``step_mode`` None or "eager"): two parameters
        per run leave nothing for a captured CUDA graph to win."""
        if step_mode not in (None, "eager"):
            raise ValueError(f"step_mode {step_mode!r}: the Dirac-GAN steps eagerly")
        self._common_init(specs)
        self._layout()
        g, d = initial_params(self.specs)
        self._init_state(g.to(self.device), d.to(self.device), "eager")

    def _layout(self) -> None:
        R, Bp, col = self.R, self.Bp, self.col
        fw, easing = col("fake_weight"), col("label_easing")
        # D's loss is the paper's sum, so the penalties keep the paper's gamma and lambda as
        # given (pointgan's averaged loss divides them by 1 + F, see ``losses``)
        self.r1, self.r2, self.gp = col("r1"), col("r2"), col("gp_weight")
        self.fake_weight64 = torch.tensor([[s.fake_weight] for s in self.specs],
                                          dtype=torch.float64)
        self.easing64 = torch.tensor([[s.label_easing] for s in self.specs], dtype=torch.float64)
        self.K, self.nf, self.N = 1, Bp, 2 * Bp
        mean = (self.mask / self.B).expand(R, Bp)  # (R, Bp) 1/B on samples, 0 on padding
        self.wv = torch.cat([mean * fw, mean], dim=1)  # F * L_fake + L_real
        self.ntw = -torch.cat([mean * fw * easing, mean * (1.0 - easing)], dim=1)
        ones = torch.ones(R, Bp, dtype=DTYPE, device=self.device)
        self.sgn = torch.cat([ones, -ones], dim=1)
        self.wsgn = self.wv * self.sgn
        self.omega_fake = self.omega_real = mean.contiguous()
        self.lc_w = torch.cat([mean, mean], dim=1) * (self.lc * 2.0)
        self.lc_rate = 1.0 - self.lc_decay
        self.zeros = torch.zeros(R, Bp, dtype=DTYPE, device=self.device)

    # -- randomness: only instance noise ---------------------------------------------------
    def _alloc_chunks(self) -> None:
        R, C, n_d, dev = self.R, CHUNK, self.n_d, self.device
        self.x_chunk = torch.zeros(R, C, n_d, 1, dtype=DTYPE, device=dev)  # G has no input
        if self.has_inst:  # per step Bp values for the G step, then N per D sub-step
            self.inst_chunk = torch.empty(R, C, self.Bp + n_d * self.N, dtype=DTYPE, device=dev)
        self._chunks_ready = True

    def _draws(self, c: int | torch.Tensor) -> Draws:
        """Step ``c`` of the chunk: only instance noise (WGAN-GP needs no interpolates here:
        D's input gradient is -psi everywhere)."""
        inst = step_of(self.inst_chunk, c) if self.has_inst else None
        return Draws(x=self.x_chunk[:, 0], eps=None, inst=inst, gp=None)

    def _fill_chunk(self, start: int, lo: int, hi: int) -> None:
        """Runs lo..hi of the chunk starting at ``start``: instance noise from the same stream
        as the pointgan game's (fakes, then reals, per D sub-step)."""
        if self.has_inst:
            steps = torch.arange(start, start + CHUNK, dtype=torch.int64, device=self.device)
            self._fill_instance_noise(steps, lo, hi)

    # -- gradients -------------------------------------------------------------------------
    def _coef(self):
        return None  # D's parameter is its own coefficient

    def _g_grad(self, t: int, coef) -> torch.Tensor:
        return self._g_grad_at(self.g, self.d, t)

    def _g_grad_at(self, g: torch.Tensor, d: torch.Tensor, t: int) -> torch.Tensor:
        """dL_G/dtheta (R, 1): G's samples are theta (+ instance noise), ``z = -psi y``, so
        ``dL/dtheta = -psi * sum_i dL/dz_i``."""
        y = g.expand(self.R, self.Bp)
        if self.has_inst:
            y = y + self._dr.inst[:, : self.Bp]
        gz = g_dz(y * -d, self.wx, self.loss, self.g_loss)  # (R, Bp)
        return gz.sum(-1, keepdim=True) * -d

    def _d_samples(self, g: torch.Tensor, t: int, j: int, inplace: bool = False):
        """What D sees at sub-step j of step t: Bp fakes theta (+ e), then Bp reals 0 (+ e')."""
        fakes, reals = g.expand(self.R, self.Bp), self.zeros
        if self.has_inst:
            o = self.Bp + j * self.N
            fakes = fakes + self._dr.inst[:, o : o + self.Bp]
            reals = self._dr.inst[:, o + self.Bp : o + self.N]
        return torch.cat([fakes, reals], dim=1)

    def _d_grad(self, t: int, j: int, coef) -> torch.Tensor:
        return self._d_grad_at(self.d, None, self._d_samples(self.g, t, j), t, j, True)

    def _d_grad_at(self, d, coef, v, t: int, j: int, commit: bool) -> torch.Tensor:
        """dL_D/dpsi (R, 1) at inputs v (R, N): ``-sum_i dL/dz_i v_i`` (z = -psi v), plus
        R1/R2 ``gamma psi``, WGAN-GP ``2 weight (|psi| - 1) sign(psi)``, LeCam, L2 decay."""
        z = v * -d
        gz = d_dz(z, self.loss, self.wv, self.ntw, self.wsgn, self.sgn)
        if self.has_lecam:
            dz, anchors = self._lecam_dz(z)
            if commit:
                self._lc_next = anchors
            gz = gz + dz
        gd = -(gz * v).sum(-1, keepdim=True)
        if self.has_r1:
            gd = gd + d * self.r1
        if self.has_r2:
            gd = gd + d * self.r2
        if self.has_gp:
            gd = gd + (d.abs() - 1.0) * torch.sign(d) * (self.gp * 2.0)
        if self.has_wd and self.l2:
            gd = gd + d * self.wd
        return gd

    def _field(self, g: torch.Tensor, d: torch.Tensor, t: int, j: int = 0):
        gg = self._g_grad_at(g, d, t)
        return gg, self._d_grad_at(d, None, self._d_samples(g, t, j), t, j, False)

    # -- metrics ---------------------------------------------------------------------------
    def _evaluate(self) -> Snapshot:
        theta, psi = self.g.double().cpu(), self.d.double().cpu()  # (R, 1)
        g_loss, d_loss, d_real, d_fake = snapshot_losses(
            theta, psi, self.loss, self.g_loss, self.easing64, self.fake_weight64)
        return Snapshot(step=self.step, g=theta, d=psi, g_loss=g_loss, d_loss=d_loss,
                        d_real=d_real, d_fake=d_fake, alive=self.alive.cpu().clone())


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
