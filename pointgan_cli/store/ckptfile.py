"""A run's checkpoint file: the training state as an npz of plain arrays (no torch, no pickle).

Why npz: ``pointgan train`` with the fused engine never imports torch, and a file that loads
with ``allow_pickle=False`` runs no code when read. The checkpoint dict of the torch engine
(``engine.state.TrainingState``) or of the fused trainer is flattened with ``/`` between nested
keys (``optim_g/exp_avg``); per-run tensors are float32 arrays, scalars 0-d arrays read back as
Python values, and the spec (a dict of mixed types) is one JSON text. ``unstack_state`` takes
one run's dict out of a stacked one (a sweep batch's state file) for either engine (defined in
``snapshot_record``, which the torch engine's modules may import).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.snapshot_record import unstack_state
from . import checks
from .atomic import atomic_write

__all__ = ["flatten", "load", "nest", "save", "to_bytes", "unstack_state"]

_SPEC = "@spec_json"


def flatten(state: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dict of arrays (numpy or torch) and scalars -> flat {"a/b": array}."""
    flat: dict[str, np.ndarray] = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        elif hasattr(value, "detach"):  # a torch tensor
            flat[name] = value.detach().cpu().numpy()
        else:
            flat[name] = np.asarray(value)  # 0-d: the format, the step, the rng kind
    return flat


def nest(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """``flatten`` undone: arrays stay arrays, 0-d arrays become Python scalars."""
    state: dict[str, Any] = {}
    for name, arr in arrays.items():
        value = arr if arr.ndim else arr.item()
        node = state
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return state


def to_bytes(state: dict[str, Any]) -> bytes:
    state = dict(state)
    # Any: np.savez's stubs would otherwise match the arrays against its allow_pickle keyword
    arrays: dict[str, Any] = {}
    if "spec" in state:
        arrays[_SPEC] = np.asarray(json.dumps(state.pop("spec"), sort_keys=True))
    arrays.update(flatten(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (complete or absent)."""
    data = to_bytes(state)
    atomic_write(path, lambda f: f.write(data))


def load(path: Path) -> dict[str, Any]:
    """The state dict of a checkpoint file (UsageError, ValueError or OSError for anything
    unreadable)."""
    arrays = checks.npz_arrays(path, "checkpoint ")  # no FIFO, no bomb, no huge header
    spec = arrays.pop(_SPEC, None)
    state = nest(arrays)
    if spec is not None:
        state["spec"] = json.loads(str(spec.item()))
    return state
