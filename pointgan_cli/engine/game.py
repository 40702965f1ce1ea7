"""A game on the engine: its D-step layout and both players' hand-derived gradients, taking the
training state and the step's draws explicitly. ``PointGame`` is the pointgan game; the
Dirac-GAN's is ``dirac.DiracGame``. (The games' names, distances and words, without torch,
are ``games``.)

Why hand-derived gradients (``grads``): the networks have 2 + 7 parameters, so autograd's
bookkeeping would cost more than the arithmetic. They are checked against autograd on the plain
``nn.Module``s in the tests. Shapes keep the engine's layout rules (``trainer``): sample rows
are multiples of ``LANE``, sums are per row.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from . import losses, rng
from .grads import d_coefficients, d_dz, grads_d, grads_g, grads_penalty
from .layout import DTYPE, LANE
from .randomness import ChunkedRandomness, Draws
from .settings import Settings
from .snapshots import PointMetrics
from .state import TrainingState

__all__ = ["Game", "Grad", "PointGame", "init_params"]

Grad = tuple[torch.Tensor, torch.Tensor | None]  # D's gradient and the LeCam anchors it used


def init_params(seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run initial parameters with nn.Linear's default ranges: G and D's first layer
    U(-1, 1) (fan-in 1), D's output layer U(-1/sqrt 2, 1/sqrt 2) (fan-in 2)."""
    u = rng.uniform(seeds, rng.STREAM_INIT, torch.zeros(1, dtype=torch.int64), LANE, DTYPE)
    u = u[:, 0, :9] * 2.0 - 1.0  # (R, 9) in [-1, 1)
    g = u[:, 0:2].contiguous()
    d = torch.cat([u[:, 2:6], u[:, 6:9] * (1.0 / math.sqrt(2.0))], dim=1)
    return g, d


class Game(ABC):
    """What every game shares: the settings ``cfg``, the hot-path wrappers around the game's
    gradients, the joint field and LeCam's term. A game sets, in its constructor, its D-step
    layout: ``K`` G-noise pairs, D rows of ``N`` values (``nf`` fake slots, then real ones),
    the loss weights ``wv``, ``ntw`` (-wv * target), ``sgn``, ``wsgn`` and the LeCam weights
    ``omega_fake``, ``omega_real``, ``lc_w``."""

    K: int
    N: int
    nf: int
    wv: torch.Tensor
    ntw: torch.Tensor
    sgn: torch.Tensor
    wsgn: torch.Tensor
    omega_fake: torch.Tensor
    omega_real: torch.Tensor
    lc_w: torch.Tensor

    def __init__(self, cfg: Settings):
        self.cfg = cfg
        self.lc_rate = 1.0 - cfg.lc_decay

    # -- the game's own parts ----------------------------------------------------------------
    @abstractmethod
    def initial_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """G's and D's parameters at step 0, on the runs' device."""

    @abstractmethod
    def randomness(self) -> ChunkedRandomness:
        """The draws this game's steps take."""

    @abstractmethod
    def metrics(self, randomness: ChunkedRandomness):
        """The snapshot metrics: a callable from a state to a ``Snapshot``."""

    def coef(self, d: torch.Tensor):
        """What D's gradients need of its parameters (None: the parameters themselves)."""
        return None

    @abstractmethod
    def g_grad_at(self, g, d, coef, dr: Draws) -> torch.Tensor:
        """G's gradient at G params ``g`` against D params ``d`` (``coef``: ``coef(d)``)."""

    @abstractmethod
    def d_samples(self, g, dr: Draws, j: int, inplace: bool = False) -> torch.Tensor:
        """D's inputs (R, N) at sub-step j for G params ``g`` (``inplace``: may reuse a
        buffer; the hot path only)."""

    @abstractmethod
    def d_grad_at(self, d, coef, v, dr: Draws, j: int, lc_ema: torch.Tensor) -> Grad:
        """D's gradient at params ``d`` on inputs ``v``, and the LeCam anchors it used."""

    # -- shared -------------------------------------------------------------------------------
    def g_grad(self, s: TrainingState, dr: Draws, coef) -> torch.Tensor:
        """G's gradient at the state's (G, D) with the step's draws."""
        return self.g_grad_at(s.g, s.d, coef, dr)

    def d_grad(self, s: TrainingState, dr: Draws, j: int, coef) -> Grad:
        """D's gradient (plus penalties) at D sub-step j, with fakes from the state's G (the
        hot path: D's inputs may go into a preallocated buffer), and the LeCam anchors it
        used (None without LeCam), to be kept when it is applied."""
        return self.d_grad_at(s.d, coef, self.d_samples(s.g, dr, j, True), dr, j, s.lc_ema)

    def field(self, g, d, dr: Draws, lc_ema: torch.Tensor, j: int = 0):
        """(gg, gd): both players' gradients at (g, d) with the step's samples (D's of sub-step
        j), built without writes into shared buffers so autograd can differentiate it."""
        coef = self.coef(d)
        gg = self.g_grad_at(g, d, coef, dr)
        return gg, self.d_grad_at(d, coef, self.d_samples(g, dr, j), dr, j, lc_ema)[0]

    def lecam_dz(self, z: torch.Tensor, lc_ema: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LeCam's ``dR/dz`` per sample and the anchors it used. D's inputs are laid out as
        ``nf`` fake slots then real ones; the anchors are the EMAs ``lc_ema`` (R, 2) updated
        with this batch's mean logits first, then held constant in the gradient. Fake slots
        are pulled toward a_real, real slots toward a_fake:
        ``2 lambda omega_i (z_i - anchor_i)``."""
        nf, decay = self.nf, self.cfg.lc_decay
        zd = z.detach()
        mean_f = (zd[:, :nf] * self.omega_fake).sum(-1, keepdim=True)  # (R, 1)
        mean_r = (zd[:, nf:] * self.omega_real).sum(-1, keepdim=True)
        a_real = lc_ema[:, 0:1] * decay + mean_r * self.lc_rate
        a_fake = lc_ema[:, 1:2] * decay + mean_f * self.lc_rate
        anchor = torch.cat([a_real.expand(-1, nf), a_fake.expand(-1, z.shape[1] - nf)], dim=1)
        return (z - anchor) * self.lc_w, torch.cat([a_real, a_fake], dim=1)


class PointGame(Game):
    """The pointgan game: G(x) = w x + b against a two-unit D (``models``), D-step layout
    ``K * Bp`` fake slots, then ``LANE`` slots all holding the real value, so the row stays a
    multiple of LANE and the real term costs no separate ops.  (R, N)"""

    def __init__(self, cfg: Settings):
        super().__init__(cfg)
        R, dev, col, mask, specs = cfg.R, cfg.device, cfg.col, cfg.mask, cfg.specs
        fw = col("fake_weight")
        easing = col("label_easing")
        # penalties on the papers' scale in the averaged D loss (losses.penalty_weight)
        pw = losses.penalty_weight(1.0, fw)  # (R, 1)
        self.r1, self.r2, self.gp = col("r1") * pw, col("r2") * pw, col("gp_weight") * pw
        # float64 copies for the snapshot metrics, straight from the specs (R,) and (R, 1)
        self.fake_weight64 = torch.tensor([s.fake_weight for s in specs], dtype=torch.float64)
        self.easing64 = torch.tensor([[s.label_easing] for s in specs], dtype=torch.float64)
        self.K = K = cfg.K
        self.nf = nf = K * cfg.Bp
        self.N = nf + LANE
        fake_mean = mask.repeat(K) / (K * cfg.B)  # mean over real fakes  (nf,)
        w_fake = (fw / (1.0 + fw)) * fake_mean  # (R, nf)
        w_real = (1.0 / (1.0 + fw)) / LANE * torch.ones(R, LANE, dtype=DTYPE, device=dev)
        self.wv = torch.cat([w_fake, w_real], dim=1)
        self.ntw = -torch.cat([w_fake * easing, w_real * (1.0 - easing)], dim=1)  # -wv * target
        sgn = torch.cat([torch.ones(nf, device=dev), -torch.ones(LANE, device=dev)]).to(DTYPE)
        self.sgn = sgn.expand(R, self.N).contiguous()
        self.wsgn = self.wv * self.sgn
        self.omega_fake = fake_mean.expand(R, nf).contiguous()  # R2: mean over fakes
        self.omega_real = torch.full((R, LANE), 1.0 / LANE, dtype=DTYPE, device=dev)  # R1
        self.omega_x = cfg.wx  # WGAN-GP: mean over B interpolates
        # LeCam: 2 lambda times the mean weights over fakes and reals  (R, N)
        self.lc_w = torch.cat([self.omega_fake, self.omega_real], dim=1) * (cfg.lc * 2.0)
        self.v = torch.empty(R, self.N, dtype=DTYPE, device=dev)  # the hot path's D inputs
        self.v[:, nf:] = cfg.real
        self.fake_view = self.v[:, :nf].view(R, K, cfg.Bp)

    def initial_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        return init_params(self.cfg.seeds)

    def randomness(self) -> ChunkedRandomness:
        c = self.cfg
        return ChunkedRandomness(c.seeds, n_d=c.n_d, B=c.B, Bp=c.Bp, K=self.K, N=self.N,
                                 noise=c.noise if c.has_noise else None,
                                 inst=c.inst if c.has_inst else None, gp=c.has_gp)

    def metrics(self, randomness: ChunkedRandomness) -> PointMetrics:
        c = self.cfg
        return PointMetrics(randomness, B=c.B, steps=c.steps, real=c.real, loss=c.loss,
                            g_loss=c.g_loss, easing=self.easing64, fake_weight=self.fake_weight64)

    def coef(self, d: torch.Tensor):
        return d_coefficients(d)

    def g_grad_at(self, g, d, coef, dr: Draws) -> torch.Tensor:
        """Gradient (R, 2) of the G loss for G params ``g`` against D's ``coef``."""
        c = self.cfg
        nx = dr.inst[:, : c.Bp] if dr.inst is not None else None
        return grads_g(g, coef, dr.x[:, 0], c.wx, c.loss, c.g_loss, nx)

    def d_samples(self, g, dr: Draws, j: int, inplace: bool = False) -> torch.Tensor:
        """What D sees at sub-step j for generator g: K * Bp fakes, then LANE reals (R, N).
        Written into the hot path's buffer ``v`` (whose real slots already hold the real
        value) or built anew (differentiable, for ``field``)."""
        c = self.cfg
        R, K, nf = c.R, self.K, self.nf
        x = dr.x[:, j]  # (R, Bp)
        if dr.eps is not None:
            e = dr.eps[:, j]  # (R, K, 2)
            wk = (e[:, :, 0] + g[:, 0:1]).unsqueeze(-1)  # (R, K, 1)
            bk = (e[:, :, 1] + g[:, 1:2]).unsqueeze(-1)
        else:
            wk = g[:, 0:1].unsqueeze(-1).expand(R, K, 1)
            bk = g[:, 1:2].unsqueeze(-1).expand(R, K, 1)
        noise = None
        if dr.inst is not None:
            noise = dr.inst[:, c.Bp + j * self.N : c.Bp + (j + 1) * self.N]
        if inplace:
            v = self.v
            torch.mul(x.unsqueeze(1), wk, out=self.fake_view)
            self.fake_view.add_(bk)
            if noise is not None:
                v[:, :nf] += noise[:, :nf]
                torch.add(noise[:, nf:], c.real, out=v[:, nf:])
            return v
        fakes = (x.unsqueeze(1) * wk + bk).reshape(R, nf)
        if noise is None:
            return torch.cat([fakes, c.real.expand(R, LANE)], dim=1)
        return torch.cat([fakes + noise[:, :nf], noise[:, nf:] + c.real], dim=1)

    def d_grad_at(self, d, coef, v, dr: Draws, j: int, lc_ema: torch.Tensor) -> Grad:
        """Gradient (R, 7) of the D loss, penalties and regularisers for D params ``d`` at
        inputs ``v`` (R, N), and the LeCam anchors it used."""
        c, nf = self.cfg, self.nf
        anchors = None

        def gz_of(z: torch.Tensor) -> torch.Tensor:
            nonlocal anchors
            gz = d_dz(z, c.loss, self.wv, self.ntw, self.wsgn, self.sgn)
            if c.has_lecam:
                dz, anchors = self.lecam_dz(z, lc_ema)
                gz = gz + dz
            return gz

        gd = grads_d(d, coef, v, gz_of)
        if c.has_r1:
            gd = gd + grads_penalty(coef, v[:, nf:], self.omega_real, self.r1, 0.0)
        if c.has_r2:
            gd = gd + grads_penalty(coef, v[:, :nf], self.omega_fake, self.r2, 0.0)
        if dr.gp is not None:
            eps = dr.gp[:, j]  # (R, Bp)
            real = v[:, nf:].repeat(1, c.Bp // LANE)  # (R, Bp)
            mix = torch.addcmul(v[:, : c.Bp], eps, real - v[:, : c.Bp])
            gd = gd + grads_penalty(coef, mix, self.omega_x, self.gp, 1.0)
        if c.has_wd and c.l2:
            gd = gd + d * c.wd
        return gd, anchors

