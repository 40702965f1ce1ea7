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
6. ``stuck_far_from_target``: none of the above, and still not within tolerance.

Saturation comes before oscillation because it describes the end state: a generator that swung
around the target and then met a saturated D is stuck now, whatever it did before.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .. import rundir
from ..errors import UsageError
from ..rundir import Run
from . import shapes
from .shapes import LossDef
from .source import state_at

CONVERGED = "converged"
DIVERGED = "diverged"
FLAT = "flat_discriminator"
SATURATED = "saturated_discriminator"
OSCILLATING = "oscillating"
STUCK = "stuck_far_from_target"
CLASSES = (CONVERGED, DIVERGED, FLAT, SATURATED, OSCILLATING, STUCK)
FAILURES = (DIVERGED, FLAT, SATURATED, OSCILLATING, STUCK)
NOT_RUN, UNREADABLE = "not_run", "unreadable"  # sweep members that cannot be diagnosed

SATURATED_SHARE = 0.5
OSCILLATION_CHANGES = 2
SWEEP_FILE = "sweep.json"
MEMBERS = "members"


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


def measure(run: Run) -> dict[str, Any]:
    """Every number the classes are judged on, at the run's last snapshot."""
    spec, rows, summary = run.spec, run.metrics, run.summary
    real, tol = spec.real_value, spec.tolerance
    bad = next((int(r["step"]) for r in rows if not _finite(r)), None)
    status = summary.get("status", "unknown") if summary else "unfinished"
    third = rows[len(rows) - math.ceil(len(rows) / 3):]
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
        "d_range_window": list(LossDef.from_spec(spec).window()),
        "source": None,
        "first_non_finite_step": bad,
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
    prob = LossDef.from_spec(spec).probability
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
    return STUCK, (f"{dist} >= tolerance {ev['tolerance']:g}; D is neither flat (range "
                   f"{ev['d_range']:.3g}) nor saturated ({100 * ev['saturation_fraction']:.0f}%),"
                   f" b - real changed sign {ev['sign_changes_last_third']} times")


def diagnose_run(run: Run) -> dict[str, Any]:
    ev = measure(run)
    cls, reason = classify(ev)
    return {"run_dir": str(run.path), "class": cls, "reason": reason, "evidence": ev}


# -- sweeps ------------------------------------------------------------------------------------


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def read_sweep(path: Path) -> list[tuple[str, str]]:
    """(member id, group) in ``sweep.json`` order."""
    f = Path(path) / SWEEP_FILE
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
        members = [(str(m["id"]), str(m.get("group", m["id"]))) for m in doc["members"]]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UsageError(f"{f} is corrupt") from None
    return members


def diagnose_sweep(path: Path) -> dict[str, Any]:
    """Classify every member; a member that cannot be read is reported, not fatal."""
    path = Path(path)
    members: list[dict[str, Any]] = []
    for mid, group in read_sweep(path):
        mdir = path / MEMBERS / mid
        if not (mdir / rundir.METRICS).is_file():
            members.append({"id": mid, "group": group, "class": NOT_RUN,
                            "reason": f"{mdir} has no metrics", "evidence": None})
            continue
        try:
            rep = diagnose_run(rundir.load_run(mdir))
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
