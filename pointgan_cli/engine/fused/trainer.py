"""``FusedTrainer``: the torch engine's ``BatchTrainer`` interface around the fused kernel.

Why the same interface: ``training.train_batch`` and a sweep's batches drive either engine
through it (``run``, ``snapshot``, ``state_for``/``stacked_state``/``load_states``), so run
directories, the sweep store, metrics and summaries keep their formats. The host advances the
kernel from one snapshot or checkpoint to the next and handles divergence at snapshots as
``snapshots.Snapshots`` does (a non-finite run is rolled back to its last finite snapshot, its
optimizer state zeroed, and frozen). State is numpy; nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import layout as L
from .evaluate import snapshot_losses
from .settings import initial_params, per_run, shared

if TYPE_CHECKING:
    from ...spec import RunSpec

PARALLEL_MIN = 32  # runs below which the kernel runs on the calling thread only
#: Most steps, and most run-steps (about 0.1 s of one core), of one kernel call in ``run``;
#: should_stop is checked between calls, so a signal stops within these. Snapshots are
#: recorded inside a call, so calls are not cut at each snapshot: a parallel call ends when
#: its slowest thread does, and on a shared machine calls of 9 steps (a 1,500-step run's
#: snapshot interval) kept 1.1-1.3 of 2 cores busy, calls of 360 steps 1.9.
STOP_EVERY = 256
CALL_RUN_STEPS = 65_536
NO_SNAP = np.zeros((0, 0, 9), np.float32)  # a call that records no snapshot
NEVER = 1 << 62


class FusedTrainer:
    """Trains R runs whose specs share a ``batch_key`` with the fused CPU kernel."""

    engine = "fused"
    graph_error: str | None = None

    def __init__(self, specs: Sequence[RunSpec]):
        from ..batching import batch_key

        if not specs:
            raise ValueError("FusedTrainer needs at least one spec")
        if len({batch_key(s) for s in specs}) != 1:
            raise ValueError("specs in one batch must share batch_key()")
        s0 = specs[0]
        self.device = s0.device
        self.specs = list(specs)
        self.R = len(specs)
        self.steps, self.B = s0.steps, s0.batch_size
        self.seeds = np.array([s.seed for s in specs], np.uint64)
        self.H = per_run(specs)
        self.IS, self.Fs = shared(specs)
        if self.device == "cpu":
            from .compiled import cpu_kernel

            # a parallel region wakes every thread at each call: for a few runs that costs
            # more than it shares (on a loaded machine, a scheduler tick per call)
            self._kernel = cpu_kernel(self.IS, serial=True if len(specs) < PARALLEL_MIN
                                      else None)
        else:
            from .cuda_support import device_kernel

            self._kernel = device_kernel(self.device)
        self.S = np.zeros((self.R, L.NS), np.float32)
        g, d = initial_params(self.seeds)
        self.S[:, L.G:L.G + 2], self.S[:, L.D:L.D + 7] = g, d
        self.step = 0
        self.resumed = False  # set by load_states: ``run`` then emits no step-0 snapshot
        self.alive = np.ones(self.R, bool)
        self.diverged_step = np.full(self.R, -1, np.int64)
        self._last_good = (self.g.copy(), self.d.copy())
        self._on_device = None  # CUDA: the device copies of the arrays the kernel changes

    # -- the state as the torch engine names it ------------------------------------------------
    @property
    def g(self) -> np.ndarray:
        return self.S[:, L.G:L.G + 2]

    @property
    def d(self) -> np.ndarray:
        return self.S[:, L.D:L.D + 7]

    def _cols(self, lo: int, n: int) -> np.ndarray:
        return self.S[:, lo:lo + n]

    # -- training --------------------------------------------------------------------------------
    def advance(self, upto: int, snaps: np.ndarray = NO_SNAP, every: int = NEVER) -> None:
        """Every alive run from ``self.step`` to step ``upto``; on the CPU, each run's
        parameters at the multiples of ``every`` on the way go to ``snaps`` (R, k, 9)."""
        if upto <= self.step:
            return
        if self.device == "cpu":
            self._kernel(self.S, self.alive, self.seeds, self.step, upto, self.H, self.IS,
                         self.Fs, snaps, every)
        else:  # the state stays on the GPU until a snapshot or checkpoint reads it
            if self._on_device is None:
                self._on_device = self._kernel.to_device(self.S, self.alive, self.seeds, self.H,
                                                         self.IS, self.Fs)
            self._kernel.advance(self._on_device, self.step, upto)
        self.step = upto

    def _host(self) -> None:
        """CUDA: bring the state back (and drop the device copy, so changes made here go back
        with the next step)."""
        if self._on_device is not None:
            self.S = self._on_device[0].copy_to_host()
            self._on_device = None

    def train_step(self) -> None:
        self.advance(self.step + 1)

    def run(self, on_snapshot: Callable, on_checkpoint: Callable[[int], None] | None = None,
            should_stop: Callable[[], bool] | None = None, with_losses: bool = True) -> bool:
        """``BatchTrainer.run``: snapshots at step 0 (fresh start), every ``snapshot_every``
        and at the end; checkpoints every ``checkpoint_every`` and at the end; ``should_stop``
        is checked between kernel calls (at most ``STOP_EVERY`` steps and ``CALL_RUN_STEPS``
        run-steps each) and at those. False when it stopped the run."""
        s0 = self.specs[0]
        snap_every, ck_every = s0.snapshot_every, s0.checkpoint_every
        if self.step == 0 and not self.resumed:  # a step-0 checkpoint's snapshot is written
            on_snapshot(self.snapshot(with_losses))
        cpu = self.device == "cpu"
        span = max(1, min(STOP_EVERY, CALL_RUN_STEPS // self.R))
        while self.step < self.steps:
            if should_stop is not None and should_stop():
                return False
            n = self.step
            nxt = min(self.steps, (n // span + 1) * span)
            if not cpu:  # the CUDA kernel records no snapshot: a call ends at each one
                nxt = min(nxt, (n // snap_every + 1) * snap_every)
            if on_checkpoint is not None:
                nxt = min(nxt, (n // ck_every + 1) * ck_every)
            if cpu:
                at = list(range((n // snap_every + 1) * snap_every, nxt + 1, snap_every))
                snaps = np.repeat(self.S[:, None, :9], len(at), axis=1)  # frozen runs' rows
                self.advance(nxt, snaps, snap_every)
                for j, step in enumerate(at):
                    on_snapshot(self._recorded(step, snaps[:, j], with_losses))
                if nxt == self.steps and nxt % snap_every:
                    on_snapshot(self.snapshot(with_losses))
            else:
                self.advance(nxt)
                if nxt % snap_every == 0 or nxt == self.steps:
                    on_snapshot(self.snapshot(with_losses))
            if on_checkpoint is not None and (nxt % ck_every == 0 or nxt == self.steps):
                on_checkpoint(nxt)
        return True

    # -- snapshots and divergence ------------------------------------------------------------------
    def snapshot(self, with_losses: bool = True):
        """``Snapshots.snapshot``: divergence found, rolled back and frozen; metrics in float64."""
        self._host()
        return self._recorded(self.step, self.S[:, :9].copy(), with_losses)

    def _recorded(self, step: int, params: np.ndarray, with_losses: bool):
        """The snapshot at ``step`` from the parameters (R, 9) the kernel recorded there (G then
        D; the state now may be later): a run not alive keeps its frozen state; a run newly
        non-finite gets ``diverged_step``, its last finite snapshot's parameters (here and in
        the state, optimizer zeroed) and is frozen, as ``Snapshots.snapshot`` does at once."""
        from ..snapshot_record import Snapshot

        params[~self.alive] = self.S[~self.alive, :9]
        finite = np.isfinite(params).all(1)
        newly = self.alive & ~finite
        if newly.any():
            self.diverged_step[newly] = step
            self.alive &= finite
            g0, d0 = self._last_good
            params[newly, L.G:L.G + 2] = g0[newly]
            params[newly, L.D:L.D + 7] = d0[newly]
            self.S[newly, :9] = params[newly]
            self.S[newly, L.MG:] = 0.0  # optimizer state, LeCam anchors, optimistic steps
        g, d = params[:, L.G:L.G + 2], params[:, L.D:L.D + 7]
        self._last_good = (g.copy(), d.copy())
        g, d = g.astype(np.float64), d.astype(np.float64)
        losses = [None] * 4
        if with_losses:
            losses = snapshot_losses(self.specs, g, d, min(step, self.steps - 1))
        return Snapshot(step, g, d, losses[0], losses[1], losses[2], losses[3],
                        alive=self.alive.copy())

    # -- checkpoints -------------------------------------------------------------------------------
    def _state(self, tensor, scalar) -> dict:
        """The torch engine's checkpoint dict (``trainstate``), with numpy arrays."""
        s = self.specs[0]
        state = {
            "format": "pointgan-checkpoint-1",
            "step": self.step,
            "generator": tensor(self.g),
            "discriminator": tensor(self.d),
            "optim_g": {"exp_avg": tensor(self._cols(L.MG, 2)),
                        "exp_avg_sq": tensor(self._cols(L.VG, 2))},
            "optim_d": {"exp_avg": tensor(self._cols(L.MD, 7)),
                        "exp_avg_sq": tensor(self._cols(L.VD, 7))},
            "rng": {"kind": "counter-lowbias32", "seed": scalar(self.seeds.astype(np.int64)),
                    "step": self.step},
            "alive": scalar(self.alive),
            "diverged_step": scalar(self.diverged_step),
            "last_good": {"generator": tensor(self._last_good[0]),
                          "discriminator": tensor(self._last_good[1])},
        }
        if s.lecam > 0:
            state["lecam_anchors"] = tensor(self._cols(L.LC, 2))
        if s.update == "optimistic":
            state["optimistic_prev"] = {"generator": tensor(self._cols(L.UG, 2)),
                                        "discriminator": tensor(self._cols(L.UD, 7))}
        return state

    def state_for(self, i: int) -> dict:
        self._host()
        return self._state(lambda a: a[i].copy(), lambda a: a[i].item())

    def stacked_state(self) -> dict:
        self._host()
        return self._state(lambda a: a.copy(), lambda a: a.copy())

    def load_states(self, states: Sequence[dict]) -> None:
        """Restore every run from its checkpoint dict (numpy or torch values); all at one step."""
        steps = {int(s["step"]) for s in states}
        if len(steps) != 1 or len(states) != self.R:
            raise ValueError("load_states needs one checkpoint per run, all at the same step")

        def stack(key, sub=None):
            return np.stack([np.asarray(s[key] if sub is None else s[key][sub], np.float32)
                             for s in states])

        self.S[:, L.G:L.G + 2], self.S[:, L.D:L.D + 7] = stack("generator"), \
            stack("discriminator")
        self.S[:, L.MG:L.MG + 2] = stack("optim_g", "exp_avg")
        self.S[:, L.VG:L.VG + 2] = stack("optim_g", "exp_avg_sq")
        self.S[:, L.MD:L.MD + 7] = stack("optim_d", "exp_avg")
        self.S[:, L.VD:L.VD + 7] = stack("optim_d", "exp_avg_sq")
        self.alive = np.array([bool(s["alive"]) for s in states])
        self.diverged_step = np.array([int(s["diverged_step"]) for s in states], np.int64)
        self._last_good = (stack("last_good", "generator"), stack("last_good", "discriminator"))
        if "lecam_anchors" in states[0]:
            self.S[:, L.LC:L.LC + 2] = stack("lecam_anchors")
        if "optimistic_prev" in states[0]:
            self.S[:, L.UG:L.UG + 2] = stack("optimistic_prev", "generator")
            self.S[:, L.UD:L.UD + 7] = stack("optimistic_prev", "discriminator")
        self.resumed = True
        self.step = steps.pop()
        self._on_device = None
