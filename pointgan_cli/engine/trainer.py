"""Batched training: R independent PointGAN runs as one tensor program.

Every tensor carries a leading run axis R; a single run is R = 1 and there is no Python loop over
runs. Per step, as in the study: a generator step (by default the non-saturating BCE of D(G(x))
against 1), then a discriminator step (by default weighted BCE on the noisy fakes against the
fake target and on the real value against the real target), each with its own optimizer.

Why hand-derived gradients (``grads``): the networks have 2 + 7 parameters, so autograd's
bookkeeping would cost more than the arithmetic. They are checked against autograd on the plain
``nn.Module``s in the tests.

Why the layout rules (bitwise batch invariance, so seed s gives the same numbers alone or in any
batch):
- every large tensor has rows whose length is a multiple of ``LANE`` = 64 floats, so each
  element goes through the same SIMD code path whatever R is (scalar tail loops can round
  transcendental functions differently);
- parameter-sized tensors only see +, -, *, /, sqrt, which are correctly rounded on every path;
- reductions are per-row sums over the last axis, never matmuls whose blocking depends on R;
- the engine runs on one intra-op thread; sweeps use processes for parallelism.

The gradients themselves are in ``grads``. One step: a generator update, then ``d_steps``
discriminator updates (``update=simultaneous``: the first D gradient is taken at the same point
as the G gradient). Optional parts (noise on G's parameters, instance noise, penalties, weight
decay) cost nothing when no run in the batch uses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from . import losses, rng
from .batching import batch_key
from .capture import CapturedStep
from .grads import d_coefficients, d_dz, grads_d, grads_g, grads_penalty
from .layout import DTYPE, LANE, round_up
from .optimizers import Optimizers
from .randomness import ChunkedRandomness
from .snapshots import Snapshot, Snapshots, snapshot_losses
from .state import CheckpointState

__all__ = ["BatchTrainer", "Snapshot", "init_params", "snapshot_losses"]

if TYPE_CHECKING:  # the engine reads a spec's fields; it needs no pydantic at run time
    from ..spec import RunSpec


def init_params(seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run initial parameters with nn.Linear's default ranges: G and D's first layer
    U(-1, 1) (fan-in 1), D's output layer U(-1/sqrt 2, 1/sqrt 2) (fan-in 2)."""
    u = rng.uniform(seeds, rng.STREAM_INIT, torch.zeros(1, dtype=torch.int64), LANE, DTYPE)
    u = u[:, 0, :9] * 2.0 - 1.0  # (R, 9) in [-1, 1)
    g = u[:, 0:2].contiguous()
    d = torch.cat([u[:, 2:6], u[:, 6:9] * (1.0 / math.sqrt(2.0))], dim=1)
    return g, d


class BatchTrainer(ChunkedRandomness, CheckpointState, Optimizers, CapturedStep, Snapshots):
    """Trains R runs whose specs share a ``batch_key``.

    State lives in plain tensors; ``state_for``/``load_states`` (``trainstate``) move runs'
    slices to and from checkpoint dicts, so runs can be resumed alone or inside any other
    batch; the draws come a chunk of steps at a time (``randomness``). The parts: optimizer
    updates (``optimizers``), the step modes and CUDA graph capture (``capture``), snapshots
    and divergence (``snapshots``); this module holds the state, the gradients' wiring, the
    step and the training loop.
    """

    @torch.inference_mode(False)  # normal tensors: the consensus term differentiates through them
    def __init__(self, specs: Sequence[RunSpec], step_mode: str | None = None):
        """``step_mode``: "eager" (Python scalars and views: the reference, default on a CPU),
        "graph" (CUDA only, default there: one captured CUDA graph replayed per step, so the
        host neither synchronises nor launches kernel by kernel) or "tensor" (the graph's
        step run eagerly: step-dependent scalars and indices read from device tensors; this
        is how the CPU tests check what a GPU captures). ``graph_error`` says why a capture
        failed (the trainer then goes on in "tensor" mode, the same arithmetic)."""
        self._common_init(specs)
        self._layout()
        self._init_state(*init_params(self.seeds), step_mode)

    def _common_init(self, specs: Sequence[RunSpec]) -> None:
        """Settings every game shares: schedule, optimizers, per-run hyper-parameters (R, 1)."""
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

        def col(name: str) -> torch.Tensor:  # (R, 1) per-run hyper-parameter
            # a flat list converts several times faster than R one-element lists
            values = torch.tensor([float(getattr(s, name)) for s in specs], dtype=DTYPE)
            return values.view(R, 1).to(dev)

        self.seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64, device=dev)
        self.lr_g, self.lr_d = col("lr_g"), col("lr_d")
        self.wd, self.noise = col("weight_decay"), col("noise_scale")
        # penalties on the papers' scale in the averaged D loss (losses.penalty_weight)
        pw = losses.penalty_weight(1.0, col("fake_weight"))  # (R, 1)
        self.inst, self.r1, self.r2, self.gp = (
            col("instance_noise"), col("r1") * pw, col("r2") * pw, col("gp_weight") * pw)
        self.real = col("real_value")
        self.cons, self.has_cons = col("consensus"), s0.consensus > 0
        self.lc, self.lc_decay, self.has_lecam = col("lecam"), col("lecam_decay"), s0.lecam > 0
        self.decay = 1.0 - self.lr_d * self.wd  # decoupled weight decay factor (R, 1)
        self.has_wd = any(s.weight_decay > 0 for s in specs)
        self.has_noise = any(s.noise_scale > 0 for s in specs)
        self.has_inst = s0.instance_noise > 0
        self.has_r1, self.has_r2, self.has_gp = s0.r1 > 0, s0.r2 > 0, s0.gp_weight > 0

        self.col = col
        # G-step sample weights: 1/B on real samples, 0 on padding.  (R, Bp)
        self.mask = mask = (torch.arange(self.Bp, device=dev) < self.B).to(DTYPE)
        self.wx = (mask / self.B).expand(R, self.Bp).contiguous()

    def _layout(self) -> None:
        """The pointgan game's D-step layout and sample weights."""
        R, dev, col, mask, specs = self.R, self.device, self.col, self.mask, self.specs
        # D-step layout: K * Bp fake slots, then LANE slots all holding the real value, so the
        # row stays a multiple of LANE and the real term costs no separate ops.  (R, N)
        fw = col("fake_weight")
        easing = col("label_easing")
        # float64 copies for the snapshot metrics, straight from the specs (R,) and (R, 1)
        self.fake_weight64 = torch.tensor([s.fake_weight for s in specs], dtype=torch.float64)
        self.easing64 = torch.tensor([[s.label_easing] for s in specs], dtype=torch.float64)
        self.nf = nf = self.K * self.Bp
        self.N = nf + LANE
        fake_mean = mask.repeat(self.K) / (self.K * self.B)  # mean over real fakes  (nf,)
        w_fake = (fw / (1.0 + fw)) * fake_mean  # (R, nf)
        w_real = (1.0 / (1.0 + fw)) / LANE * torch.ones(R, LANE, dtype=DTYPE, device=dev)
        self.wv = torch.cat([w_fake, w_real], dim=1)
        self.ntw = -torch.cat([w_fake * easing, w_real * (1.0 - easing)], dim=1)  # -wv * target
        sgn = torch.cat([torch.ones(nf, device=dev), -torch.ones(LANE, device=dev)]).to(DTYPE)
        self.sgn = sgn.expand(R, self.N).contiguous()
        self.wsgn = self.wv * self.sgn
        self.omega_fake = fake_mean.expand(R, nf).contiguous()  # R2: mean over fakes
        self.omega_real = torch.full((R, LANE), 1.0 / LANE, dtype=DTYPE, device=dev)  # R1
        self.omega_x = self.wx  # WGAN-GP: mean over B interpolates
        # LeCam: 2 lambda times the mean weights over fakes and reals  (R, N)
        self.lc_w = torch.cat([self.omega_fake, self.omega_real], dim=1) * (self.lc * 2.0)
        self.lc_rate = 1.0 - self.lc_decay
        self.v = torch.empty(R, self.N, dtype=DTYPE, device=dev)
        self.v[:, nf:] = self.real
        self.fake_view = self.v[:, :nf].view(R, self.K, self.Bp)

    def _init_state(self, g: torch.Tensor, d: torch.Tensor, step_mode: str | None) -> None:
        """Training state at step 0 from the initial parameters G (R, n_g) and D (R, n_d),
        and the step mode's tables."""
        R, dev = self.R, self.device
        self.g, self.d = g, d
        self.mg, self.vg = torch.zeros_like(self.g), torch.zeros_like(self.g)
        self.md, self.vd = torch.zeros_like(self.d), torch.zeros_like(self.d)
        self._init_extra_state()
        self.step = 0
        self.alive = torch.ones(R, dtype=torch.bool, device=dev)
        self._all_alive = True  # mirrors alive.all() without a device sync every step
        self.diverged_step = torch.full((R,), -1, dtype=torch.int64, device=dev)
        self._last_good = (self.g.clone(), self.d.clone())
        self._chunk_start = -(10**18)
        self._chunks_ready = False
        self._init_step_mode(step_mode)

    def _init_extra_state(self) -> None:
        """State of the optional parts: LeCam's anchors ``[a_real, a_fake]`` (R, 2) and the
        optimistic update's previous steps."""
        self.lc_ema = torch.zeros(self.R, 2, dtype=DTYPE, device=self.device)
        self._lc_next = self.lc_ema
        self.ug_prev, self.ud_prev = torch.zeros_like(self.g), torch.zeros_like(self.d)

    # -- the players' gradients ------------------------------------------------------------------
    def _coef(self):
        return d_coefficients(self.d)

    def _g_grad(self, t: int, coef) -> torch.Tensor:
        """Gradient (R, 2) of the G loss at step t for the current G and D."""
        dr = self._dr
        nx = dr.inst[:, : self.Bp] if self.has_inst else None
        return grads_g(self.g, coef, dr.x[:, 0], self.wx, self.loss, self.g_loss, nx)

    def _d_samples(self, g: torch.Tensor, t: int, j: int, inplace: bool = False):
        """What D sees at sub-step j of step t for generator g: K * Bp fakes, then LANE reals
        (R, N). Written into the hot path's buffer ``self.v`` (whose real slots already hold
        the real value) or built anew (differentiable, for ``_field``)."""
        dr = self._dr
        R, K, nf = self.R, self.K, self.nf
        x = dr.x[:, j]  # (R, Bp)
        if self.has_noise:
            e = dr.eps[:, j]  # (R, K, 2)
            wk = (e[:, :, 0] + g[:, 0:1]).unsqueeze(-1)  # (R, K, 1)
            bk = (e[:, :, 1] + g[:, 1:2]).unsqueeze(-1)
        else:
            wk = g[:, 0:1].unsqueeze(-1).expand(R, K, 1)
            bk = g[:, 1:2].unsqueeze(-1).expand(R, K, 1)
        noise = None
        if self.has_inst:
            noise = dr.inst[:, self.Bp + j * self.N : self.Bp + (j + 1) * self.N]
        if inplace:
            v = self.v
            torch.mul(x.unsqueeze(1), wk, out=self.fake_view)
            self.fake_view.add_(bk)
            if noise is not None:
                v[:, :nf] += noise[:, :nf]
                torch.add(noise[:, nf:], self.real, out=v[:, nf:])
            return v
        fakes = (x.unsqueeze(1) * wk + bk).reshape(R, nf)
        if noise is None:
            return torch.cat([fakes, self.real.expand(R, LANE)], dim=1)
        return torch.cat([fakes + noise[:, :nf], noise[:, nf:] + self.real], dim=1)

    def _d_grad(self, t: int, j: int, coef) -> torch.Tensor:
        """Gradient of the D loss (plus penalties) at D sub-step j of step t, with fakes from
        the current G (the hot path: D's inputs go into a preallocated buffer)."""
        return self._d_grad_at(self.d, coef, self._d_samples(self.g, t, j, True), t, j, True)

    def _d_grad_at(self, d, coef, v, t: int, j: int, commit: bool) -> torch.Tensor:
        """Gradient (R, 7) of the D loss, penalties and regularisers for D params ``d`` at
        inputs ``v`` (R, N). ``commit``: keep the LeCam anchors this gradient used, to be
        stored when it is applied."""
        loss, nf = self.loss, self.nf

        def gz_of(z: torch.Tensor) -> torch.Tensor:
            gz = d_dz(z, loss, self.wv, self.ntw, self.wsgn, self.sgn)
            if self.has_lecam:
                dz, anchors = self._lecam_dz(z)
                if commit:
                    self._lc_next = anchors
                gz = gz + dz
            return gz

        gd = grads_d(d, coef, v, gz_of)
        if self.has_r1:
            gd = gd + grads_penalty(coef, v[:, nf:], self.omega_real, self.r1, 0.0)
        if self.has_r2:
            gd = gd + grads_penalty(coef, v[:, :nf], self.omega_fake, self.r2, 0.0)
        if self.has_gp:
            eps = self._dr.gp[:, j]  # (R, Bp)
            real = v[:, nf:].repeat(1, self.Bp // LANE)  # (R, Bp)
            mix = torch.addcmul(v[:, : self.Bp], eps, real - v[:, : self.Bp])
            gd = gd + grads_penalty(coef, mix, self.omega_x, self.gp, 1.0)
        if self.has_wd and self.l2:
            gd = gd + d * self.wd
        return gd

    def _lecam_dz(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LeCam's ``dR/dz`` per sample and the anchors it used. D's inputs are laid out as
        ``nf`` fake slots then real ones; the anchors are the EMAs updated with this batch's
        mean logits first, then held constant in the gradient. Fake slots are
        pulled toward a_real, real slots toward a_fake: ``2 lambda omega_i (z_i - anchor_i)``."""
        nf = self.nf
        zd = z.detach()
        mean_f = (zd[:, :nf] * self.omega_fake).sum(-1, keepdim=True)  # (R, 1)
        mean_r = (zd[:, nf:] * self.omega_real).sum(-1, keepdim=True)
        a_real = self.lc_ema[:, 0:1] * self.lc_decay + mean_r * self.lc_rate
        a_fake = self.lc_ema[:, 1:2] * self.lc_decay + mean_f * self.lc_rate
        anchor = torch.cat([a_real.expand(-1, nf), a_fake.expand(-1, z.shape[1] - nf)], dim=1)
        return (z - anchor) * self.lc_w, torch.cat([a_real, a_fake], dim=1)

    def _field(self, g: torch.Tensor, d: torch.Tensor, t: int, j: int = 0):
        """(gg, gd): both players' gradients at (g, d) with step t's samples (D's of sub-step
        j), built without writes into shared buffers so autograd can differentiate it."""
        coef = d_coefficients(d)
        nx = self._dr.inst[:, : self.Bp] if self.has_inst else None
        gg = grads_g(g, coef, self._dr.x[:, 0], self.wx, self.loss, self.g_loss, nx)
        gd = self._d_grad_at(d, coef, self._d_samples(g, t, j), t, j, False)
        return gg, gd

    def _consensus(self, t: int, j: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Consensus optimisation's term ``J^T v`` = grad of ``1/2 |v|^2`` at the current point,
        v = (gg, gd) the joint field. Autograd through the hand-derived gradients: they are
        plain torch expressions, and the term is optional (off, it costs nothing). The runs are
        independent, so the gradient of the sum over runs is each run's own gradient."""
        with torch.inference_mode(False), torch.enable_grad():
            g = self.g.clone().requires_grad_(True)
            d = self.d.clone().requires_grad_(True)
            gg, gd = self._field(g, d, t, j)
            half = ((gg * gg).sum(-1) + (gd * gd).sum(-1)).sum() * 0.5
            cg, cd = torch.autograd.grad(half, (g, d))
        return cg, cd

    def _joint_grads(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Both gradients at the current (G, D) (with the consensus term when asked)."""
        coef = self._coef()
        gg = self._g_grad(t, coef)
        gd = self._d_grad(t, 0, coef)
        if self.has_cons:
            cg, cd = self._consensus(t)
            gg, gd = gg + cg * self.cons, gd + cd * self.cons
        return gg, gd

    # -- one training step --------------------------------------------------------------------
    def train_step(self) -> None:
        """One step: the joint G/D update of ``update``, then ``d_steps - 1`` more D steps.

        alternating: G steps, then D's gradient is taken at the new G. simultaneous: both
        gradients at (G_t, D_t). extragradient: both at the look-ahead point reached from
        (G_t, D_t) by those, applied from (G_t, D_t). optimistic: as simultaneous, each player
        moving by ``2 u_t - u_{t-1}``. With ``consensus``, every gradient gets gamma * J^T v at
        the point it is taken. Extra D steps are plain D steps."""
        t = self.step
        self.x_at(t)  # loads step t's chunk of randomness
        c = t - self._chunk_start
        if self.step_mode != "eager":
            self._c_dev.fill_(c)  # kernel launches, no host synchronisation
            self._t_dev.fill_(t)
            if self.step_mode == "graph":
                self._graph_step()
            else:
                self._tensor_step()
            self.step = t + 1
            return
        frozen = None if self._all_alive else self._freeze_copies()
        self._dr = self._draws(c)
        self._step(t)
        if frozen is not None:
            self._restore_frozen(frozen)
        self.step = t + 1

    def _step(self, t: int | torch.Tensor) -> None:
        """The updates of step ``t`` (an int, or a device tensor in the tensor step modes)
        with the randomness ``self._dr``."""
        t_d = t * self.n_d + 1
        if self.scheme == "alternating":
            coef = self._coef()  # D is unchanged until its own step
            gg = self._g_grad(t, coef)
            if self.has_cons:
                gg = gg + self._consensus(t)[0] * self.cons
            self._apply_g(gg, t + 1)
            gd = self._d_grad(t, 0, coef)
            if self.has_cons:
                gd = gd + self._consensus(t)[1] * self.cons
            self._apply_d(gd, t_d)
        else:
            gg, gd = self._joint_grads(t)
            if self.scheme == "extragradient":
                g0, d0 = self.g, self.d
                decay = self.decay if self.has_wd and not self.l2 else None
                self.g = self._lookahead(g0, self.mg, self.vg, gg, self.lr_g, t + 1)
                self.d = self._lookahead(d0, self.md, self.vd, gd, self.lr_d, t_d, decay)
                gg, gd = self._joint_grads(t)
                self.g, self.d = g0, d0
            optimistic = self.scheme == "optimistic"
            self._apply_g(gg, t + 1, optimistic)
            self._apply_d(gd, t_d, optimistic)
        for j in range(1, self.n_d):
            gd = self._d_grad(t, j, self._coef())
            if self.has_cons:
                gd = gd + self._consensus(t, j)[1] * self.cons
            self._apply_d(gd, t_d + j)

    def run(
        self,
        on_snapshot: Callable[[Snapshot], None],
        on_checkpoint: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        with_losses: bool = True,
    ) -> bool:
        """Train to ``steps``. Snapshots at step 0 (fresh start only: a run resumed from a
        step-0 checkpoint recorded that row already), every ``snapshot_every`` and at the end
        (``with_losses``: see ``snapshot``); checkpoints every ``checkpoint_every`` and at the
        end.
        Returns False when ``should_stop`` interrupted the run between two steps."""
        s0 = self.specs[0]
        if self.step == 0 and not getattr(self, "resumed", False):
            on_snapshot(self.snapshot(with_losses))
        while self.step < self.steps:
            if should_stop is not None and should_stop():
                return False
            self.train_step()
            n = self.step
            if n % s0.snapshot_every == 0 or n == self.steps:
                on_snapshot(self.snapshot(with_losses))
            if on_checkpoint is not None and (n % s0.checkpoint_every == 0 or n == self.steps):
                on_checkpoint(n)
        return True
