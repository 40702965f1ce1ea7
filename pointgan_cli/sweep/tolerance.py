"""Success as a function of the tolerance, and whether a conclusion survives it.

Why: a run's largest distance over the success window (``window_max_distance``) decides
"converged" at *any* tolerance: converged at ``tol`` iff it is below ``tol`` (and the run did
not diverge). A group whose runs spiral in with an envelope near the default tolerance can
score 23/100 at 0.10 and 79/100 at 0.12, so a verdict at one tolerance alone can be an
artefact of where that line was drawn. Every group gets its success at ``TOLERANCES`` (the
run's own tolerance added when it is not among them) with the paired McNemar p against its
reference at each, and every comparison says whether its conclusion at the run's tolerance
holds at every tolerance in ``ROBUST_RANGE`` or where it flips.

A conclusion is one of ``better``/``worse`` (paired McNemar p < ``ALPHA``, in the direction
of the discordant seeds) or ``no difference`` (p >= ``ALPHA``). The p-values here are per
tolerance and not adjusted: the question is whether one comparison's sign changes with the
line, not a new family of claims.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .stats import paired

TOLERANCES = (0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3)
ROBUST_RANGE = (0.05, 0.2)
ALPHA = 0.05
BETTER, WORSE, SAME = "better", "worse", "no difference"


def tolerances(own: float | None) -> list[float]:
    """``TOLERANCES`` with the runs' own tolerance among them."""
    tols = set(TOLERANCES)
    if own is not None:
        tols.add(float(own))
    return sorted(tols)


def inside(summary: Mapping[str, Any], tol: float) -> bool:
    """Whether a member's run counts as converged at tolerance ``tol``."""
    mx = summary.get("window_max_distance")
    return (summary.get("status") != "diverged" and isinstance(mx, (int, float))
            and math.isfinite(mx) and mx < tol)


def outcomes_at(items: Sequence[tuple[str, Mapping[str, Any]]], tol: float) -> dict[int, bool]:
    """``{seed: converged at tol}`` for a group's ``(id, summary)`` pairs."""
    return {int(s["seed"]): inside(s, tol) for _, s in items}


def conclusion(pair: Mapping[str, Any] | None) -> str | None:
    """better / worse / no difference from a ``stats.paired`` result (None without one)."""
    if pair is None:
        return None
    if pair["mcnemar_p"] < ALPHA:
        return BETTER if pair["only_group"] > pair["only_reference"] else WORSE
    return SAME


def success_by_tolerance(items: Sequence[tuple[str, Mapping[str, Any]]],
                         ref_items: Sequence[tuple[str, Mapping[str, Any]]] | None,
                         tols: Sequence[float]) -> list[dict[str, Any]]:
    """``[{"tol", "converged", "n", "p", "conclusion"}, ...]`` (``p`` and ``conclusion``:
    paired McNemar against the reference at that tolerance; null for the reference)."""
    out = []
    for tol in tols:
        mine = outcomes_at(items, tol)
        pair = None
        if ref_items is not None:
            pair = paired(mine, outcomes_at(ref_items, tol))
            pair = pair if pair["n"] else None
        out.append({"tol": tol, "converged": sum(mine.values()), "n": len(mine),
                    "p": None if pair is None else pair["mcnemar_p"],
                    "conclusion": conclusion(pair)})
    return out


def robustness(curve: Sequence[Mapping[str, Any]], own: float | None,
               lo: float = ROBUST_RANGE[0], hi: float = ROBUST_RANGE[1]) -> dict[str, Any] | None:
    """Whether the conclusion at the runs' own tolerance is the same at every tolerance of
    ``curve`` in [lo, hi]: ``conclusion`` (at ``own``), ``holds``, ``range``, ``flips``
    (``[{"tol", "conclusion"}]`` where it differs). None for the reference (no conclusion)."""
    at = {round(p["tol"], 12): p for p in curve}
    base = at.get(round(own, 12)) if own is not None else None
    if base is None or base["conclusion"] is None:
        return None
    flips = [{"tol": p["tol"], "conclusion": p["conclusion"]} for p in curve
             if lo - 1e-12 <= p["tol"] <= hi + 1e-12 and p["conclusion"] != base["conclusion"]]
    return {"conclusion": base["conclusion"], "tol": own, "range": [lo, hi],
            "holds": not flips, "flips": flips}


def robust_text(rob: Mapping[str, Any] | None) -> str:
    """``holds 0.05-0.2`` or ``flips at 0.12 (no difference)`` for a table cell."""
    if rob is None:
        return "ref"
    lo, hi = rob["range"]
    if rob["holds"]:
        return f"{rob['conclusion']}, holds {lo:g}-{hi:g}"
    where = ", ".join(f"{f['tol']:g} ({f['conclusion']})" for f in rob["flips"][:3])
    more = f" +{len(rob['flips']) - 3}" if len(rob["flips"]) > 3 else ""
    return f"{rob['conclusion']}, flips at {where}{more}"
