"""A run directory's checkpoints: written numbered then as ``last`` (so ``last`` never points
further than a file that exists), loaded as one ``UsageError`` line when unreadable, checked
against the run's spec before a resume, the latest one that loads. The file format is
``ckptfile``'s; the names (``checkpoints/``, ``last.npz``, ``step-NNNNNN.npz``) are ``rundir``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, short
from ..spec import RunSpec
from . import ckptfile
from .atomic import atomic_write
from .rundir import CHECKPOINTS, LAST, checkpoint_name


def write_checkpoint(out: Path, state: dict[str, Any], spec: RunSpec) -> None:
    """Write ``step-NNNNNN.npz``, then ``last.npz``: the numbered file first, so ``last.npz``
    never points further than a file that exists."""
    state = dict(state, spec=spec.model_dump(mode="json"))
    ckdir = out / CHECKPOINTS
    data = ckptfile.to_bytes(state)
    atomic_write(ckdir / checkpoint_name(state["step"]), lambda f: f.write(data))
    atomic_write(ckdir / LAST, lambda f: f.write(data))


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = ckptfile.load(path)  # a regular file, no zip bomb, headers checked first
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's bad input
        raise (exc if isinstance(exc, UsageError) else UsageError(
            f"cannot read checkpoint {path}: {type(exc).__name__}")) from None
    if not isinstance(state, dict):
        raise UsageError(f"checkpoint {path} is not a pointgan checkpoint")
    return state


#: Tensors of a checkpoint and their shapes (see docs/run-directory.md).
_CK_TENSORS = {
    ("generator",): (2,), ("discriminator",): (7,),
    ("optim_g", "exp_avg"): (2,), ("optim_g", "exp_avg_sq"): (2,),
    ("optim_d", "exp_avg"): (7,), ("optim_d", "exp_avg_sq"): (7,),
    ("last_good", "generator"): (2,), ("last_good", "discriminator"): (7,),
}


def check_checkpoint(path: Path, state: dict[str, Any], spec: RunSpec) -> None:
    """A checkpoint is only resumed from when it belongs to this run: same spec (so same seed),
    0 <= step <= steps, every tensor present with its shape. UsageError (one line) otherwise."""

    def bad(why: str) -> UsageError:
        return UsageError(f"--resume: checkpoint {path} {why}; it does not belong to this run")

    if state.get("spec") != spec.model_dump(mode="json"):
        raise bad("was written for another spec than spec.json")
    rng_seed = state.get("rng", {}).get("seed") if isinstance(state.get("rng"), dict) else None
    if rng_seed != spec.seed:
        raise bad(f"has seed {short(rng_seed)}, spec.json has {spec.seed}")
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= spec.steps:
        raise bad(f"has step {short(step)} (the run has {spec.steps} steps)")
    for keys, shape in _CK_TENSORS.items():
        v: Any = state
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if not isinstance(v, np.ndarray) or tuple(v.shape) != shape:
            raise bad(f"has no {'.'.join(keys)} tensor of shape {shape}")
    if not isinstance(state.get("alive"), bool) or not isinstance(state.get("diverged_step"), int):
        raise bad("lacks alive/diverged_step")
