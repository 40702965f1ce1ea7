"""Name how a run ended, with the numbers that back the name.

The classes follow the study's account of failure, checked in this order (the first that holds
wins, and every measure is reported whatever the class):

1. ``diverged``: a parameter became non-finite (the summary says so, or a metrics row holds a
   NaN/inf).
2. ``converged``: ``|w| + |b - real| < tolerance`` at the end.
3. ``flat_discriminator``: D varies by less than 0.05 over [real - 3, real + 2]; too much weight
   decay does this, and a flat D tells the generator nothing.
4. ``saturated_discriminator``: ``|dD/dv| < 1e-3`` on at least half of the generated samples; a D
   that learned too fast is a sharp step whose slope is zero outside a narrow band.
5. ``oscillating``: ``b - real`` changed sign at least twice in the last third of the snapshots;
   the generator keeps crossing the target because D keeps training on samples it cannot
   separate.
6. ``still_approaching``: not within tolerance, but ``|w| + |b - real|`` fell at every snapshot of
   the last third (``distance_trend``'s ``monotone``). Not converged: a distance that is still
   shrinking says nothing about whether it will reach the target (the non-saturating loss can
   creep towards it on an orbit; ``diagnose stability`` looks at the linearisation).
7. ``stuck_far_from_target``: none of the above, and still not within tolerance.

Saturation comes before oscillation because it describes the end state: a generator that swung
around the target and then met a saturated D is stuck now, whatever it did before.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .. import sweepdir
from ..errors import UsageError
from ..rundir import Run
from . import shapes
from .source import state_at

CONVERGED = "converged"
DIVERGED = "diverged"
FLAT = "flat_discriminator"
SATURATED = "saturated_discriminator"
OSCILLATING = "oscillating"
APPROACHING = "still_approaching"
STUCK = "stuck_far_from_target"
CLASSES = (CONVERGED, DIVERGED, FLAT, SATURATED, OSCILLATING, APPROACHING, STUCK)
FAILURES = (DIVERGED, FLAT, SATURATED, OSCILLATING, APPROACHING, STUCK)  # not converged at the end
NOT_RUN, UNREADABLE = "not_run", "unreadable"  # sweep members that cannot be diagnosed

SATURATED_SHARE = 0.5
OSCILLATION_CHANGES = 2
SHRINK_FRACTION = 0.1  # a fitted fall of this share of the mean distance counts as shrinking


def sign_changes(values: list[float], ref: float) -> int:
    """How often ``value - ref`` changes sign along the list (exact zeros are skipped)."""
    signs = [v > ref for v in values if v != ref]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def _finite(row: dict[str, Any]) -> bool:
    keys = [k for k in row if k in ("w", "b") or k.startswith("d_W") or k.startswith("d_c")]
    return all(isinstance(row[k], (int, float)) and math.isfinite(row[k]) for k in keys)


def _json_num(v: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    f = float(v)
    return f if math.isfinite(f) else None


def last_third(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last third of the snapshots (rounded up): the run's end state."""
    return rows[len(rows) - math.ceil(len(rows) / 3):]


def distance_trend(rows: list[dict[str, Any]], real: float, tol: float) -> dict[str, Any]:
    """How ``|w| + |b - real|`` moved over the last third of ``rows`` (finite rows only).

    ``monotone``: it fell or stayed at every snapshot and is lower at the end (at least 3
    snapshots). ``shrinking``: monotone, or the least-squares line through the third falls by at
    least ``SHRINK_FRACTION`` of the mean distance (a noisy but clearly falling distance).
    ``sign_changes``: how often ``b - real`` changed sign in the third (a shrinking distance
    with swings is a generator swinging around the target, not approaching it)."""
    good = [r for r in last_third(rows) if _finite(r)]
    pts = [(float(r["step"]), abs(float(r["w"])) + abs(float(r["b"]) - real)) for r in good]
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


def measure(run: Run) -> dict[str, Any]:
    """Every number the classes are judged on, at the run's last snapshot."""
    spec, rows, summary = run.spec, run.metrics, run.summary
    real, tol = spec.real_value, spec.tolerance
    bad = next((int(r["step"]) for r in rows if not _finite(r)), None)
    status = summary.get("status", "unknown") if summary else "unfinished"
    third = last_third(rows)
    good = [r for r in third if _finite(r)]
    last = rows[-1]
    ev: dict[str, Any] = {
        "status": status,
        "step": int(last["step"]),
        "w": _json_num(last["w"]),
        "b": _json_num(last["b"]),
        "real_value": real,
        "distance": _json_num(abs(float(last["w"])) + abs(float(last["b"]) - real)),
        "tolerance": tol,
        "diverged_step": (summary or {}).get("diverged_step") or bad,
        "sign_changes_last_third": sign_changes([float(r["b"]) for r in good], real),
        "last_third_snapshots": len(third),
        "saturation_fraction": None,
        "d_range": None,
        "d_range_window": list(shapes.window(spec)),
        "source": None,
        "first_non_finite_step": bad,
        "distance_monotone_last_third": distance_trend(rows, real, tol)["monotone"],
    }
    if not _finite(last):
        return ev  # nothing finite to measure D on
    st = state_at(run, None, finite=False)
    ev["source"] = st.origin
    if not bool(torch.isfinite(torch.cat([st.g, st.d])).all()):
        ev["first_non_finite_step"] = st.step
        return ev
    ev["w"], ev["b"] = float(st.g[0]), float(st.g[1])
    ev["distance"] = abs(ev["w"]) + abs(ev["b"] - real)
    prob = shapes.probability(spec)
    ev["d_output"] = "probability" if prob else "logit"
    ev["saturation_fraction"] = shapes.saturation_fraction(st.d, st.g, probability=prob)
    ev["d_range"] = shapes.d_range(st.d, *ev["d_range_window"], probability=prob)
    return ev


def classify(ev: dict[str, Any]) -> tuple[str, str]:
    """(class, one sentence with the numbers that decided it)."""
    dist = "|w| + |b - real| = " + ("nan" if ev["distance"] is None else f"{ev['distance']:.3g}")
    if ev["status"] == "diverged" or ev["first_non_finite_step"] is not None:
        at = ev["diverged_step"]
        return DIVERGED, f"parameters became non-finite at step {at}; rolled back, {dist}"
    if ev["distance"] < ev["tolerance"]:
        return CONVERGED, f"{dist} < tolerance {ev['tolerance']:g}"
    lo, hi = ev["d_range_window"]
    if ev["d_range"] < shapes.FLAT_RANGE:
        return FLAT, (f"D varies by only {ev['d_range']:.3g} over [{lo:g}, {hi:g}] "
                      f"(< {shapes.FLAT_RANGE:g}); {dist}")
    if ev["saturation_fraction"] >= SATURATED_SHARE:
        return SATURATED, (f"|dD/dv| < {shapes.SATURATION_GRAD:g} on "
                           f"{100 * ev['saturation_fraction']:.0f}% of generated samples "
                           f"(>= {100 * SATURATED_SHARE:.0f}%); {dist}")
    if ev["sign_changes_last_third"] >= OSCILLATION_CHANGES:
        return OSCILLATING, (f"b - real changed sign {ev['sign_changes_last_third']} times in the "
                             f"last {ev['last_third_snapshots']} snapshots "
                             f"(>= {OSCILLATION_CHANGES}); {dist}")
    if ev.get("distance_monotone_last_third"):
        return APPROACHING, (f"{dist} >= tolerance {ev['tolerance']:g}, but it fell at every one "
                             f"of the last {ev['last_third_snapshots']} snapshots: still "
                             f"approaching, not converged")
    return STUCK, (f"{dist} >= tolerance {ev['tolerance']:g}; D is neither flat (range "
                   f"{ev['d_range']:.3g}) nor saturated ({100 * ev['saturation_fraction']:.0f}%),"
                   f" b - real changed sign {ev['sign_changes_last_third']} times")


def diagnose_run(run: Run) -> dict[str, Any]:
    ev = measure(run)
    cls, reason = classify(ev)
    return {"run_dir": str(run.path), "class": cls, "reason": reason, "evidence": ev}


# -- sweeps ------------------------------------------------------------------------------------


def diagnose_sweep(path: Path) -> dict[str, Any]:
    """Classify every member; a member that cannot be read is reported, not fatal."""
    path = Path(path)
    members: list[dict[str, Any]] = []
    for entry in sweepdir.read_index(path).entries:
        mid, group = entry.id, entry.group
        if not sweepdir.member_started(path, mid):
            members.append({"id": mid, "group": group, "class": NOT_RUN,
                            "reason": f"{sweepdir.member_dir(path, mid)} has no metrics",
                            "evidence": None})
            continue
        try:
            rep = diagnose_run(sweepdir.load_member(path, mid))
        except UsageError as exc:
            rep = {"class": UNREADABLE, "reason": str(exc), "evidence": None}
        members.append({"id": mid, "group": group, **{k: rep[k] for k in
                                                      ("class", "reason", "evidence")}})
    groups: dict[str, dict[str, Any]] = {}
    for m in members:
        g = groups.setdefault(m["group"], {"group": m["group"], "n": 0, "classes": {}})
        g["n"] += 1
        g["classes"].setdefault(m["class"], []).append(m["id"])
    return {"sweep_dir": str(path), "groups": list(groups.values()), "members": members}
