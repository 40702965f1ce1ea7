"""How a run ended: the one definition of "converged" and of the run's class.

Why a window and not the last step: the noise-free methods often circle the target, so the last
snapshot mostly records where an oscillation happens to be when training stops. A run counts as
``converged`` only if the generator stays within ``tolerance`` of the target at *every*
snapshot of the last ``success_window`` fraction of its steps.

Every summary carries the numbers this module computes from the window (``final_distance``,
``window_max_distance``, ``bias_b``, ``time_avg_distance``) and one ``class``, checked in this
order (the first that holds wins):

1. ``diverged``: a parameter became non-finite (the engine rolled the run back and froze it).
2. ``converged``: ``|w| + |b - real| < tolerance`` at every snapshot of the window.
3. ``still_approaching``: not inside for the whole window, but the distance is shrinking fast
   enough to get there: the envelope (largest distance) over the last third of the window is
   below the envelope over the first third, and at that geometric rate it would fall below
   ``tolerance`` within ``APPROACH_HORIZON`` times the run's own length (today's steps again).
   A run that enters the tolerance during the window lands here too.
4. ``orbiting``: the window-averaged generator is on target (``time_avg_distance <
   tolerance``) but the generator makes excursions beyond the tolerance that do not die out at
   that rate: it circles the target rather than settling on it.
5. ``stuck``: none of the above: far from the target (its window average too), and not moving
   towards it fast enough to arrive. The evidence says how far and how much it still moves.

The thresholds are fixed numbers with a meaning (the run's tolerance and a horizon of one run
length), not tuned on the seeds the docs report. Pure Python (no torch): sweeps, reports and
``diagnose`` all import it cheaply and reach the same verdict from the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CONVERGED = "converged"
ORBITING = "orbiting"
STUCK = "stuck"
APPROACHING = "still_approaching"
DIVERGED = "diverged"
CLASSES = (CONVERGED, ORBITING, STUCK, APPROACHING, DIVERGED)
FAILURES = (ORBITING, STUCK, APPROACHING, DIVERGED)  # every class but converged

DEFAULT_WINDOW = 0.2  # last fraction of the steps a converged run stays inside tolerance
MIN_WINDOW_SNAPSHOTS = 20  # the default snapshot cadence puts at least this many in the window
APPROACH_HORIZON = 1.0  # still_approaching: inside tolerance within this many run lengths


def distance(w: float, b: float, real: float) -> float:
    """Worst error of ``y = w x + b`` against ``real`` over x in [-1, 1]: ``|w| + |b - real|``."""
    return abs(w) + abs(b - real)


def window_start(steps: int, window: float) -> int:
    """First step of the success window: the last ``window`` fraction of ``steps``."""
    return steps - int(round(window * steps))


def default_snapshot_every(steps: int, window: float) -> int:
    """Snapshot cadence that puts at least ``MIN_WINDOW_SNAPSHOTS`` rows in the window (when the
    window has that many steps): the largest of 50, 25, 10, 5, 2, 1 that does. Divisors of 50
    keep a snapshot at every checkpoint step (multiples of 500 by default)."""
    span = int(round(window * steps))
    return next(c for c in (50, 25, 10, 5, 2, 1) if c * MIN_WINDOW_SNAPSHOTS <= span or c == 1)


class EntryTracker:
    """``converged_at`` as the snapshots go by: the first snapshot step of the run's last
    stretch inside the tolerance (None while the latest snapshot is outside or non-finite).

    At the end of training that is the step from which the run stays inside the tolerance to
    the end, the run's time to converge; streaming it keeps training from holding every
    snapshot of every member just to find it."""

    def __init__(self, real: float, tolerance: float) -> None:
        self.real, self.tolerance = real, tolerance
        self.at: int | None = None

    def add(self, step: int, w: float, b: float) -> None:
        d = distance(w, b, self.real)
        if math.isfinite(d) and d < self.tolerance:
            if self.at is None:
                self.at = int(step)
        else:
            self.at = None


def converged_at(steps: Sequence[int], w: Sequence[float], b: Sequence[float], *,
                 real: float, tolerance: float) -> int | None:
    """The first snapshot step from which ``|w| + |b - real| < tolerance`` at every later
    snapshot (snapshots in time order); None if the last snapshot is outside."""
    t = EntryTracker(real, tolerance)
    for s, wi, bi in zip(steps, w, b):
        t.add(s, wi, bi)
    return t.at


def _thirds(n: int) -> tuple[slice, slice]:
    k = max(1, math.ceil(n / 3))
    return slice(0, k), slice(n - k, n)


def judge(
    steps: Sequence[int],
    w: Sequence[float],
    b: Sequence[float],
    *,
    real: float,
    tolerance: float,
    total_steps: int,
    window: float = DEFAULT_WINDOW,
    diverged: bool = False,
    diverged_step: int | None = None,
    entered_at: int | None = None,
) -> dict[str, Any]:
    """The verdict on one run from its snapshots ``(steps, w, b)`` (any order of time, finite
    or not; only the finite rows inside the window count).

    Returns the summary fields (``converged``, ``final_distance``, ``window_max_distance``,
    ``bias_b``, ``time_avg_distance``, ``class``) plus ``reason`` (one sentence with the numbers
    that decided) and ``window`` (the evidence: window bounds, envelopes, rates).
    ``entered_at``: the run's ``EntryTracker.at`` over all its snapshots (the window alone
    cannot say when a run that is inside for the whole window first got there); it becomes
    ``converged_at`` (None for a diverged run)."""
    start = window_start(total_steps, window)
    rows = sorted((int(s), float(wi), float(bi)) for s, wi, bi in zip(steps, w, b)
                  if int(s) >= start and math.isfinite(wi) and math.isfinite(bi))
    n = len(rows)
    ev: dict[str, Any] = {"start_step": start, "end_step": total_steps, "fraction": window,
                          "snapshots": n, "tolerance": tolerance}
    out: dict[str, Any] = {"converged": False, "final_distance": None,
                           "window_max_distance": None, "bias_b": None,
                           "time_avg_distance": None, "class": None, "reason": "",
                           "converged_at": None if diverged else entered_at, "window": ev}
    if n:
        ts = [r[0] for r in rows]
        dist = [distance(r[1], r[2], real) for r in rows]
        wm, bm = sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n
        first, last = _thirds(n)
        outside = [t for t, d in zip(ts, dist) if d >= tolerance]
        ev.update(time_avg_w=wm, time_avg_b=bm,
                  envelope_first_third=max(dist[first]), envelope_last_third=max(dist[last]),
                  mean_first_third=sum(dist[first]) / len(dist[first]),
                  mean_last_third=sum(dist[last]) / len(dist[last]),
                  snapshots_outside=len(outside),
                  last_step_outside=outside[-1] if outside else None)
        ev["steps_to_tolerance"] = _steps_to_tolerance(ts, dist, tolerance)
        out.update(final_distance=dist[-1], window_max_distance=max(dist), bias_b=bm - real,
                   time_avg_distance=distance(wm, bm, real))
    cls, reason = _classify(out, ev, diverged, diverged_step, total_steps)
    out.update({"class": cls, "reason": reason, "converged": cls == CONVERGED})
    return out


def _steps_to_tolerance(ts: list[int], dist: list[float], tol: float) -> float | None:
    """Steps until the envelope is inside ``tol`` if it keeps shrinking at the window's rate
    (first third -> last third, geometric); 0 if it is inside already; None if not shrinking."""
    first, last = _thirds(len(ts))
    e0, e1 = max(dist[first]), max(dist[last])
    if e1 < tol:
        return 0.0
    span = (sum(ts[last]) / len(ts[last])) - (sum(ts[first]) / len(ts[first]))
    if e0 <= 0 or e1 >= e0 or span <= 0:
        return None
    rate = math.log(e1 / e0) / span  # < 0: log-envelope per step
    return math.log(tol / e1) / rate


def _classify(out: dict[str, Any], ev: dict[str, Any], diverged: bool,
              diverged_step: int | None, total_steps: int) -> tuple[str, str]:
    tol = ev["tolerance"]
    if diverged:
        return DIVERGED, (f"a parameter became non-finite at step {diverged_step}; the run was "
                          f"rolled back to its last finite snapshot and stopped")
    if not ev["snapshots"]:
        return STUCK, "no finite snapshot inside the success window"
    where = f"the last {ev['snapshots']} snapshots (steps {ev['start_step']}-{ev['end_step']})"
    mx, fin, tad = out["window_max_distance"], out["final_distance"], out["time_avg_distance"]
    if mx < tol:
        return CONVERGED, (f"|w| + |b - real| < tolerance {tol:g} at every one of {where} "
                           f"(max {mx:.3g}, mean bias of b {out['bias_b']:+.3g})")
    left = ""
    if fin < tol:
        left = (f"inside tolerance at the last snapshot ({fin:.3g}) but outside at step "
                f"{ev['last_step_outside']}; ")
    e0, e1 = ev["envelope_first_third"], ev["envelope_last_third"]
    eta = ev["steps_to_tolerance"]
    horizon = APPROACH_HORIZON * total_steps
    if eta is not None and eta <= horizon:
        rate = "is inside now" if eta == 0 else f"would be inside in ~{eta:.0f} more steps"
        return APPROACHING, (f"{left}the largest distance fell from {e0:.3g} (first third of "
                             f"{where}) to {e1:.3g} (last third): at that rate it {rate} "
                             f"(<= {horizon:.0f}), not yet inside for the whole window")
    if tad < tol:
        trend = "grow" if e1 > e0 else "do not die out"
        return ORBITING, (f"{left}the window-averaged generator is on target (distance {tad:.3g}"
                          f" < {tol:g}) but it swings out to {mx:.3g} and the swings {trend} "
                          f"(largest distance {e0:.3g} -> {e1:.3g} over {where})")
    return STUCK, (f"{left}far from the target over {where}: distance {fin:.3g} at the end, "
                   f"{tad:.3g} for the window-averaged generator; mean distance "
                   f"{ev['mean_first_third']:.3g} (first third) -> {ev['mean_last_third']:.3g} "
                   f"(last third), not shrinking fast enough to arrive within {horizon:.0f} "
                   f"steps")


def summary_fields(verdict: dict[str, Any]) -> dict[str, Any]:
    """The fields a ``summary.json`` stores (the window evidence under ``"verdict"``)."""
    keys = ("converged", "converged_at", "final_distance", "window_max_distance", "bias_b",
            "time_avg_distance", "class")
    out = {k: verdict[k] for k in keys}
    out["verdict"] = {"reason": verdict["reason"], **verdict["window"]}
    return out
