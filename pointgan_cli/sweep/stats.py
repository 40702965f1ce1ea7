"""The statistics a sweep reports: Wilson intervals for one group's success rate, an exact
McNemar test for two groups that share their seeds, and Fisher's exact test for two groups
that do not (``pointgan compare`` of two sweeps).

Why paired: members of different groups with the same seed start from the same initial
parameters and draw the same random numbers, so their outcomes are paired observations. Two
Wilson intervals that overlap say little then; McNemar's test uses only the seeds where the two
groups disagree (one converged, the other not), which is what differs between the methods.

Pure Python (no numpy, no torch): exact binomial tails in integer arithmetic. Why not
``scipy.stats`` (``binomtest``, ``fisher_exact``): importing it took 1.5 s of CPU here against
0.07-0.3 s for numpy (``python -X importtime``, a loaded 2-core machine), paid by every sweep
and ``compare``; and its float sums differ from these exact ones in the last bits (508 of 860
Wilson intervals up to n = 40, by at most 2.2e-16), which would change recorded summaries.
tests/test_sweep_stats.py checks these against scipy.stats wherever it is installed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95% by default)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # Exact at the ends (rounding would leave 50/50 with an upper bound of 0.9999999999999999).
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of k1/n1 against k2/n2: the probability, with the margins
    fixed, of a table at most as likely as the one observed."""
    k, n = k1 + k2, n1 + n2
    if n1 == 0 or n2 == 0:
        return 1.0

    def prob(x: int) -> float:
        return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n, k)

    observed = prob(k1)
    lo, hi = max(0, k - n2), min(k, n1)
    p = sum(q for x in range(lo, hi + 1) if (q := prob(x)) <= observed * (1 + 1e-9))
    return min(1.0, p)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs: twice the smaller
    binomial(b + c, 1/2) tail, at most 1; 1.0 when there is no discordant pair."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2.0 * tail / 2**n)


def paired(group: Mapping[int, bool], reference: Mapping[int, bool]) -> dict[str, Any]:
    """Compare two groups' ``{seed: converged}`` on the seeds they share.

    Returns ``n`` (shared seeds), ``both``, ``neither``, ``only_group`` (converged here but not
    in the reference), ``only_reference`` and ``mcnemar_p``."""
    shared = sorted(set(group) & set(reference))
    only_g = sum(1 for s in shared if group[s] and not reference[s])
    only_r = sum(1 for s in shared if reference[s] and not group[s])
    both = sum(1 for s in shared if group[s] and reference[s])
    return {"n": len(shared), "both": both, "neither": len(shared) - both - only_g - only_r,
            "only_group": only_g, "only_reference": only_r,
            "mcnemar_p": mcnemar_exact(only_g, only_r)}
