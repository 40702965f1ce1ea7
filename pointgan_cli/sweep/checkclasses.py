"""``pointgan sweep ... --check-classes``: does each class predict what its runs do later?

A run's class at budget ``T`` makes a claim about the run's future. The check trains the very
same members again to ``2T`` (same spec, seed and snapshot cadence: a longer run repeats the
shorter one step for step) into ``SWEEP/check-2x/``, judges them there, and counts per class
how many kept the class's prediction:

| class at T | prediction at 2T |
| --- | --- |
| ``converged`` | converged |
| ``still_approaching`` | closer: converged, or a smaller largest distance over the window |
| ``orbiting`` | not converged, and b - real still changes sign at least ``MIN_CROSSINGS``
  times in the window (still circling) |
| ``diverging`` | farther: a larger mean distance over the window's last third, or diverged |
| ``stuck``, ``drifting`` | not converged |
| ``diverged`` | diverged |

The members are all of the sweep's: the check chooses no seeds, so no one can pick the seeds
it is reported on. The whole transition table (class at T -> class at 2T) is reported too,
so how many ``still_approaching`` runs actually converged by 2T is there to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from .. import verdict
from ..store.sweepdir import SweepDir
from .spec import SweepMember

CHECK_DIR = "check-2x"
CHECK_JSON = "check-classes.json"

PREDICTIONS = {
    verdict.CONVERGED: "converged at 2T",
    verdict.APPROACHING: "closer at 2T (converged, or a smaller largest distance over the "
                         "window)",
    verdict.ORBITING: f"not converged at 2T, still crossing the target (>= "
                      f"{verdict.MIN_CROSSINGS} sign changes of b - real in the window)",
    verdict.DIVERGING: "farther at 2T (a larger mean distance over the window's last third) "
                       "or diverged",
    verdict.STUCK: "not converged at 2T",
    verdict.DRIFTING: "not converged at 2T",
    verdict.DIVERGED: "diverged at 2T",
}


def doubled(members: list[SweepMember]) -> list[SweepMember]:
    """The same members with twice the steps and the same snapshot cadence (the first ``T``
    steps of each are then the original run, snapshot for snapshot)."""
    return [SweepMember(mid, group, spec.model_copy(update={"steps": 2 * spec.steps}))
            for mid, group, spec in members]


def _num(summary: dict[str, Any], key: str) -> float | None:
    v = summary.get(key)
    if v is None:
        v = (summary.get("verdict") or {}).get(key)
    return None if v is None else float(v)


def kept(cls: str, now: dict[str, Any], later: dict[str, Any]) -> bool:
    """Whether a member classed ``cls`` at T (summary ``now``) kept the class's prediction,
    given its summary at 2T (``later``)."""
    c2 = later.get("class")
    if cls == verdict.CONVERGED:
        return c2 == verdict.CONVERGED
    if cls == verdict.APPROACHING:
        a, b = _num(now, "window_max_distance"), _num(later, "window_max_distance")
        return c2 == verdict.CONVERGED or (a is not None and b is not None and b < a)
    if cls == verdict.DIVERGING:
        a, b = _num(now, "mean_last_third"), _num(later, "mean_last_third")
        return c2 == verdict.DIVERGED or (a is not None and b is not None and b > a)
    if cls == verdict.ORBITING:
        crossings = (later.get("verdict") or {}).get("crossings") or 0
        return c2 != verdict.CONVERGED and crossings >= verdict.MIN_CROSSINGS
    if cls == verdict.DIVERGED:
        return c2 == verdict.DIVERGED
    return c2 != verdict.CONVERGED


def compare(now: dict[str, dict[str, Any]], later: dict[str, dict[str, Any]],
            groups: dict[str, str]) -> dict[str, Any]:
    """The check's document from the members' summaries at T (``now``) and 2T (``later``),
    keyed by member id; ``groups``: member -> group."""
    classes: dict[str, dict[str, Any]] = {}
    members = []
    for mid, s in now.items():
        cls, s2 = str(s.get("class")), later[mid]
        ok = kept(cls, s, s2)
        c = classes.setdefault(cls, {"class": cls, "prediction": PREDICTIONS.get(cls, "-"),
                                     "n": 0, "kept": 0, "later": {}, "groups": {}})
        c["n"] += 1
        c["kept"] += ok
        c["later"][s2.get("class")] = c["later"].get(s2.get("class"), 0) + 1
        g = c["groups"].setdefault(groups[mid], {"n": 0, "kept": 0})
        g["n"] += 1
        g["kept"] += ok
        members.append({"id": mid, "group": groups[mid], "seed": s.get("seed"), "class": cls,
                        "class_2x": s2.get("class"), "kept": ok})
    order = {c: i for i, c in enumerate(verdict.CLASSES)}
    rows = sorted(classes.values(), key=lambda c: order.get(c["class"], 99))
    for c in rows:
        c["fraction"] = c["kept"] / c["n"]
    return {"classes": rows, "members": members}


def check(out: Path, sweep: Any, members: list[SweepMember], *, run_kw: dict
          ) -> dict[str, Any]:
    """Train ``members`` to twice their steps in ``out/check-2x`` (replacing an earlier
    check), compare classes, write ``out/check-classes.json`` and return the document."""
    from ..store.atomic import dumps
    from .run import run_sweep

    target = Path(out) / CHECK_DIR
    twice = doubled(members)
    command = f"pointgan sweep --check-classes (members of {out} at twice their steps)"
    run_sweep(target, sweep, command, resume=False, force=True, members=twice, owner=Path(out),
              **run_kw)
    ids = [mid for mid, _, _ in members]
    sweep_dir = SweepDir(out)
    now = dict(zip(ids, sweep_dir.members.summaries(ids)))
    later = dict(zip(ids, SweepDir(target).members.summaries(ids)))
    # every member has finished in both sweeps: each has its summary
    doc = compare(cast("dict[str, dict[str, Any]]", now), cast("dict[str, dict[str, Any]]", later),
                  {mid: g for mid, g, _ in members})
    doc.update(sweep_dir=str(out), check_dir=str(target),
               steps={"T": sorted({s.steps for _, _, s in members}),
                      "2T": sorted({s.steps for _, _, s in twice})})
    sweep_dir.write_file(CHECK_JSON, (dumps(doc, indent=1) + "\n").encode())
    return doc
