"""Stability verdicts in absolute terms: what each mode does over a run length.

Why: a verdict relative to the stiffest mode (``|Re lambda| < 1e-3 max |lambda|`` counted as
zero) called a converged run's Adam step "oscillating" although every eigenvalue was real and
negative, the slowest -0.00152 per step: a factor ``e^-9`` over the run's 6,000 steps. What
matters for training is how much a mode grows or shrinks over the steps a run takes, so each
eigenvalue becomes **e-folds over the horizon** (the run's length in steps): its per-step log
rate times the steps, and **turns** (how often it rotates in that time).

Per-step rates: for a gradient-descent step ``e -> (I + h J) e`` the exact factor per step,
``log(1 + h lambda)`` (modulus and angle); for Adam's linearised step ``M`` (second moments
frozen at a checkpoint) the first-order rate ``mu`` itself, because a frozen ``v_hat`` is only
a first-order picture: modes with ``|1 + mu| > 1`` and ``Re mu < 0`` are *stiff* (the frozen
step overshoots; Adam's adapting ``v_hat`` bounds the step it actually takes) and are named as
such instead of being read as growth.

Verdicts, with ``E`` the largest e-fold count over the horizon (the slowest mode):

- ``divergent``: ``E > 1`` (some mode grows by more than a factor e over a run length);
- ``locally_convergent``: ``E < -1`` (every mode shrinks by more than a factor e); "slowly"
  when the slowest needs more than a tenth of a run per e-fold (``E > -10``);
- ``oscillating``: a mode within one e-fold of neutral turns at least once over the horizon;
- ``neutral``: a mode within one e-fold of neutral that does not turn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .field import CONVERGENT, DIVERGENT, NEUTRAL, OSCILLATING

SLOW_EFOLDS = -10.0  # slower than this over the horizon: "converging slowly"


def rates(eigs: np.ndarray, h: float, exact_step: bool) -> np.ndarray:
    """Complex per-step log rates: ``log(1 + h lambda)`` for an exact gradient-descent step,
    ``h lambda`` (first order) otherwise."""
    z = np.asarray(eigs, dtype=complex) * h
    if exact_step:
        with np.errstate(divide="ignore"):
            return np.log(1.0 + z)
    return z


def decay_over(eigs: np.ndarray, h: float, horizon: int, exact_step: bool) -> dict[str, Any]:
    """The absolute verdict of a spectrum over ``horizon`` steps (module docstring):
    ``horizon_steps``, ``efolds`` and ``turns`` per eigenvalue (the order of ``eigs``),
    ``slowest_efolds``, ``band`` (the ``|Re lambda|`` that is one e-fold over the horizon, in
    the eigenvalues' units), ``stiff`` (modes the frozen step overshoots), ``verdict`` and
    ``words``."""
    r = rates(eigs, h, exact_step)
    ef = np.real(r) * horizon
    ef = np.where(np.isfinite(ef), ef, -np.inf)
    turns = np.abs(np.imag(r)) * horizon / (2 * math.pi)
    top = float(ef.max()) if len(ef) else -math.inf
    factors = np.abs(1.0 + np.asarray(eigs, dtype=complex) * h)
    stiff = int(np.sum((factors > 1.0) & (np.real(eigs) < 0))) if not exact_step else 0
    near = ef >= -1.0
    n = f"{horizon:,}"
    if top > 1.0:
        verdict = DIVERGENT
        words = f"divergent: a mode grows by e^{top:.3g} over {n} steps (one run length)"
    elif top < -1.0:
        verdict = CONVERGENT
        slow = " slowly" if top > SLOW_EFOLDS else ""
        words = (f"converging{slow}: every mode shrinks over {n} steps (one run length), the "
                 f"slowest by e^{top:.3g}")
    elif np.any(turns[near] >= 1.0):
        verdict = OSCILLATING
        k = int(np.sum(near & (turns >= 1.0)))
        t = float(turns[near].max())
        words = (f"oscillating: {k} mode(s) turn up to {t:.3g} times over {n} steps while "
                 f"changing by less than a factor e (e^{top:+.2g})")
    else:
        verdict = NEUTRAL
        k = int(np.sum(near))
        words = (f"neutral: {k} mode(s) change by less than a factor e over {n} steps "
                 f"(e^{top:+.2g}) and do not turn")
    if stiff:
        words += (f"; {stiff} stiff mode(s) overshoot the frozen-v_hat step (|1 + mu| up to "
                  f"{float(factors.max()):.3g}), which Adam's adapting v_hat bounds")
    band = 1.0 / (abs(h) * horizon) if h and horizon else 0.0
    return {"horizon_steps": horizon, "exact_step": exact_step,
            "efolds": [float(x) for x in ef], "turns": [float(x) for x in turns],
            "slowest_efolds": top, "band": band, "stiff": stiff, "verdict": verdict,
            "words": words}
