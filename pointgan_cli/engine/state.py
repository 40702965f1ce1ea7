"""A trainer's training state, named once: ``TrainingState``, and its checkpoint dicts.

Why one dataclass: the state is what a step updates, what a diverged run keeps frozen, what a
checkpoint saves and what a resume loads back. Each of those reads the dataclass's fields (and
their metadata: the checkpoint key, the role, the optional part) instead of keeping a list of
its own, so a field added here is stepped, frozen, saved and loaded without another edit.

Why plain dicts of tensors for checkpoints: they are saved as npz (``ckptfile``: no pickled
code) and a run's slice can be resumed alone or inside any other batch (the engine is
batch-invariant and its randomness is a function of seed and step, so the state holds no
generator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any

import torch

from .layout import DTYPE
from .snapshot_record import unstack_state  # one definition for both engines

__all__ = ["CHECKPOINT_FORMAT", "HEADER", "TrainingState", "checkpoint", "load_checkpoints",
           "state_field", "unstack_state"]

CHECKPOINT_FORMAT = "pointgan-checkpoint-1"
RNG_KIND = "counter-lowbias32"
#: What a checkpoint holds besides the state's fields: its format and the runs' streams.
HEADER = ("format", "rng")

# Roles: "params" a step updates and a divergence rolls back; "moments" a step updates and a
# divergence zeroes; "rollback" the last finite parameters; "flags" per-run scalars; "count"
# the step every run has completed.
STEPPED = ("params", "moments")


def state_field(*key: str, role: str, part: str | None = None, cast: type | None = None) -> Any:
    """A state field: its checkpoint key path, role, the optional part that saves it (None:
    always saved) and, for per-run scalars, the Python type one run's value is read back as."""
    return field(metadata={"key": key, "role": role, "part": part, "cast": cast})


@dataclass(eq=False)
class TrainingState:
    """Every tensor of R runs' training state, with a leading run axis.

    G's parameters are (R, n_g), D's (R, n_d) (``layout``: the pointgan game packs 2 and 7,
    the Dirac-GAN 1 and 1); each optimizer moment is shaped like its parameters. LeCam's
    anchors and the optimistic update's previous steps exist in every trainer (zeros where
    the batch does not use them) and are saved only where it does (``part``).
    ``all_alive`` mirrors ``alive.all()`` on the host so a step need not synchronise."""

    step: int = state_field("step", role="count")
    g: torch.Tensor = state_field("generator", role="params")
    d: torch.Tensor = state_field("discriminator", role="params")
    mg: torch.Tensor = state_field("optim_g", "exp_avg", role="moments")
    vg: torch.Tensor = state_field("optim_g", "exp_avg_sq", role="moments")
    md: torch.Tensor = state_field("optim_d", "exp_avg", role="moments")
    vd: torch.Tensor = state_field("optim_d", "exp_avg_sq", role="moments")
    alive: torch.Tensor = state_field("alive", role="flags", cast=bool)  # (R,) bool
    #: (R,) int64: the step a run was found diverged at, -1 for none
    diverged_step: torch.Tensor = state_field("diverged_step", role="flags", cast=int)
    last_g: torch.Tensor = state_field("last_good", "generator", role="rollback")
    last_d: torch.Tensor = state_field("last_good", "discriminator", role="rollback")
    lc_ema: torch.Tensor = state_field("lecam_anchors", role="moments", part="lecam")  # (R, 2)
    ug_prev: torch.Tensor = state_field("optimistic_prev", "generator", role="moments",
                                  part="optimistic")
    ud_prev: torch.Tensor = state_field("optimistic_prev", "discriminator", role="moments",
                                  part="optimistic")

    def __post_init__(self) -> None:
        self.all_alive = bool(self.alive.all())

    @classmethod
    def fresh(cls, g: torch.Tensor, d: torch.Tensor) -> TrainingState:
        """Step 0 from the initial parameters: zero moments, every run alive."""
        R, dev = g.shape[0], g.device
        zero = torch.zeros_like
        return cls(step=0, g=g, d=d, mg=zero(g), vg=zero(g), md=zero(d), vd=zero(d),
                   alive=torch.ones(R, dtype=torch.bool, device=dev),
                   diverged_step=torch.full((R,), -1, dtype=torch.int64, device=dev),
                   last_g=g.clone(), last_d=d.clone(),
                   lc_ema=torch.zeros(R, 2, dtype=DTYPE, device=dev),
                   ug_prev=zero(g), ud_prev=zero(d))

    def of_role(self, *roles: str) -> list[torch.Tensor]:
        """The tensors of these roles, in field order."""
        return [getattr(self, f.name) for f in fields(self) if f.metadata["role"] in roles]

    def frozen_copies(self) -> list[torch.Tensor]:
        """Copies of what a step updates, for ``restore_dead`` after it."""
        return [t.clone() for t in self.of_role(*STEPPED)]

    def restore_dead(self, frozen: list[torch.Tensor]) -> None:
        """Put the diverged runs' rows of ``frozen_copies`` back (in place: a captured CUDA
        graph replays on these tensors)."""
        dead = ~self.alive.unsqueeze(1)
        for cur, old in zip(self.of_role(*STEPPED), frozen):
            cur.copy_(torch.where(dead, old, cur))


def saved_fields(state: TrainingState, parts: frozenset[str]) -> Iterator[Field]:
    """The fields a checkpoint holds: every one whose optional part (if any) is in ``parts``."""
    return (f for f in fields(state) if f.metadata["part"] in (None, *parts))


Keep = Callable[[torch.Tensor], Any]  # what a checkpoint keeps of a tensor


def checkpoint(state: TrainingState, seeds: torch.Tensor, parts: frozenset[str], tensor: Keep,
               scalar: Keep) -> dict:
    """The checkpoint dict of ``state``, one definition for both forms: ``tensor`` takes what
    is kept of a per-run tensor, ``scalar`` of a per-run scalar (``alive``,
    ``diverged_step``, the rng seeds: (R,) tensors)."""
    out: dict[str, Any] = {"format": CHECKPOINT_FORMAT,
                           "rng": {"kind": RNG_KIND, "seed": scalar(seeds), "step": state.step}}
    for f in saved_fields(state, parts):
        value = getattr(state, f.name)
        role = f.metadata["role"]
        kept = value if role == "count" else scalar(value) if role == "flags" else tensor(value)
        *parents, leaf = f.metadata["key"]
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = kept
    return out


def load_checkpoints(states: Sequence[dict], current: TrainingState,
                     parts: frozenset[str]) -> TrainingState:
    """Every run's checkpoint dict stacked into a state on ``current``'s device; fields the
    checkpoints do not hold (parts the batch does not use) stay ``current``'s."""
    steps = {int(s["step"]) for s in states}
    if len(steps) != 1 or len(states) != current.g.shape[0]:
        raise ValueError("load_states needs one checkpoint per run, all at the same step")
    dev = current.g.device

    def read(s: dict, key: tuple[str, ...]) -> Any:
        for k in key:
            s = s[k]
        return s

    loaded: dict[str, Any] = {}
    for f in saved_fields(current, parts):
        key, role = f.metadata["key"], f.metadata["role"]
        if role == "count":
            loaded[f.name] = steps.pop()
        elif role == "flags":
            loaded[f.name] = torch.tensor([f.metadata["cast"](read(s, key)) for s in states],
                                          device=dev)
        else:
            loaded[f.name] = torch.stack([torch.as_tensor(read(s, key))
                                          for s in states]).to(dev, DTYPE)
    return replace(current, **loaded)
