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

import ctypes
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import losses, rng
from .grads import d_coefficients, d_dz, grads_d, grads_g, grads_penalty
from .models import d_logits_packed
from .spec import RunSpec

LANE = 64  # row lengths are padded to a multiple of this many elements
CHUNK = 64  # steps of randomness generated at once: each run's rows are multiples of LANE
DTYPE = torch.float32


def _keep_freed_memory() -> None:
    """Linux/glibc: keep freed blocks in the heap instead of returning them to the system.

    Each step allocates and frees the same few megabyte-sized temporaries; by default glibc
    serves those with fresh mmap()s, and the page faults of touching new pages cost more than
    the arithmetic (measured: 1.5x faster steps for 256 runs). Numbers are unaffected."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not trim the heap below 1 GiB
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap for blocks up to 32 MiB
    except (OSError, AttributeError):
        pass


_ALLOCATOR_TUNED = False


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def batch_key(spec: RunSpec) -> tuple:
    """Specs with equal keys can train in one batch (same shapes, schedule and scalars)."""
    return (
        spec.steps,
        spec.batch_size,
        spec.effective_inner_batch,
        spec.weight_decay_mode,
        spec.beta1,
        spec.beta2,
        spec.adam_eps,
        spec.snapshot_every,
        spec.checkpoint_every,
        spec.device,
        spec.loss,
        spec.g_loss,
        spec.d_steps,
        spec.update,
        spec.optimizer,
        spec.momentum,
        spec.instance_noise > 0,
        spec.r1 > 0,
        spec.r2 > 0,
        spec.gp_weight > 0,
    )


@dataclass
class Snapshot:
    """Metrics of all R runs after ``step`` completed steps (float64 tensors of shape (R,))."""

    step: int
    g: torch.Tensor  # (R, 2) [w, b]
    d: torch.Tensor  # (R, 7)
    g_loss: torch.Tensor
    d_loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    alive: torch.Tensor  # (R,) bool


def init_params(seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run initial parameters with nn.Linear's default ranges: G and D's first layer
    U(-1, 1) (fan-in 1), D's output layer U(-1/sqrt 2, 1/sqrt 2) (fan-in 2)."""
    u = rng.uniform(seeds, rng.STREAM_INIT, torch.zeros(1, dtype=torch.int64), LANE, DTYPE)
    u = u[:, 0, :9] * 2.0 - 1.0  # (R, 9) in [-1, 1)
    g = u[:, 0:2].contiguous()
    d = torch.cat([u[:, 2:6], u[:, 6:9] * (1.0 / math.sqrt(2.0))], dim=1)
    return g, d


class BatchTrainer:
    """Trains R runs whose specs share a ``batch_key``.

    State lives in plain tensors; ``state_for``/``load_state`` move one run's slice to and from a
    checkpoint dict, so runs can be resumed alone or inside any other batch.
    """

    def __init__(self, specs: Sequence[RunSpec]):
        if not specs:
            raise ValueError("BatchTrainer needs at least one spec")
        keys = {batch_key(s) for s in specs}
        if len(keys) != 1:
            raise ValueError("specs in one batch must share batch_key()")
        s0 = specs[0]
        if s0.device == "cpu":
            _keep_freed_memory()
        self.specs = list(specs)
        self.R = R = len(specs)
        self.device = dev = torch.device(s0.device)
        self.steps = s0.steps
        self.B = s0.batch_size
        self.Bp = _round_up(self.B, LANE)
        self.K = s0.effective_inner_batch
        self.n_d = s0.d_steps
        self.loss, self.g_loss = s0.loss, s0.g_loss
        self.simultaneous = s0.update == "simultaneous"
        self.sgd, self.momentum = s0.optimizer == "sgd", s0.momentum
        self.l2 = s0.weight_decay_mode == "l2"
        self.beta1, self.beta2, self.eps = s0.beta1, s0.beta2, s0.adam_eps

        def col(name: str) -> torch.Tensor:  # (R, 1) per-run hyper-parameter
            return torch.tensor([[float(getattr(s, name))] for s in specs], dtype=DTYPE, device=dev)

        self.seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64, device=dev)
        self.lr_g, self.lr_d = col("lr_g"), col("lr_d")
        self.wd, self.noise = col("weight_decay"), col("noise_scale")
        self.inst, self.r1, self.r2, self.gp = (
            col("instance_noise"), col("r1"), col("r2"), col("gp_weight"))
        self.real = col("real_value")
        self.decay = 1.0 - self.lr_d * self.wd  # decoupled weight decay factor (R, 1)
        self.has_wd = any(s.weight_decay > 0 for s in specs)
        self.has_noise = any(s.noise_scale > 0 for s in specs)
        self.has_inst = s0.instance_noise > 0
        self.has_r1, self.has_r2, self.has_gp = s0.r1 > 0, s0.r2 > 0, s0.gp_weight > 0

        # G-step sample weights: 1/B on real samples, 0 on padding.  (R, Bp)
        mask = (torch.arange(self.Bp, device=dev) < self.B).to(DTYPE)
        self.wx = (mask / self.B).expand(R, self.Bp).contiguous()
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
        self.v = torch.empty(R, self.N, dtype=DTYPE, device=dev)
        self.v[:, nf:] = self.real
        self.fake_view = self.v[:, :nf].view(R, self.K, self.Bp)

        self.g, self.d = init_params(self.seeds.cpu())
        self.g, self.d = self.g.to(dev), self.d.to(dev)
        self.mg, self.vg = torch.zeros_like(self.g), torch.zeros_like(self.g)
        self.md, self.vd = torch.zeros_like(self.d), torch.zeros_like(self.d)
        self.step = 0
        self.alive = torch.ones(R, dtype=torch.bool, device=dev)
        self._all_alive = True  # mirrors alive.all() without a device sync every step
        self.diverged_step = torch.full((R,), -1, dtype=torch.int64, device=dev)
        self._last_good = (self.g.clone(), self.d.clone())
        self._chunk_start = -(10**18)

    # -- randomness ---------------------------------------------------------------------------
    def _load_chunk(self, step: int) -> None:
        """Randomness for CHUNK steps. D sub-step 0 shares the G step's x; extra D steps
        (``d_steps`` > 1) draw from streams of their own, counted by step * 64 + sub-step."""
        start = step - step % CHUNK
        steps = torch.arange(start, start + CHUNK, dtype=torch.int64)
        seeds = self.seeds.cpu()
        R, C, n_d, Bp, B = self.R, CHUNK, self.n_d, self.Bp, self.B
        to = self.device

        def uni(stream: int, counters: torch.Tensor, n: int) -> torch.Tensor:
            return rng.uniform(seeds, stream, counters, n, DTYPE)

        def pad(x: torch.Tensor) -> torch.Tensor:
            return F.pad(x, (0, Bp - B)) if Bp != B else x

        extra = (steps[:, None] * 64 + torch.arange(1, n_d)[None, :]).reshape(-1)  # (C*(n_d-1))
        x = pad(uni(rng.STREAM_X, steps, B) * 2.0 - 1.0)  # (R, C, Bp)
        if n_d > 1:
            xe = pad(uni(rng.STREAM_X_EXTRA, extra, B) * 2.0 - 1.0).view(R, C, n_d - 1, Bp)
            x = torch.cat([x.unsqueeze(2), xe], dim=2)  # (R, C, n_d, Bp)
        else:
            x = x.unsqueeze(2)
        self.x_chunk = x.to(to)
        if self.has_noise:
            eps = rng.normal_pairs(seeds, rng.STREAM_NOISE, steps, self.K, DTYPE).unsqueeze(2)
            if n_d > 1:
                e2 = rng.normal_pairs(seeds, rng.STREAM_NOISE_EXTRA, extra, self.K, DTYPE)
                eps = torch.cat([eps, e2.view(R, C, n_d - 1, self.K, 2)], dim=2)
            self.eps_chunk = (eps * self.noise.cpu().view(-1, 1, 1, 1, 1)).to(to)
        if self.has_inst:  # G step: Bp values; each D sub-step: N values (fakes, then reals)
            n = Bp + n_d * self.N
            z = rng.normal_pairs(seeds, rng.STREAM_INSTANCE, steps, -(-n // 2), DTYPE)
            z = z.reshape(R, C, -1)[:, :, :n] * self.inst.cpu().view(-1, 1, 1)
            self.inst_chunk = z.to(to)
        if self.has_gp:
            self.gp_chunk = uni(rng.STREAM_GP, steps, n_d * Bp).view(R, C, n_d, Bp).to(to)
        self._chunk_start = start

    def x_at(self, step: int, sub: int = 0) -> torch.Tensor:
        if not (self._chunk_start <= step < self._chunk_start + CHUNK):
            self._load_chunk(step)
        return self.x_chunk[:, step - self._chunk_start, sub]

    # -- optimizers -----------------------------------------------------------------------------
    def _update(self, p, m, v, grad, lr, t):
        """One optimizer step in place, lr per run (R, 1): torch.optim.Adam's bias-corrected
        update, or torch.optim.SGD with momentum (buffer kept in ``m``)."""
        if self.sgd:
            if self.momentum > 0:
                if t == 1:
                    m.copy_(grad)
                else:
                    m.mul_(self.momentum).add_(grad)
                grad = m
            p.sub_(grad * lr)
            return
        b1, b2 = self.beta1, self.beta2
        m.mul_(b1).add_(grad * (1.0 - b1))
        v.mul_(b2).add_(grad * grad * (1.0 - b2))
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        denom = v.sqrt() / math.sqrt(bc2) + self.eps
        p.sub_(m / denom * (lr / bc1))

    # -- one training step --------------------------------------------------------------------
    def _d_grad(self, t: int, j: int, coef) -> torch.Tensor:
        """Gradient of the D loss (plus penalties) at D sub-step j of step t, with fakes from
        the current G."""
        c = t - self._chunk_start
        x = self.x_chunk[:, c, j]  # (R, Bp)
        if self.has_noise:
            e = self.eps_chunk[:, c, j]  # (R, K, 2)
            wk = (e[:, :, 0] + self.g[:, 0:1]).unsqueeze(-1)  # (R, K, 1)
            bk = (e[:, :, 1] + self.g[:, 1:2]).unsqueeze(-1)
        else:
            wk = self.g[:, 0:1].unsqueeze(-1).expand(self.R, self.K, 1)
            bk = self.g[:, 1:2].unsqueeze(-1).expand(self.R, self.K, 1)
        torch.mul(x.unsqueeze(1), wk, out=self.fake_view)
        self.fake_view.add_(bk)
        if self.has_inst:
            noise = self.inst_chunk[:, c, self.Bp + j * self.N : self.Bp + (j + 1) * self.N]
            self.v[:, : self.nf] += noise[:, : self.nf]
            torch.add(noise[:, self.nf :], self.real, out=self.v[:, self.nf :])
        v = self.v
        loss = self.loss

        def gz_of(z: torch.Tensor) -> torch.Tensor:
            return d_dz(z, loss, self.wv, self.ntw, self.wsgn, self.sgn)

        gd = grads_d(self.d, coef, v, gz_of)
        if self.has_r1:
            gd = gd + grads_penalty(coef, v[:, self.nf :], self.omega_real, self.r1, 0.0)
        if self.has_r2:
            gd = gd + grads_penalty(coef, v[:, : self.nf], self.omega_fake, self.r2, 0.0)
        if self.has_gp:
            eps = self.gp_chunk[:, c, j]  # (R, Bp)
            real = v[:, self.nf :].repeat(1, self.Bp // LANE)  # (R, Bp)
            mix = torch.addcmul(v[:, : self.Bp], eps, real - v[:, : self.Bp])
            gd = gd + grads_penalty(coef, mix, self.omega_x, self.gp, 1.0)
        if self.has_wd and self.l2:
            gd = gd + self.d * self.wd
        return gd

    def _apply_d(self, gd: torch.Tensor, t_opt: int) -> None:
        if self.has_wd and not self.l2:
            self.d.mul_(self.decay)
        self._update(self.d, self.md, self.vd, gd, self.lr_d, t_opt)

    def train_step(self) -> None:
        t = self.step
        x = self.x_at(t)  # (R, Bp)
        c = t - self._chunk_start
        frozen = None if self._all_alive else self._freeze_copies()

        coef = d_coefficients(self.d)  # D is unchanged until its own step
        nx = self.inst_chunk[:, c, : self.Bp] if self.has_inst else None
        gg = grads_g(self.g, coef, x, self.wx, self.loss, self.g_loss, nx)
        if self.simultaneous:  # both gradients at (G_t, D_t), then both updates
            gd = self._d_grad(t, 0, coef)
            self._update(self.g, self.mg, self.vg, gg, self.lr_g, t + 1)
        else:
            self._update(self.g, self.mg, self.vg, gg, self.lr_g, t + 1)
            gd = self._d_grad(t, 0, coef)
        self._apply_d(gd, t * self.n_d + 1)
        for j in range(1, self.n_d):
            self._apply_d(self._d_grad(t, j, d_coefficients(self.d)), t * self.n_d + j + 1)
        if frozen is not None:
            self._restore_frozen(frozen)
        self.step = t + 1

    def _freeze_copies(self):
        return [t.clone() for t in (self.g, self.d, self.mg, self.vg, self.md, self.vd)]

    def _restore_frozen(self, frozen) -> None:
        dead = ~self.alive.unsqueeze(1)
        for cur, old in zip((self.g, self.d, self.mg, self.vg, self.md, self.vd), frozen):
            cur.copy_(torch.where(dead, old, cur))

    # -- snapshots and divergence -------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Evaluate the current state (float64, on clean samples of the current step's x).

        Also where divergence is detected: a run with a non-finite parameter is marked
        ``diverged``, rolled back to its last finite snapshot and frozen there."""
        finite = torch.isfinite(self.g).all(1) & torch.isfinite(self.d).all(1)
        newly = self.alive & ~finite
        if bool(newly.any()):
            self.diverged_step = torch.where(newly, self.step, self.diverged_step)
            self.alive &= finite
            self._all_alive = False
            keep = newly.unsqueeze(1)
            g0, d0 = self._last_good
            self.g.copy_(torch.where(keep, g0, self.g))
            self.d.copy_(torch.where(keep, d0, self.d))
            for m in (self.mg, self.vg, self.md, self.vd):
                m.masked_fill_(keep, 0.0)
        self._last_good = (self.g.clone(), self.d.clone())

        g = self.g.double().cpu()
        d = self.d.double().cpu()
        x = self.x_at(min(self.step, self.steps - 1))[:, : self.B].double().cpu()
        real = self.real.double().cpu()
        zf = d_logits_packed(d, x * g[:, 0:1] + g[:, 1:2])  # (R, B) clean samples
        zr = d_logits_packed(d, real)  # (R, 1)
        d_loss = losses.d_loss(zf, zr, self.loss, self.easing64, self.fake_weight64)
        return Snapshot(
            step=self.step,
            g=g,
            d=d,
            g_loss=losses.g_loss(zf, self.loss, self.g_loss),
            d_loss=d_loss,
            d_real=torch.sigmoid(zr).squeeze(1),
            d_fake=torch.sigmoid(zf).mean(1),
            alive=self.alive.cpu().clone(),
        )

    def run(
        self,
        on_snapshot: Callable[[Snapshot], None],
        on_checkpoint: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> bool:
        """Train to ``steps``. Snapshots at step 0 (fresh start), every ``snapshot_every`` and
        at the end; checkpoints every ``checkpoint_every`` and at the end.
        Returns False when ``should_stop`` interrupted the run between two steps."""
        s0 = self.specs[0]
        if self.step == 0:
            on_snapshot(self.snapshot())
        while self.step < self.steps:
            if should_stop is not None and should_stop():
                return False
            self.train_step()
            n = self.step
            if n % s0.snapshot_every == 0 or n == self.steps:
                on_snapshot(self.snapshot())
            if on_checkpoint is not None and (n % s0.checkpoint_every == 0 or n == self.steps):
                on_checkpoint(n)
        return True

    # -- checkpoints ----------------------------------------------------------------------------
    def state_for(self, i: int) -> dict:
        """Run i's complete training state as a ``weights_only``-loadable dict."""
        return {
            "format": "pointgan-checkpoint-1",
            "step": self.step,
            "generator": self.g[i].detach().cpu().clone(),
            "discriminator": self.d[i].detach().cpu().clone(),
            "optim_g": {"exp_avg": self.mg[i].cpu().clone(),
                        "exp_avg_sq": self.vg[i].cpu().clone()},
            "optim_d": {"exp_avg": self.md[i].cpu().clone(),
                        "exp_avg_sq": self.vd[i].cpu().clone()},
            "rng": {"kind": "counter-lowbias32", "seed": self.specs[i].seed, "step": self.step},
            "alive": bool(self.alive[i]),
            "diverged_step": int(self.diverged_step[i]),
            "last_good": {"generator": self._last_good[0][i].cpu().clone(),
                          "discriminator": self._last_good[1][i].cpu().clone()},
        }

    def load_states(self, states: Sequence[dict]) -> None:
        """Restore every run from its checkpoint dict; all must be at the same step."""
        steps = {int(s["step"]) for s in states}
        if len(steps) != 1 or len(states) != self.R:
            raise ValueError("load_states needs one checkpoint per run, all at the same step")
        dev = self.device

        def stack(key, sub=None):
            return torch.stack([(s[key] if sub is None else s[key][sub]) for s in states]).to(
                dev, DTYPE
            )

        self.g, self.d = stack("generator"), stack("discriminator")
        self.mg, self.vg = stack("optim_g", "exp_avg"), stack("optim_g", "exp_avg_sq")
        self.md, self.vd = stack("optim_d", "exp_avg"), stack("optim_d", "exp_avg_sq")
        self.alive = torch.tensor([bool(s["alive"]) for s in states], device=dev)
        self._all_alive = bool(self.alive.all())
        self.diverged_step = torch.tensor([int(s["diverged_step"]) for s in states], device=dev)
        self._last_good = (
            torch.stack([s["last_good"]["generator"] for s in states]).to(dev, DTYPE),
            torch.stack([s["last_good"]["discriminator"] for s in states]).to(dev, DTYPE),
        )
        self.step = steps.pop()
        self._chunk_start = -(10**18)
