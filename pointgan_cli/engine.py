"""Batched training: R independent PointGAN runs as one tensor program.

Every tensor carries a leading run axis R; a single run is R = 1 and there is no Python loop over
runs. Per step: a generator step (non-saturating BCE of D(G(x)) against 1), then a discriminator
step (weighted BCE on noisy fakes vs fake target, real vs real target), each with its own Adam.

Why hand-derived gradients: the networks have 2 + 7 parameters, so autograd's bookkeeping would
cost more than the arithmetic. ``grads_g``/``grads_d`` are checked against autograd on the plain
``nn.Module``s in the tests.

Why the layout rules (bitwise batch invariance, so seed s gives the same numbers alone or in any
batch):
- every large tensor has rows whose length is a multiple of ``LANE`` = 64 floats, so each
  element goes through the same SIMD code path whatever R is (scalar tail loops can round
  transcendental functions differently);
- parameter-sized tensors only see +, -, *, /, sqrt, which are correctly rounded on every path;
- reductions are per-row sums over the last axis, never matmuls whose blocking depends on R;
- the engine runs on one intra-op thread; sweeps use processes for parallelism.

tanh is evaluated as ``2*sigmoid(2u) - 1``: identical in exact arithmetic and several times
faster in torch on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import rng
from .models import d_logits_packed
from .spec import RunSpec

LANE = 64  # row lengths are padded to a multiple of this many elements
CHUNK = 64  # steps of randomness generated at once (a multiple of LANE/1, see rng)
DTYPE = torch.float32


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


# ---------------------------------------------------------------------------------------------
# Hand-derived forward/backward. Shapes: G params (R, 2), D params (R, 7), samples (R, N).
# ---------------------------------------------------------------------------------------------


def d_coefficients(d: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """D's parameters rewritten for ``tanh(u) = 2 sigmoid(2u) - 1`` (computed once per step).

    With A = 2 W1, B = 2 c1, a = 2 W2, c' = c2 - W2_0 - W2_1:
    z = a_0 s_0 + a_1 s_1 + c' with s_j = sigmoid(A_j v + B_j). Shapes (R, 2, 1) and (R, 1)."""
    A = (d[:, 0:2] * 2.0).unsqueeze(-1)
    B = (d[:, 2:4] * 2.0).unsqueeze(-1)
    a = d[:, 4:6] * 2.0
    c = (d[:, 6:7] - d[:, 4:5]) - d[:, 5:6]
    return A, B, a[:, 0:1], a[:, 1:2], c


def _d_forward(coef, v: torch.Tensor):
    """D on samples v (R, N): hidden sigmoids s (R, 2, N) and output logits z (R, N)."""
    A, B, a0, a1, c = coef
    s = torch.sigmoid(torch.addcmul(B, A, v.unsqueeze(1)))
    z = torch.addcmul(c, s[:, 0], a0)
    z.addcmul_(s[:, 1], a1)
    return s, z


def grads_g(g: torch.Tensor, d: torch.Tensor, x: torch.Tensor, wx: torch.Tensor, coef=None):
    """Gradient of the non-saturating generator loss ``sum_i wx_i * softplus(-z_i)``.

    x (R, Bp) inputs, wx (R, Bp) per-sample weights (1/B, 0 on padding). Returns (R, 2)."""
    coef = d_coefficients(d) if coef is None else coef
    y = torch.addcmul(g[:, 1:2], x, g[:, 0:1])
    s, z = _d_forward(coef, y)
    dz = torch.addcmul(-wx, torch.sigmoid(z), wx)  # dL/dz = (sigmoid(z) - 1) wx   (R, Bp)
    q = s - s * s  # sigmoid'  (R, 2, Bp)
    k = coef[0].squeeze(-1) * torch.cat([coef[2], coef[3]], 1)  # a_j * A_j  (R, 2)
    dy = dz * torch.addcmul(q[:, 0] * k[:, 0:1], q[:, 1], k[:, 1:2])  # dL/dy  (R, Bp)
    return torch.stack(((dy * x).sum(-1), dy.sum(-1)), dim=1)


def grads_d(d: torch.Tensor, v: torch.Tensor, wv: torch.Tensor, tw: torch.Tensor, coef=None):
    """Gradient of the weighted BCE ``sum_i wv_i * BCE(D(v_i), t_i)`` w.r.t. D's 7 params.

    v (R, N) samples, wv (R, N) weights, tw (R, N) = wv * target. Returns (R, 7).
    (A batched matmul for the sums was tried: slower than mul + sum for R in the hundreds.)"""
    coef = d_coefficients(d) if coef is None else coef
    s, z = _d_forward(coef, v)
    gz = torch.addcmul(-tw, torch.sigmoid(z), wv)  # dL/dz  (R, N)
    gs = gz.unsqueeze(1) * s  # (R, 2, N)
    u = torch.addcmul(gs, gs, s, value=-1.0)  # dL/dz * sigmoid' = g s (1 - s)  (R, 2, N)
    sg = gz.sum(-1, keepdim=True)  # (R, 1)
    sgs = gs.sum(-1)  # (R, 2)
    su = u.sum(-1)  # (R, 2)
    suv = (u * v.unsqueeze(1)).sum(-1)  # (R, 2)
    w2x4 = d[:, 4:6] * 4.0
    return torch.cat([suv * w2x4, su * w2x4, sgs * 2.0 - sg, sg], dim=1)


# ---------------------------------------------------------------------------------------------


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
        self.specs = list(specs)
        self.R = R = len(specs)
        self.device = dev = torch.device(s0.device)
        self.steps = s0.steps
        self.B = s0.batch_size
        self.Bp = _round_up(self.B, LANE)
        self.K = s0.effective_inner_batch
        self.l2 = s0.weight_decay_mode == "l2"
        self.beta1, self.beta2, self.eps = s0.beta1, s0.beta2, s0.adam_eps

        def col(name: str) -> torch.Tensor:  # (R, 1) per-run hyper-parameter
            return torch.tensor([[float(getattr(s, name))] for s in specs], dtype=DTYPE, device=dev)

        self.seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64, device=dev)
        self.lr_g, self.lr_d = col("lr_g"), col("lr_d")
        self.wd, self.noise = col("weight_decay"), col("noise_scale")
        self.real = col("real_value")
        self.decay = 1.0 - self.lr_d * self.wd  # decoupled weight decay factor (R, 1)
        self.has_wd = any(s.weight_decay > 0 for s in specs)
        self.has_noise = any(s.noise_scale > 0 for s in specs)

        # G-step sample weights: 1/B on real samples, 0 on padding.  (R, Bp)
        mask = (torch.arange(self.Bp, device=dev) < self.B).to(DTYPE)
        self.wx = (mask / self.B).expand(R, self.Bp).contiguous()
        # D-step layout: K * Bp fake slots, then LANE slots all holding the real value, so the
        # row stays a multiple of LANE and the real term costs no separate ops.  (R, N)
        fw = col("fake_weight")
        easing = col("label_easing")
        nf = self.K * self.Bp
        self.N = nf + LANE
        w_fake = (fw / (1.0 + fw)) / (self.K * self.B) * mask.repeat(self.K)  # (R, nf)
        w_real = (1.0 / (1.0 + fw)) / LANE * torch.ones(R, LANE, dtype=DTYPE, device=dev)
        self.wv = torch.cat([w_fake, w_real], dim=1)
        self.tw = torch.cat([w_fake * easing, w_real * (1.0 - easing)], dim=1)
        self.v = torch.empty(R, self.N, dtype=DTYPE, device=dev)
        self.v[:, nf:] = self.real
        self.fake_view = self.v[:, :nf].view(R, self.K, self.Bp)

        self.g, self.d = init_params(self.seeds.cpu())
        self.g, self.d = self.g.to(dev), self.d.to(dev)
        self.mg, self.vg = torch.zeros_like(self.g), torch.zeros_like(self.g)
        self.md, self.vd = torch.zeros_like(self.d), torch.zeros_like(self.d)
        self.step = 0
        self.alive = torch.ones(R, dtype=torch.bool, device=dev)
        self.diverged_step = torch.full((R,), -1, dtype=torch.int64, device=dev)
        self._last_good = (self.g.clone(), self.d.clone())
        self._chunk_start = -(10**18)

    # -- randomness ---------------------------------------------------------------------------
    def _load_chunk(self, step: int) -> None:
        start = step - step % CHUNK
        steps = torch.arange(start, start + CHUNK, dtype=torch.int64)
        seeds = self.seeds.cpu()
        x = rng.uniform(seeds, rng.STREAM_X, steps, self.B, DTYPE) * 2.0 - 1.0  # (R, C, B)
        if self.Bp != self.B:
            x = F.pad(x, (0, self.Bp - self.B))
        self.x_chunk = x.to(self.device)
        if self.has_noise:
            eps = rng.normal_pairs(seeds, rng.STREAM_NOISE, steps, self.K, DTYPE)  # (R,C,K,2)
            self.eps_chunk = (eps * self.noise.cpu().view(-1, 1, 1, 1)).to(self.device)
        self._chunk_start = start

    def x_at(self, step: int) -> torch.Tensor:
        if not (self._chunk_start <= step < self._chunk_start + CHUNK):
            self._load_chunk(step)
        return self.x_chunk[:, step - self._chunk_start]

    # -- one training step --------------------------------------------------------------------
    def _adam(self, p, m, v, grad, lr, t):
        """torch.optim.Adam's update (bias-corrected), in place, with lr per run (R, 1)."""
        b1, b2 = self.beta1, self.beta2
        m.mul_(b1).add_(grad * (1.0 - b1))
        v.mul_(b2).add_(grad * grad * (1.0 - b2))
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        denom = v.sqrt() / math.sqrt(bc2) + self.eps
        p.sub_(m / denom * (lr / bc1))

    def train_step(self) -> None:
        t = self.step
        x = self.x_at(t)  # (R, Bp)
        n = t + 1
        frozen = None if bool(self.alive.all()) else self._freeze_copies()

        coef = d_coefficients(self.d)  # D is unchanged until its own step
        gg = grads_g(self.g, self.d, x, self.wx, coef)
        self._adam(self.g, self.mg, self.vg, gg, self.lr_g, n)

        # Fake samples for the D step, from the updated G, with K noisy parameter draws.
        if self.has_noise:
            e = self.eps_chunk[:, t - self._chunk_start]  # (R, K, 2)
            wk = (e[:, :, 0] + self.g[:, 0:1]).unsqueeze(-1)  # (R, K, 1)
            bk = (e[:, :, 1] + self.g[:, 1:2]).unsqueeze(-1)
        else:
            wk = self.g[:, 0:1].unsqueeze(-1).expand(self.R, self.K, 1)
            bk = self.g[:, 1:2].unsqueeze(-1).expand(self.R, self.K, 1)
        torch.mul(x.unsqueeze(1), wk, out=self.fake_view)
        self.fake_view.add_(bk)

        gd = grads_d(self.d, self.v, self.wv, self.tw, coef)
        if self.has_wd:
            if self.l2:
                gd = gd + self.d * self.wd
            else:
                self.d.mul_(self.decay)
        self._adam(self.d, self.md, self.vd, gd, self.lr_d, n)
        if frozen is not None:
            self._restore_frozen(frozen)
        self.step = n

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
        y = x * g[:, 0:1] + g[:, 1:2]
        zf = d_logits_packed(d, y)  # (R, B)
        zr = d_logits_packed(d, real)  # (R, 1)
        fw = torch.tensor([[s.fake_weight] for s in self.specs], dtype=torch.float64)
        e = torch.tensor([[s.label_easing] for s in self.specs], dtype=torch.float64)
        bce_fake = (F.softplus(zf) - e * zf).mean(1, keepdim=True)
        bce_real = F.softplus(zr) - (1.0 - e) * zr
        return Snapshot(
            step=self.step,
            g=g,
            d=d,
            g_loss=F.softplus(-zf).mean(1),
            d_loss=((fw * bce_fake + bce_real) / (1.0 + fw)).squeeze(1),
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
        self.diverged_step = torch.tensor([int(s["diverged_step"]) for s in states], device=dev)
        self._last_good = (
            torch.stack([s["last_good"]["generator"] for s in states]).to(dev, DTYPE),
            torch.stack([s["last_good"]["discriminator"] for s in states]).to(dev, DTYPE),
        )
        self.step = steps.pop()
        self._chunk_start = -(10**18)
