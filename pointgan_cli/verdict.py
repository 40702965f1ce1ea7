"""How a run ended: the one definition of "converged" and of the run's class.

Why a window and not the last step: the noise-free methods often circle the target, so the last
snapshot mostly records where an oscillation happens to be when training stops. A run counts as
``converged`` only if the generator stays within ``tolerance`` of the target at *every*
snapshot of the last ``success_window`` fraction of its steps.

Every summary carries the numbers this module computes from the window (``final_distance``,
``window_max_distance``, ``bias_b``, ``time_avg_distance``), ``converged_at`` (the first snapshot
step from which the run stays inside the tolerance to the end) and one ``class``. The class is
judged on the **evidence**: the success window and as many steps again before it
(``evidence_start``). Checked in this order (the first that holds wins):

1. ``diverged``: a parameter became non-finite (the engine rolled the run back and froze it).
2. ``converged``: ``|w| + |b - real| < tolerance`` at every snapshot of the window.
3. ``diverging``: moving away from the target without bound: spiralling out (b - real changes
   sign at least ``MIN_CROSSINGS`` times and the largest distance grows from the window before
   to the window's first third to its last), or moving away as a whole (the smallest distance
   of the last third above the largest of the first, by more than the tolerance in all, and
   growing at least as fast as over the window before).
4. ``still_approaching``: the largest distance shrinks (from the window before to the window)
   fast enough that, at that geometric rate from the last third, it is inside the tolerance
   within ``approach_horizon`` run lengths (0.6 for the default window: inside for the whole
   success window of a run twice as long). A run already inside over the window's last third
   lands here too.
5. ``orbiting``: b - real changes sign at least ``MIN_CROSSINGS`` times in the window (a whole
   turn) and the generator averaged over whole turns is on target (``cycle_avg_distance <
   tolerance``): it circles the target without settling.
6. ``stuck``: far from the target and not moving: the generator moves less than the tolerance
   over the whole window (``spread``) and its mean distance is at least the tolerance.
7. ``drifting``: none of the above: outside the tolerance, moving, without a steady course.

Each class predicts what the same run does at twice the budget (``sweep.checkclasses``:
``pointgan sweep ... --check-classes`` measures it). The thresholds are the run's tolerance,
one whole turn and a horizon set by that prediction; the rules were tuned on seeds 0-63 and
checked on others (``docs/diagnose.md``). Pure Python (no torch): sweeps, reports and
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
DIVERGING = "diverging"
DRIFTING = "drifting"
DIVERGED = "diverged"
CLASSES = (CONVERGED, ORBITING, STUCK, APPROACHING, DIVERGING, DRIFTING, DIVERGED)
FAILURES = (ORBITING, STUCK, APPROACHING, DIVERGING, DRIFTING, DIVERGED)  # all but converged

DEFAULT_WINDOW = 0.2  # last fraction of the steps a converged run stays inside tolerance
MIN_WINDOW_SNAPSHOTS = 20  # the default snapshot cadence puts at least this many in the window
MIN_CROSSINGS = 3  # orbiting: b - real changes sign this often in the window (one whole turn)


def distance(w: float, b: float, real: float) -> float:
    """Worst error of ``y = w x + b`` against ``real`` over x in [-1, 1]: ``|w| + |b - real|``."""
    return abs(w) + abs(b - real)


def window_start(steps: int, window: float) -> int:
    """First step of the success window: the last ``window`` fraction of ``steps``."""
    return steps - int(round(window * steps))


def evidence_start(steps: int, window: float) -> int:
    """First step of the evidence the class is judged on: the success window and, before it,
    as many steps again (an envelope measured a whole window earlier gives the decay rate;
    the thirds of one window alone gave rates too noisy to predict anything)."""
    return window_start(steps, min(1.0, 2 * window))


def approach_horizon(window: float) -> float:
    """How far ahead, in run lengths, ``still_approaching`` may project the decay: a run of
    ``T`` steps that is inside by ``T (2 - 2 window)`` is inside for the whole success window
    of a run twice as long, the prediction the class makes. ``1 - 2 window`` (0.6 for the
    default window), never negative."""
    return max(0.0, 1.0 - 2.0 * window)


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
    distance_words: str = "|w| + |b - real|",
    bias_words: str = "bias of b",
    entered_at: int | None = None,
    crossing_words: str = "b - real",
) -> dict[str, Any]:
    """The verdict on one run from its snapshots ``(steps, w, b)`` (any order of time, finite
    or not; only the finite rows inside the window count).

    Returns the summary fields (``converged``, ``final_distance``, ``window_max_distance``,
    ``bias_b``, ``time_avg_distance``, ``class``) plus ``reason`` (one sentence with the numbers
    that decided) and ``window`` (the evidence: window bounds, envelopes, rates). The reason
    names the distance, b's mean offset and what changes sign as the run circles with
    ``distance_words``, ``bias_words`` and ``crossing_words`` (a game judged as (w, b) says
    them in its own terms, ``games``).
    ``entered_at``: the run's ``EntryTracker.at`` over all its snapshots (the window alone
    cannot say when a run that is inside for the whole window first got there); it becomes
    ``converged_at`` (None for a diverged run)."""
    start, earliest = window_start(total_steps, window), evidence_start(total_steps, window)
    every = sorted((int(s), float(wi), float(bi)) for s, wi, bi in zip(steps, w, b)
                   if int(s) >= earliest and math.isfinite(wi) and math.isfinite(bi))
    rows = [r for r in every if r[0] >= start]
    before = [distance(r[1], r[2], real) for r in every if r[0] < start]
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
        ev["envelope_before_window"] = max(before) if before else None
        ev["steps_to_tolerance"] = _steps_to_tolerance(ts, dist, before, start - (
            evidence_start(total_steps, window)), tolerance)
        ev.update(_motion(rows, dist, real))
        ev["growth_window"] = (ev["mean_last_third"] / ev["mean_first_third"]
                               if ev["mean_first_third"] > 0 else None)
        ev["growth_before"] = _growth(before)
        out.update(final_distance=dist[-1], window_max_distance=max(dist), bias_b=bm - real,
                   time_avg_distance=distance(wm, bm, real))
    cls, reason = _classify(out, ev, diverged, diverged_step, total_steps,
                            (distance_words, bias_words, crossing_words))
    out.update({"class": cls, "reason": reason, "converged": cls == CONVERGED})
    return out


def _steps_to_tolerance(ts: list[int], dist: list[float], before: list[float], gap: int,
                        tol: float) -> float | None:
    """Steps until the envelope is inside ``tol`` if it keeps shrinking at its measured rate;
    0 if the last third of the window is inside already; None if it is not shrinking.

    The rate is geometric, from the largest distance over the ``gap`` steps before the window
    to the largest over the window (one window length apart); without snapshots before the
    window, from the window's first third to its last. The projection starts from the
    envelope of the window's last third."""
    first, last = _thirds(len(ts))
    e_end = max(dist[last])
    if e_end < tol:
        return 0.0
    if before and gap > 0:
        e0, e1, span = max(before), max(dist), float(gap)
    else:
        e0, e1 = max(dist[first]), e_end
        span = (sum(ts[last]) / len(ts[last])) - (sum(ts[first]) / len(ts[first]))
    if e0 <= 0 or e1 >= e0 or span <= 0:
        return None
    rate = math.log(e1 / e0) / span  # < 0: log-envelope per step
    return math.log(tol / e_end) / rate


def _growth(dist: list[float]) -> float | None:
    """Mean distance over the last third of ``dist`` over the mean over its first third
    (None with fewer than 3 values or a zero start)."""
    if len(dist) < 3:
        return None
    first, last = _thirds(len(dist))
    m0 = sum(dist[first]) / len(dist[first])
    return (sum(dist[last]) / len(dist[last])) / m0 if m0 > 0 else None


def _motion(rows: list[tuple[int, float, float]], dist: list[float], real: float
            ) -> dict[str, Any]:
    """How the generator moves in the window: ``crossings`` (sign changes of ``b - real``,
    exact zeros skipped), ``cycle_avg_distance`` (the distance of the generator averaged over
    whole turns: from the first crossing to the last one an even number of crossings later;
    None with fewer than ``MIN_CROSSINGS``), ``spread`` (``(max w - min w) + (max b - min b)``,
    how far it moves at all), and the smallest distance of the last third and largest of the
    first (``min_last_third``, ``max_first_third``: a run moving away as a whole has the first
    above the second)."""
    signs = [(i, r[2] > real) for i, r in enumerate(rows) if r[2] != real]
    at = [i for (_, a), (i, b) in zip(signs, signs[1:]) if a != b]  # index after each change
    cycle = None
    if len(at) >= MIN_CROSSINGS:
        end = at[2 * ((len(at) - 1) // 2)]  # an even number of crossings after the first
        part = rows[at[0]:end]
        cycle = distance(sum(r[1] for r in part) / len(part), sum(r[2] for r in part) / len(part),
                         real)
    first, last = _thirds(len(rows))
    ws, bs = [r[1] for r in rows], [r[2] for r in rows]
    return {"crossings": len(at), "cycle_avg_distance": cycle,
            "spread": (max(ws) - min(ws)) + (max(bs) - min(bs)),
            "max_first_third": max(dist[first]), "min_last_third": min(dist[last])}


def _classify(out: dict[str, Any], ev: dict[str, Any], diverged: bool,
              diverged_step: int | None, total_steps: int,
              words: tuple[str, str, str]) -> tuple[str, str]:
    tol = ev["tolerance"]
    if diverged:
        return DIVERGED, (f"a parameter became non-finite at step {diverged_step}; the run was "
                          f"rolled back to its last finite snapshot and stopped")
    if not ev["snapshots"]:
        return STUCK, "no finite snapshot inside the success window"
    where = f"the last {ev['snapshots']} snapshots (steps {ev['start_step']}-{ev['end_step']})"
    mx, fin = out["window_max_distance"], out["final_distance"]
    if mx < tol:
        return CONVERGED, (f"{words[0]} < tolerance {tol:g} at every one of {where} "
                           f"(max {mx:.3g}, mean {words[1]} {out['bias_b']:+.3g})")
    left = ""
    if fin < tol:
        left = (f"inside tolerance at the last snapshot ({fin:.3g}) but outside at step "
                f"{ev['last_step_outside']}; ")
    e0, e1 = ev["envelope_first_third"], ev["envelope_last_third"]
    m0, m1 = ev["mean_first_third"], ev["mean_last_third"]
    eta = ev["steps_to_tolerance"]
    horizon = approach_horizon(ev["fraction"]) * total_steps
    pre = ev.get("envelope_before_window")
    if pre is not None:  # the rate came from the span before the window to the window
        e0, e1 = pre, mx
        span_words = "the window before it"
    else:
        span_words = "the first third"
    moved = "fell" if e1 < e0 else "rose"
    g0, g1 = ev["growth_before"], ev["growth_window"]
    speeding = g0 is None or (g0 > 1 and g1 is not None and g1 >= g0)
    e_pre, x = ev.get("envelope_before_window"), ev["crossings"]
    spiral_out = (x >= MIN_CROSSINGS and e_pre is not None and e_pre < e0 < e1 and e1 >= tol)
    if spiral_out:
        return DIVERGING, (f"{left}spiralling away from the target: {words[2]} changed sign {x} "
                           f"times over {where} and the largest distance grew at every step of "
                           f"the evidence ({e_pre:.3g} over the window before it, {e0:.3g} over "
                           f"the first third, {e1:.3g} over the last)")
    if (ev["min_last_third"] > ev["max_first_third"] and m1 >= tol and ev["spread"] >= tol
            and speeding):
        return DIVERGING, (f"{left}moving away from the target as a whole over {where}: the "
                           f"smallest distance of the last third ({ev['min_last_third']:.3g}) "
                           f"is above the largest of the first ({ev['max_first_third']:.3g}) "
                           f"and it moved {ev['spread']:.3g} (>= {tol:g}); mean distance "
                           f"{m0:.3g} -> {m1:.3g}, growing at least as fast as over the window "
                           f"before" + ("" if g0 is None else f" (x{g1:.3g} against x{g0:.3g})"))
    if eta is not None and eta <= horizon:
        rate = "is inside now" if eta == 0 else f"would be inside in ~{eta:.0f} more steps"
        if eta == 0:
            return APPROACHING, (f"{left}inside the tolerance over the last third of {where} "
                                 f"(largest distance {ev['envelope_last_third']:.3g}), not yet "
                                 f"over the whole window")
        return APPROACHING, (f"{left}the largest distance {moved} from {e0:.3g} ({span_words}) "
                             f"to {e1:.3g} ({where}): at that rate it {rate} (<= "
                             f"{horizon:.0f}), not yet inside for the whole window")
    x, cyc = ev["crossings"], ev["cycle_avg_distance"]
    if cyc is not None and cyc < tol:
        return ORBITING, (f"{left}circling the target: {words[2]} changed sign {x} times over "
                          f"{where} and the generator averaged over whole turns is on target "
                          f"(distance {cyc:.3g} < {tol:g}), but it swings out to {mx:.3g} and "
                          f"the swings do not die out (largest distance {e0:.3g} -> {e1:.3g})")
    if ev["spread"] < tol and min(m0, m1) >= tol:
        return STUCK, (f"{left}far from the target and not moving over {where}: distance "
                       f"{fin:.3g} at the end, the generator moved {ev['spread']:.3g} in all "
                       f"(|dw| + |db| < {tol:g}); mean distance {m0:.3g} (first third) -> "
                       f"{m1:.3g} (last third)")
    turns = (f"{words[2]} changed sign {x} times, averaged over whole turns the generator is "
             f"{cyc:.3g} from the target; " if cyc is not None else
             f"{words[2]} changed sign {x} times; ")
    return DRIFTING, (f"{left}outside the tolerance and moving without a steady course over "
                      f"{where}: {turns}it moved {ev['spread']:.3g} in all; mean distance "
                      f"{m0:.3g} -> {m1:.3g}, not shrinking fast enough to arrive within "
                      f"{horizon:.0f} steps")


def summary_fields(verdict: dict[str, Any]) -> dict[str, Any]:
    """The fields a ``summary.json`` stores (the window evidence under ``"verdict"``)."""
    keys = ("converged", "converged_at", "final_distance", "window_max_distance", "bias_b",
            "time_avg_distance", "class")
    out = {k: verdict[k] for k in keys}
    out["verdict"] = {"reason": verdict["reason"], **verdict["window"]}
    return out
