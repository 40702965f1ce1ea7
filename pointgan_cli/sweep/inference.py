"""Statistics beyond one yes/no at one budget: time to converge and multiple comparisons.

**Time to converge.** Every run records ``converged_at``: the first snapshot step from which it
stays inside the tolerance to the end (``verdict.EntryTracker``), null if the last snapshot is
outside. A group's fraction converged by step ``t`` is the Kaplan-Meier (product-limit)
estimate with the runs that do not converge censored at the horizon: the first step of the
success window, the last step from which staying inside is observed over the whole window
(so the curve ends at exactly the window verdict's success rate). Every run of a group has
the same horizon, so nothing is censored before the last event and the estimate is the
plain fraction ``k(t) / n``; its band is the Wilson 95% interval of that fraction, and the
median's interval is the test inversion of that band (Brookmeyer-Crowley): the steps at which
the band contains one half.

**Paired comparison of times.** Members with the same seed share their initial parameters and
random numbers, so a group is compared with its reference seed by seed. Because censoring is
at a common budget, the *sign* of every pair's difference is known (a run that converges is
sooner than one that never does) while its *size* is not when one of the two is censored.
The exact two-sided **sign test** uses only those signs: valid under this censoring with no
assumption on the distribution of the differences (a Wilcoxon signed-rank test would need the
sizes). Pairs with equal times, and pairs where neither converged, are ties and drop out.

**Holm.** A table that compares several groups with one reference makes several tests; the
Holm step-down adjustment controls the family-wise error over them without assuming they are
independent (they share the reference).

Pure Python: the sweep's summary imports it without numpy or scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .stats import wilson


def binomial_two_sided(a: int, b: int) -> float:
    """Exact two-sided sign test for ``a`` against ``b`` (binomial(a + b, 1/2)): twice the
    smaller tail, at most 1; 1.0 with no untied pair."""
    n = a + b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(a, b) + 1))
    return min(1.0, 2.0 * tail / 2**n)


def convergence_curve(times: Sequence[int | None], budget: int) -> list[dict[str, Any]]:
    """The fraction converged by each step at which some run converges (and at 0 and the
    budget): ``step``, ``fraction`` (product-limit estimate, censored at ``budget``),
    ``low``/``high`` (its Wilson 95% band), ``converged`` (count by then), ``n``."""
    n = len(times)
    done = sorted(t for t in times if t is not None and t <= budget)
    steps = sorted({0, budget, *done})
    out = []
    k = 0
    for s in steps:
        while k < len(done) and done[k] <= s:
            k += 1
        lo, hi = wilson(k, n)
        out.append({"step": s, "fraction": k / n if n else 0.0, "low": lo, "high": hi,
                    "converged": k, "n": n})
    return out


def median_time(curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The median time to converge and its 95% interval from ``convergence_curve``: the first
    step where the fraction (its upper band, its lower band) reaches one half. None where it
    never does within the budget (the median is then "beyond the budget")."""

    def first(key: str) -> int | None:
        return next((p["step"] for p in curve if p[key] >= 0.5), None)

    return {"median": first("fraction"), "low": first("high"), "high": first("low")}


def paired_times(group: Mapping[int, int | None], reference: Mapping[int, int | None]
                 ) -> dict[str, Any]:
    """Seed-by-seed sign test of ``converged_at`` against the reference on shared seeds
    (None = never within the budget, later than any step). Returns ``test``, ``n``,
    ``group_sooner``, ``reference_sooner``, ``ties``, ``p`` and ``median_difference`` (group
    minus reference over the seeds where both converged; None when none did)."""
    inf = math.inf
    shared = sorted(set(group) & set(reference))
    sooner = later = 0
    diffs = []
    for s in shared:
        gs, rs = group[s], reference[s]
        g = inf if gs is None else gs
        r = inf if rs is None else rs
        sooner += g < r
        later += g > r
        if g != inf and r != inf:
            diffs.append(g - r)
    diffs.sort()
    med = None
    if diffs:
        m = len(diffs) // 2
        med = float(diffs[m]) if len(diffs) % 2 else (diffs[m - 1] + diffs[m]) / 2
    return {"test": "exact two-sided sign test on paired times (censored at the horizon)",
            "n": len(shared), "group_sooner": sooner, "reference_sooner": later,
            "ties": len(shared) - sooner - later, "p": binomial_two_sided(sooner, later),
            "median_difference": med}


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values in the input order (None stays None and does not
    count as a test)."""
    given = {i: float(p) for i, p in enumerate(pvalues) if p is not None}
    idx = sorted(given, key=lambda i: given[i])
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * given[i]))
        out[i] = running
    return out


def time_to_converge(times: Mapping[int, int | None], budget: int,
                     reference: Mapping[int, int | None] | None) -> dict[str, Any]:
    """A group's fields: ``median_converged_at`` with ``median_converged_at_interval``,
    ``convergence_curve`` and ``converged_at_test`` (null for the reference itself)."""
    curve = convergence_curve(list(times.values()), budget)
    med = median_time(curve)
    return {"median_converged_at": med["median"],
            "median_converged_at_interval": [med["low"], med["high"]],
            "convergence_horizon": budget,
            "convergence_curve": curve,
            "converged_at_test": None if reference is None else paired_times(times, reference)}


def fraction_by(curve: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """The curve's point at ``step`` (the last point at or before it)."""
    return next(p for p in reversed(curve) if p["step"] <= step)
