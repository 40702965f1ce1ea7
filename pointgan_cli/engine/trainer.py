"""Batched training: R independent PointGAN runs as one tensor program.

Every tensor carries a leading run axis R; a single run is R = 1 and there is no Python loop over
runs. Per step, as in the study: a generator step (by default the non-saturating BCE of D(G(x))
against 1), then a discriminator step (by default weighted BCE on the noisy fakes against the
fake target and on the real value against the real target), each with its own optimizer.

Why the layout rules (bitwise batch invariance, so seed s gives the same numbers alone or in any
batch):
- every large tensor has rows whose length is a multiple of ``LANE`` = 64 floats, so each
  element goes through the same SIMD code path whatever R is (scalar tail loops can round
  transcendental functions differently);
- parameter-sized tensors only see +, -, *, /, sqrt, which are correctly rounded on every path;
- reductions are per-row sums over the last axis, never matmuls whose blocking depends on R;
- the engine runs on one intra-op thread; sweeps use processes for parallelism.

Why composition: the trainer's parts each take what they need, explicitly. The training state
is one dataclass (``state.TrainingState``) that the step updates, the optimizers
(``optimizers``), the captured step (``capture``), the snapshots (``snapshots``) and the
checkpoints (``state``) are handed; the game (``game``: layout and hand-derived gradients)
takes the state and the step's draws (``randomness``). One step: a generator update, then
``d_steps`` discriminator updates (``update=simultaneous``: the first D gradient is taken at
the same point as the G gradient). Optional parts (noise on G's parameters, instance noise,
penalties, weight decay) cost nothing when no run in the batch uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from .capture import CapturedStep, pick_step_mode
from .game import Game, PointGame, init_params
from .optimizers import Optimizer, Updates, adam_table
from .randomness import Draws
from .settings import Settings
from .snapshots import Snapshot, Snapshots, snapshot_losses
from .state import TrainingState, checkpoint, load_checkpoints

__all__ = ["BatchTrainer", "Snapshot", "init_params", "snapshot_losses"]

if TYPE_CHECKING:  # the engine reads a spec's fields; it needs no pydantic at run time
    from ..spec import RunSpec


class BatchTrainer:
    """Trains R runs whose specs share a ``batch_key``.

    Its parts, each built with what it needs: ``cfg`` (``settings.Settings``: schedule, flags,
    per-run columns), ``game`` (``game_class``: the game's layout and gradients), ``state``
    (``state.TrainingState``; ``state_for``/``stacked_state``/``load_states`` move it to and
    from checkpoint dicts, so runs can be resumed alone or inside any other batch),
    ``randomness`` (the draws, a chunk of steps at a time), ``updates`` (the optimizers'
    steps), ``capture`` (the tensor step modes and CUDA graph capture; None when eager) and
    ``snapshots`` (snapshots and divergence). This class wires them into the step and the
    training loop; the Dirac-GAN's trainer (``dirac``) names another game.
    """

    game_class: type[Game] = PointGame

    @torch.inference_mode(False)  # normal tensors: the consensus term differentiates through them
    def __init__(self, specs: Sequence[RunSpec], step_mode: str | None = None):
        """``step_mode``: "eager" (Python scalars and views: the reference, default on a CPU),
        "graph" (CUDA only, default there: one captured CUDA graph replayed per step, so the
        host neither synchronises nor launches kernel by kernel) or "tensor" (the graph's
        step run eagerly: step-dependent scalars and indices read from device tensors; this
        is how the CPU tests check what a GPU captures). ``graph_error`` says why a capture
        failed (the trainer then goes on in "tensor" mode, the same arithmetic)."""
        self.cfg = cfg = Settings(specs)
        self.specs, self.R, self.steps = cfg.specs, cfg.R, cfg.steps
        self.game = self.game_class(cfg)
        self.state = TrainingState.fresh(*self.game.initial_params())
        self.randomness = self.game.randomness()
        self.snapshots = Snapshots(self.game.metrics(self.randomness))
        # Captured steps must update state in place: the schemes that rebind state tensors
        # (optimistic, LeCam's anchors) and consensus' autograd step eagerly.
        graphable = (cfg.scheme in ("alternating", "simultaneous") and not cfg.has_cons
                     and not cfg.has_lecam)
        mode = pick_step_mode(step_mode, cfg.device, graphable)
        table = None if mode == "eager" else adam_table(cfg.steps * cfg.n_d + 1, cfg.beta1,
                                                        cfg.beta2, cfg.device)
        self.optimizer = Optimizer(sgd=cfg.sgd, momentum=cfg.momentum, beta1=cfg.beta1,
                                   beta2=cfg.beta2, eps=cfg.eps, table=table)
        self.updates = Updates(self.optimizer, cfg.lr_g, cfg.lr_d, cfg.decoupled_decay)
        self.capture = None if mode == "eager" else CapturedStep(mode, cfg.device)
        #: the optional parts of the state a checkpoint holds (``TrainingState``'s ``part``)
        self.parts = frozenset(part for part, used in (("lecam", cfg.has_lecam),
                                                      ("optimistic", cfg.scheme == "optimistic"))
                               if used)
        self.resumed = False  # set by load_states: ``run`` then emits no step-0 snapshot

    # -- what callers read: the state's parameters and flags, the step mode -------------------
    @property
    def g(self) -> torch.Tensor:
        return self.state.g

    @property
    def d(self) -> torch.Tensor:
        return self.state.d

    @property
    def alive(self) -> torch.Tensor:
        return self.state.alive

    @property
    def diverged_step(self) -> torch.Tensor:
        return self.state.diverged_step

    @property
    def step(self) -> int:
        return self.state.step

    @step.setter
    def step(self, value: int) -> None:
        self.state.step = value

    @property
    def step_mode(self) -> str:
        return "eager" if self.capture is None else self.capture.mode

    @property
    def graph_error(self) -> str | None:
        return None if self.capture is None else self.capture.error

    # -- checkpoints ------------------------------------------------------------------------
    def state_for(self, i: int) -> dict:
        """Run i's complete training state as a dict of tensors and scalars (LeCam's
        anchors and the optimistic update's previous steps only where the spec uses them)."""
        return checkpoint(self.state, self.cfg.seeds, self.parts,
                          lambda t: t[i].detach().cpu().clone(), lambda t: t[i].item())

    def stacked_state(self) -> dict:
        """Every run's ``state_for`` at once, with a leading run axis: tensors (R, ...), the
        per-run scalars (``alive``, ``diverged_step``, the rng ``seed``) as (R,) tensors. One
        host copy per tensor instead of one per run: a sweep batch's checkpoint.
        ``unstack_state(stacked, i) == state_for(i)`` (tests hold the two to that)."""

        def host(t: torch.Tensor) -> torch.Tensor:
            return t.detach().cpu().clone()

        return checkpoint(self.state, self.cfg.seeds, self.parts, host, host)

    def load_states(self, states: Sequence[dict]) -> None:
        """Restore every run from its checkpoint dict; all must be at the same step."""
        self.state = load_checkpoints(states, self.state, self.parts)
        self.resumed = True
        self.randomness.invalidate()
        if self.capture is not None:
            self.capture.reset()  # the state tensors are new: capture again

    # -- gradients ----------------------------------------------------------------------------
    def consensus(self, dr: Draws, j: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Consensus optimisation's term ``J^T v`` = grad of ``1/2 |v|^2`` at the current point,
        v = (gg, gd) the joint field. Autograd through the hand-derived gradients: they are
        plain torch expressions, and the term is optional (off, it costs nothing). The runs are
        independent, so the gradient of the sum over runs is each run's own gradient."""
        s = self.state
        with torch.inference_mode(False), torch.enable_grad():
            g = s.g.clone().requires_grad_(True)
            d = s.d.clone().requires_grad_(True)
            gg, gd = self.game.field(g, d, dr, s.lc_ema, j)
            half = ((gg * gg).sum(-1) + (gd * gd).sum(-1)).sum() * 0.5
            cg, cd = torch.autograd.grad(half, (g, d))
        return cg, cd

    def _joint_grads(self, dr: Draws):
        """Both gradients at the current (G, D) (with the consensus term when asked) and the
        LeCam anchors D's used."""
        s, game, cfg = self.state, self.game, self.cfg
        coef = game.coef(s.d)
        gg = game.g_grad(s, dr, coef)
        gd, anchors = game.d_grad(s, dr, 0, coef)
        if cfg.has_cons:
            cg, cd = self.consensus(dr)
            gg, gd = gg + cg * cfg.cons, gd + cd * cfg.cons
        return gg, gd, anchors

    # -- one training step --------------------------------------------------------------------
    def train_step(self) -> None:
        """One step: the joint G/D update of ``update``, then ``d_steps - 1`` more D steps.

        alternating: G steps, then D's gradient is taken at the new G. simultaneous: both
        gradients at (G_t, D_t). extragradient: both at the look-ahead point reached from
        (G_t, D_t) by those, applied from (G_t, D_t). optimistic: as simultaneous, each player
        moving by ``2 u_t - u_{t-1}``. With ``consensus``, every gradient gets gamma * J^T v at
        the point it is taken. Extra D steps are plain D steps."""
        s, t = self.state, self.state.step
        self.randomness.x_at(t)  # loads step t's chunk of randomness
        c = t - self.randomness.chunk_start
        if self.capture is not None:
            self.capture.step(s, t, c, self._tensor_body)
            s.step = t + 1
            return
        frozen = None if s.all_alive else s.frozen_copies()
        self._step(t, self.randomness.draws(c))
        if frozen is not None:
            s.restore_dead(frozen)
        s.step = t + 1

    def _tensor_body(self, c: torch.Tensor, t: torch.Tensor) -> None:
        """The step a tensor mode runs (and a CUDA graph captures): step ``t`` at offset ``c``
        of the chunk, both device tensors."""
        with torch.inference_mode(False):  # normal tensors, as the chunks: consensus' autograd
            dr = self.randomness.draws(c)
        self._step(t, dr)

    def _step(self, t: int | torch.Tensor, dr: Draws) -> None:
        """The updates of step ``t`` (an int, or a device tensor in the tensor step modes)
        with the step's draws ``dr``."""
        s, up, game, cfg = self.state, self.updates, self.game, self.cfg
        t_d = t * cfg.n_d + 1
        if cfg.scheme == "alternating":
            coef = game.coef(s.d)  # D is unchanged until its own step
            gg = game.g_grad(s, dr, coef)
            if cfg.has_cons:
                gg = gg + self.consensus(dr)[0] * cfg.cons
            up.apply_g(s, gg, t + 1)
            gd, anchors = game.d_grad(s, dr, 0, coef)
            if cfg.has_cons:
                gd = gd + self.consensus(dr)[1] * cfg.cons
            up.apply_d(s, gd, t_d, anchors=anchors)
        else:
            gg, gd, anchors = self._joint_grads(dr)
            if cfg.scheme == "extragradient":
                g0, d0 = s.g, s.d
                s.g, s.d = up.lookahead(s, gg, gd, t + 1, t_d)
                gg, gd, anchors = self._joint_grads(dr)
                s.g, s.d = g0, d0
            optimistic = cfg.scheme == "optimistic"
            up.apply_g(s, gg, t + 1, optimistic)
            up.apply_d(s, gd, t_d, optimistic, anchors)
        for j in range(1, cfg.n_d):
            gd, anchors = game.d_grad(s, dr, j, game.coef(s.d))
            if cfg.has_cons:
                gd = gd + self.consensus(dr, j)[1] * cfg.cons
            up.apply_d(s, gd, t_d + j, anchors=anchors)

    def snapshot(self, with_losses: bool = True) -> Snapshot:
        """The current state evaluated (float64, on clean samples of the current step's x);
        a run with a non-finite parameter is first marked diverged, rolled back to its last
        finite snapshot and frozen there (``snapshots``)."""
        return self.snapshots.snapshot(self.state, with_losses)

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
        if self.step == 0 and not self.resumed:
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
