"""What either engine reports, without torch: ``Snapshot`` (its runs at a snapshot), the
parameters' names, and ``unstack_state`` (one run's checkpoint dict out of a batch's).

Why a module of its own: the fused engine and the sweep store's readers hand snapshots and
states around without importing torch; the torch engine's modules import it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The packed parameters' names (``models``): G ``[w, b]``, D in engine order.
G_NAMES = ("w", "b")
D_NAMES = ("W1_0", "W1_1", "c1_0", "c1_1", "W2_0", "W2_1", "c2")


@dataclass
class Snapshot:
    """Metrics of all R runs after ``step`` completed steps (float64 arrays of shape (R,);
    torch tensors from the torch engine, numpy arrays from the fused one)."""

    step: int
    g: Any  # (R, 2) [w, b]; the Dirac-GAN: (R, 1) [theta]
    d: Any  # (R, 7); the Dirac-GAN: (R, 1) [psi]
    g_loss: Any  # None: taken with_losses=False (the parameters suffice)
    d_loss: Any
    d_real: Any
    d_fake: Any
    alive: Any  # (R,) bool


def unstack_state(stacked: dict, i: int) -> dict:
    """Run i's checkpoint dict from a stacked state: (R,) arrays become Python scalars,
    (R, ...) arrays their row i (numpy or torch values alike)."""
    out = {}
    for key, value in stacked.items():
        if isinstance(value, dict):
            out[key] = unstack_state(value, i)
        elif hasattr(value, "shape") and len(value.shape) == 1:
            out[key] = value[i].item()
        elif hasattr(value, "shape") and len(value.shape) > 1:
            out[key] = value[i].clone() if hasattr(value, "clone") else value[i].copy()
        else:
            out[key] = value
    return out
