"""``diagnose run``: the run's class (``verdict``), with the discriminator's shape as evidence.

The class is computed here from the run's ``metrics.jsonl`` by ``verdict.judge``, the function
training applied to the same snapshots for ``summary.json``; the summary's class is reported
beside it (``summary_class``) and a test holds the two equal on real runs, so a summary
written by an older pointgan, or a changed rule, shows up as a disagreement instead of being
repeated. This module also adds evidence: what D looks like at the end.

- ``flat``: D varies by less than ``dshape.FLAT_RANGE`` over [real - 3, real + 2]; too much
  weight decay does this, and a flat D tells the generator nothing.
- ``saturated``: ``|dD/dv| < dshape.SATURATION_GRAD`` on at least ``SATURATED_SHARE`` of the
  generated samples; a D that learned too fast is a sharp step whose slope is zero outside a
  narrow band.
- ``sloped``: neither.

and how often ``b - real`` changed sign inside the success window (a generator circling the
target crosses it again and again).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import verdict
from ..errors import UsageError
from ..games import DIRAC, game_of
from ..results import progress
from ..store import rundir, sweepdir
from ..store.memberpath import load_any_run
from ..store.rundir import Run
from ..store.sweepdir import SweepDir
from . import dshape
from .source import params_at

CLASSES = verdict.CLASSES
FAILURES = verdict.FAILURES
CONVERGED, DIVERGED, ORBITING, STUCK, APPROACHING = (
    verdict.CONVERGED, verdict.DIVERGED, verdict.ORBITING, verdict.STUCK, verdict.APPROACHING)
NOT_RUN, UNREADABLE = "not_run", "unreadable"  # sweep members that cannot be diagnosed
FLAT, SATURATED, SLOPED = "flat", "saturated", "sloped"  # D's shape at the end (evidence)

SATURATED_SHARE = 0.5
SHRINK_FRACTION = 0.1  # a fitted fall of this share of the mean distance counts as shrinking


def sign_changes(values: list[float], ref: float) -> int:
    """How often ``value - ref`` changes sign along the list (exact zeros are skipped)."""
    signs = [v > ref for v in values if v != ref]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


_PARAM_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _param_keys(row: dict[str, Any]) -> tuple[str, ...]:
    """The parameter keys of a row (``w``, ``b``, ``d_W*``, ``d_c*``), worked out once per
    layout of keys (a sweep's rows share a few layouts; this ran for every row of every
    member)."""
    names = tuple(row)
    keys = _PARAM_KEYS.get(names)
    if keys is None:
        if len(_PARAM_KEYS) > 64:
            _PARAM_KEYS.clear()
        keys = tuple(k for k in names
                     if k in ("w", "b") or k.startswith("d_W") or k.startswith("d_c"))
        _PARAM_KEYS[names] = keys
    return keys


_PLAIN = frozenset((float, int))


def _finite(row: dict[str, Any]) -> bool:
    """Whether every parameter of the row is a finite number."""
    vals = [row[k] for k in _param_keys(row)]
    if _PLAIN.issuperset(map(type, vals)):  # the usual row: plain floats, checked in C
        return all(map(math.isfinite, vals))
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals)


def _json_num(v: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    f = float(v)
    return f if math.isfinite(f) else None


def last_third(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last third of the snapshots (rounded up)."""
    return rows[len(rows) - math.ceil(len(rows) / 3):]


def distance_trend(rows: list[dict[str, Any]], real: float, tol: float) -> dict[str, Any]:
    """How ``|w| + |b - real|`` moved over the last third of ``rows`` (finite rows only): a
    description of the path up to a chosen step, not a verdict (that is ``run_class``).

    ``monotone``: it fell or stayed at every snapshot and is lower at the end (at least 3
    snapshots). ``shrinking``: monotone, or the least-squares line through the third falls by at
    least ``SHRINK_FRACTION`` of the mean distance. ``sign_changes``: how often ``b - real``
    changed sign in the third."""
    good = [r for r in last_third(rows) if _finite(r)]
    pts = [(float(r["step"]), verdict.distance(float(r["w"]), float(r["b"]), real)) for r in good]
    out: dict[str, Any] = {"snapshots": len(pts), "tolerance": tol, "distance_start": None,
                           "distance_end": None, "fitted_fall": None, "monotone": False,
                           "shrinking": False, "within_tolerance": False,
                           "sign_changes": sign_changes([float(r["b"]) for r in good], real)}
    if not pts:
        return out
    steps, dist = [p[0] for p in pts], [p[1] for p in pts]
    out.update(distance_start=dist[0], distance_end=dist[-1], within_tolerance=dist[-1] < tol)
    if len(pts) < 3:
        return out
    ms, md = sum(steps) / len(steps), sum(dist) / len(dist)
    var = sum((s - ms) ** 2 for s in steps)
    slope = sum((s - ms) * (d - md) for s, d in pts) / var if var > 0 else 0.0
    fall = -slope * (steps[-1] - steps[0])
    monotone = all(b <= a for a, b in zip(dist, dist[1:])) and dist[-1] < dist[0]
    out.update(fitted_fall=fall, monotone=monotone,
               shrinking=monotone or (md > 0 and fall >= SHRINK_FRACTION * md))
    return out


SUMMARY_KEYS = ("final_distance", "window_max_distance", "bias_b", "time_avg_distance")


def run_class(run: Run) -> dict[str, Any]:
    """The run's verdict, computed here from its ``metrics.jsonl`` by ``verdict.judge`` (the
    function training used for the summary), never read from the summary: ``class``,
    ``reason``, ``converged_at``, the window numbers, and ``summary_class`` (what the summary
    says, None without one) with ``agrees`` (whether the two are the same class)."""
    summary = run.summary or {}
    spec, rows = run.spec, run.metrics
    game = game_of(spec)
    kw, kb = game.judged
    real = game.target(spec)
    bad = next((int(r["step"]) for r in rows if not _finite(r)), None)
    diverged = summary.get("status") == "diverged" or bad is not None
    steps, ws, bs = [r["step"] for r in rows], [r[kw] for r in rows], [r[kb] for r in rows]
    v = game.judge(steps, ws, bs, spec, diverged=diverged,
                   diverged_step=summary.get("diverged_step") or bad,
                   entered_at=verdict.converged_at(steps, ws, bs, real=real,
                                                   tolerance=spec.tolerance))
    if not summary and rows and int(rows[-1]["step"]) < spec.steps \
            and v["class"] != verdict.DIVERGED:
        v["reason"] = (f"unfinished (last snapshot at step {rows[-1]['step']} of "
                       f"{spec.steps}): " + v["reason"])
    written = summary.get("class")
    return {"class": v["class"], "reason": v["reason"], "from": rundir.METRICS,
            "converged_at": v["converged_at"], **{k: v[k] for k in SUMMARY_KEYS},
            "window": v["window"], "summary_class": written,
            "agrees": None if written is None else written == v["class"]}


def measure(run: Run, verdict_doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evidence beside the class: the window numbers, sign changes of ``b - real`` in the
    window, and D's shape at the run's last snapshot."""
    spec, rows, summary = run.spec, run.metrics, run.summary
    real, tol = spec.real_value, spec.tolerance
    v = verdict_doc or run_class(run)
    bad = next((int(r["step"]) for r in rows if not _finite(r)), None)
    start = verdict.window_start(spec.steps, spec.success_window)
    window = [r for r in rows if int(r["step"]) >= start and _finite(r)]
    last = rows[-1]
    ev: dict[str, Any] = {
        "status": (summary or {}).get("status", "unfinished"),
        "step": int(last["step"]),
        "w": _json_num(last["w"]),
        "b": _json_num(last["b"]),
        "real_value": real,
        "distance": _json_num(verdict.distance(float(last["w"]), float(last["b"]), real)),
        "tolerance": tol,
        **{k: v[k] for k in SUMMARY_KEYS},
        "window_start_step": start,
        "window_snapshots": len(window),
        "sign_changes_in_window": sign_changes([float(r["b"]) for r in window], real),
        "diverged_step": (summary or {}).get("diverged_step") or bad,
        "first_non_finite_step": bad,
        "saturation_fraction": None,
        "d_range": None,
        "d_range_window": list(dshape.window(spec)),
        "d_shape": None,
        "source": None,
    }
    if not _finite(last):
        return ev  # nothing finite to measure D on
    st = params_at(run, None, finite=False)
    ev["source"] = st.origin
    if not bool(np.isfinite(np.concatenate([st.g, st.d])).all()):
        ev["first_non_finite_step"] = st.step
        return ev
    ev["w"], ev["b"] = float(st.g[0]), float(st.g[1])
    ev["distance"] = verdict.distance(ev["w"], ev["b"], real)
    prob = dshape.probability(spec)
    ev["d_output"] = "probability" if prob else "logit"
    ev["saturation_fraction"] = dshape.saturation_fraction(st.d, st.g, probability=prob)
    lo, hi = ev["d_range_window"]
    ev["d_range"] = dshape.d_range(st.d, lo, hi, probability=prob)
    ev["d_shape"] = d_shape(ev)
    return ev


def d_shape(ev: dict[str, Any]) -> str:
    """flat / saturated / sloped from the measured range and saturated share."""
    if ev["d_range"] < dshape.FLAT_RANGE:
        return FLAT
    if ev["saturation_fraction"] >= SATURATED_SHARE:
        return SATURATED
    return SLOPED


def d_sentence(ev: dict[str, Any]) -> str:
    """What D looks like at the end, in words with its numbers (evidence, never a class)."""
    if ev["d_shape"] is None:
        return "D could not be measured (non-finite parameters)"
    lo, hi = ev["d_range_window"]
    sat = f"|dD/dv| < {dshape.SATURATION_GRAD:g} on {100 * ev['saturation_fraction']:.0f}% of " \
          f"generated samples"
    rng = f"range {ev['d_range']:.3g} over [{lo:g}, {hi:g}]"
    if ev["d_shape"] == FLAT:
        return f"D at the end is flat ({rng} < {dshape.FLAT_RANGE:g}; {sat})"
    if ev["d_shape"] == SATURATED:
        return (f"D at the end is saturated ({sat}, >= {100 * SATURATED_SHARE:.0f}%; {rng}): "
                f"the generator gets almost no gradient")
    return f"D at the end has a slope ({rng}; {sat})"


def diagnose_run(run: Run) -> dict[str, Any]:
    """The run's class and reason (from its verdict) plus D's shape and the swings as
    evidence. A Dirac-GAN run has its class from its summary and no D shape to add (its
    field and trajectory: ``pointgan animate``)."""
    v = run_class(run)
    if game_of(run.spec) is DIRAC:
        if not run.summary:
            raise UsageError(f"{run.path} is an unfinished Dirac-GAN run (no summary)")
        summary = run.summary or {}
        ev = {k: summary.get(k) for k in ("status", "theta", "psi", "tolerance",
                                          "final_distance", "window_max_distance",
                                          "time_avg_distance", "bias_psi", "diverged_step")}
        ev["step"] = summary.get("steps")
        ev["window_snapshots"] = (v["window"] or {}).get("snapshots")
        return {"run_dir": str(run.path), "class": v["class"], "reason": v["reason"],
                "class_from": v["from"], "summary_class": v["summary_class"],
                "converged_at": v["converged_at"], "window": v["window"], "evidence": ev}
    ev = measure(run, v)
    reason = v["reason"]
    if v["class"] != CONVERGED:
        reason += f". {d_sentence(ev)}; b - real changed sign {ev['sign_changes_in_window']} " \
                  f"times in the window"
    return {"run_dir": str(run.path), "class": v["class"], "reason": reason,
            "class_from": v["from"], "summary_class": v["summary_class"],
            "converged_at": v["converged_at"], "window": v["window"], "evidence": ev}


# -- sweeps ------------------------------------------------------------------------------------


def diagnose_sweep(sweep: SweepDir, visit: Any = None) -> dict[str, Any]:
    """Classify every member; a member that cannot be read is reported, not fatal.
    ``visit(id, group, run or None, report)`` sees each member as it is read (the report's
    explorer takes its numbers from the same pass instead of reading every member twice)."""
    members: list[dict[str, Any]] = []
    n = len(sweep.ids)
    with progress.task(n, progress.count(n, "member", "diagnose")):
        # batch by batch: each batch's files are read once for all its members; the class
        # and the D-shape evidence read parameters only: no losses, no torch
        for mid, group, load in sweep.members.each(losses=False):
            members.append(_diagnose_member(mid, group, load, sweep, visit))
            progress.advance()
    groups: dict[str, dict[str, Any]] = {}
    for m in members:
        g = groups.setdefault(m["group"], {"group": m["group"], "n": 0, "classes": {}})
        g["n"] += 1
        g["classes"].setdefault(m["class"], []).append(m["id"])
    return {"sweep_dir": str(sweep.path), "groups": list(groups.values()), "members": members}


def _diagnose_member(mid: str, group: str, load: Any, sweep: SweepDir,
                     visit: Any) -> dict[str, Any]:
    """One member of ``diagnose_sweep`` (``load``: see ``StoredMembers.each``)."""
    if load is None:
        out = {"id": mid, "group": group, "class": NOT_RUN,
               "reason": f"{sweep.member_dir(mid)} has no metrics", "evidence": None}
        if visit is not None:
            visit(mid, group, None, out)
        return out
    run = None
    rep: dict[str, Any]
    try:
        run = load()
        rep = diagnose_run(run)
    except UsageError as exc:
        rep = {"class": UNREADABLE, "reason": str(exc), "evidence": None}
    if visit is not None:
        visit(mid, group, run, rep)
    return {"id": mid, "group": group, **{k: rep[k] for k in ("class", "reason", "evidence")}}


def diagnose(path: Path) -> dict[str, Any]:
    """``diagnose run``: one run's class, or every sweep member's (``{"sweep_dir": ...}``)."""
    if sweepdir.is_sweep(path):
        return diagnose_sweep(SweepDir(path))
    return diagnose_run(load_any_run(path))
