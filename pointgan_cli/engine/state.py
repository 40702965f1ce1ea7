"""A trainer's state as checkpoint dicts: one run's, every run's stacked, and back.

Why plain dicts of tensors: they are saved as npz (``ckptfile``: no pickled code) and a run's
slice can be resumed alone or inside any other batch (the engine is batch-invariant and its
randomness is a function of seed and step, so the state holds no generator).
``CheckpointState`` is a part of ``engine.BatchTrainer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .layout import DTYPE
from .snapshot_record import unstack_state  # one definition for both engines

__all__ = ["CheckpointState", "unstack_state"]


class CheckpointState:
    """``state_for``/``stacked_state`` take a trainer's state out; ``load_states`` puts it back."""

    def state_for(self, i: int) -> dict:
        """Run i's complete training state as a dict of tensors and scalars (LeCam's
        anchors and the optimistic update's previous steps only where the spec uses them)."""
        return self._state(lambda t: t[i].detach().cpu().clone(), lambda t: t[i].item())

    def stacked_state(self) -> dict:
        """Every run's ``state_for`` at once, with a leading run axis: tensors (R, ...), the
        per-run scalars (``alive``, ``diverged_step``, the rng ``seed``) as (R,) tensors. One
        host copy per tensor instead of one per run: a sweep batch's checkpoint.
        ``unstack_state(stacked, i) == state_for(i)`` (tests hold the two to that)."""

        def host(t: torch.Tensor) -> torch.Tensor:
            return t.detach().cpu().clone()

        return self._state(host, host)

    def _state(self, tensor, scalar) -> dict:
        """The checkpoint dict, one definition for both forms: ``tensor`` takes what is kept of
        a per-run tensor, ``scalar`` of a per-run scalar ((R,) tensors: ``alive``,
        ``diverged_step``, the seeds)."""
        state = {
            "format": "pointgan-checkpoint-1",
            "step": self.step,
            "generator": tensor(self.g),
            "discriminator": tensor(self.d),
            "optim_g": {"exp_avg": tensor(self.mg), "exp_avg_sq": tensor(self.vg)},
            "optim_d": {"exp_avg": tensor(self.md), "exp_avg_sq": tensor(self.vd)},
            "rng": {"kind": "counter-lowbias32", "seed": scalar(self.seeds), "step": self.step},
            "alive": scalar(self.alive),
            "diverged_step": scalar(self.diverged_step),
            "last_good": {"generator": tensor(self._last_good[0]),
                          "discriminator": tensor(self._last_good[1])},
        }
        if self.has_lecam:
            state["lecam_anchors"] = tensor(self.lc_ema)
        if self.scheme == "optimistic":
            state["optimistic_prev"] = {"generator": tensor(self.ug_prev),
                                        "discriminator": tensor(self.ud_prev)}
        return state

    def load_states(self, states: Sequence[dict]) -> None:
        """Restore every run from its checkpoint dict; all must be at the same step."""
        steps = {int(s["step"]) for s in states}
        if len(steps) != 1 or len(states) != self.R:
            raise ValueError("load_states needs one checkpoint per run, all at the same step")
        dev = self.device

        def stack(key, sub=None):
            return torch.stack([torch.as_tensor(s[key] if sub is None else s[key][sub])
                                for s in states]).to(dev, DTYPE)

        self.g, self.d = stack("generator"), stack("discriminator")
        self.mg, self.vg = stack("optim_g", "exp_avg"), stack("optim_g", "exp_avg_sq")
        self.md, self.vd = stack("optim_d", "exp_avg"), stack("optim_d", "exp_avg_sq")
        self.alive = torch.tensor([bool(s["alive"]) for s in states], device=dev)
        self._all_alive = bool(self.alive.all())
        self.diverged_step = torch.tensor([int(s["diverged_step"]) for s in states], device=dev)
        self._last_good = (stack("last_good", "generator"), stack("last_good", "discriminator"))
        if self.has_lecam:
            self.lc_ema = self._lc_next = stack("lecam_anchors")
        if self.scheme == "optimistic":
            self.ug_prev = stack("optimistic_prev", "generator")
            self.ud_prev = stack("optimistic_prev", "discriminator")
        self.step = steps.pop()
        self.resumed = True  # ``run`` then emits no step-0 snapshot (the checkpoint's has one)
        self._chunk_start = -(10**18)
        self._graph, self._warm = None, False  # the state tensors are new: capture again
