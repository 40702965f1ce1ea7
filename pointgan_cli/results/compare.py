"""Two runs, or two sweeps, side by side: what was set differently and what came out differently.

Runs: every spec field that differs (flag names, as the user would type them), then the
results of both summaries with the difference B - A for numbers. Sweeps: what differs in the
sweep spec (groups, seeds, grid, common flags, steps), then each group's success rate in both
with the difference and two p-values for "the two rates are the same": Fisher's exact test
(each sweep's members are independent seeds: a 2x2 table of converged / not converged) and,
on the seeds both sweeps ran, the exact McNemar test (the same seed starts from the same
parameters and draws the same numbers, so those outcomes are paired; see ``sweep.stats``).
Both are per group; with more than one group each also gets its Holm-adjusted value over the
groups compared (``p_value_holm``, ``mcnemar_p_holm``). Each group also gets its
success at every tolerance of ``sweep.tolerance`` (B against A, paired) and whether the
conclusion at the runs' tolerance holds at every tolerance from 0.05 to 0.2 or flips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError, short
from ..spec import SPEC_FIELDS, flag_name
from ..store import rundir, sweepdir
from ..store.memberpath import load_any_run, member_address
from ..store.sweepdir import SweepDir
from ..sweep import inference, tolerance
from ..sweep.stats import fisher_exact, paired
from . import catalog, progress

#: Summary fields compared for runs, in this order (when either summary has them).
RESULT_KEYS = ("class", "status", "converged", "final_distance", "distance", "w", "b",
               "theta", "psi", "window_max_distance", "time_avg_distance", "bias_b",
               "bias_psi", "diverged_step", "steps")


def kind(path: Path | str) -> str:
    """"sweep" or "run"; UsageError for anything else."""
    if sweepdir.is_sweep(path):
        return "sweep"
    if rundir.is_run(path) or member_address(path) is not None:
        return "run"
    raise UsageError(f"{path} is neither a pointgan run nor a sweep directory")


def compare(a: Path | str, b: Path | str) -> dict[str, Any]:
    """The comparison document ``pointgan compare A B`` prints (``--json``)."""
    a, b = Path(a), Path(b)
    ka, kb = kind(a), kind(b)
    if ka != kb:
        raise UsageError(f"compare takes two runs or two sweeps: {a} is a {ka}, {b} a {kb}")
    doc: dict[str, Any] = {"kind": ka, "a": str(a), "b": str(b)}
    if ka == "run":
        doc.update(_runs(a, b))
    else:
        doc.update(_sweeps(a, b))
    return doc


# -- runs --------------------------------------------------------------------------------------


def _runs(a: Path, b: Path) -> dict[str, Any]:
    ra = load_any_run(a, need_metrics=False)  # SWEEP/members/ID works too
    rb = load_any_run(b, need_metrics=False)
    sa, sb = ra.spec.model_dump(mode="json"), rb.spec.model_dump(mode="json")
    spec = [{"field": f, "flag": flag_name(f), "a": sa[f], "b": sb[f]}
            for f in SPEC_FIELDS if sa[f] != sb[f]]
    suma, sumb = ra.summary or {}, rb.summary or {}
    results = []
    for key in RESULT_KEYS:
        if key not in suma and key not in sumb:
            continue
        va, vb = suma.get(key), sumb.get(key)
        results.append({"field": key, "a": va, "b": vb, "delta": _delta(va, vb),
                        "differs": va != vb})
    classes = {"a": catalog.run_class(ra.summary), "b": catalog.run_class(rb.summary)}
    return {"spec": spec, "results": results, "classes": classes}


def _delta(va: Any, vb: Any) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
    return float(vb) - float(va) if numbers else None


# -- sweeps ------------------------------------------------------------------------------------


def _sweeps(a: Path, b: Path) -> dict[str, Any]:
    da, db = SweepDir.open(a), SweepDir.open(b)
    fa, fb = _sweep_facts(da), _sweep_facts(db)
    spec = [{"field": k, "a": fa[k], "b": fb[k]} for k in fa if fa[k] != fb[k] and k != "flags"]
    for flag in dict.fromkeys([*fa["flags"], *fb["flags"]]):  # one row per flag given
        va, vb = fa["flags"].get(flag), fb["flags"].get(flag)
        if va != vb:
            spec.append({"field": flag, "a": va, "b": vb})
    (oa, sa), (ob, sb) = (_outcomes(d) for d in progress.each((da, db), "read both sweeps"))
    ga, gb = _counts(oa), _counts(ob)
    groups = []
    for g in list(dict.fromkeys([*ga, *gb])):
        row: dict[str, Any] = {"group": g}
        for side, counts in (("a", ga), ("b", gb)):
            k, n = counts.get(g, (0, None))
            row[side] = None if n is None else {"converged": k, "n": n,
                                                "success_rate": k / n if n else None}
        if row["a"] and row["b"]:
            ka, na = row["a"]["converged"], row["a"]["n"]
            kb, nb = row["b"]["converged"], row["b"]["n"]
            row["delta"] = kb / nb - ka / na if na and nb else None
            row["p_value"] = fisher_exact(ka, na, kb, nb)
            pair = paired(ob[g], oa[g])  # B against A on the seeds both ran
            row["paired"] = pair if pair["n"] else None
            curve = tolerance.success_by_tolerance(sb[g], sa[g], tolerance.tolerances(
                _tolerance(sb[g])))
            row["success_by_tolerance"] = curve if pair["n"] else None
            row["tolerance_robustness"] = (tolerance.robustness(curve, _tolerance(sb[g]))
                                           if pair["n"] else None)
        else:
            row["delta"] = row["p_value"] = row["paired"] = None
            row["success_by_tolerance"] = row["tolerance_robustness"] = None
        groups.append(row)
    fisher = inference.holm([r["p_value"] for r in groups])
    mcnemar = inference.holm([r["paired"]["mcnemar_p"] if r["paired"] else None for r in groups])
    for r, pf, pm in zip(groups, fisher, mcnemar):
        r["p_value_holm"], r["mcnemar_p_holm"] = pf, pm
    totals = {side: {"converged": sum(k for k, _ in c.values()), "n": sum(n for _, n in c.values())}
              for side, c in (("a", ga), ("b", gb))}
    return {"spec": spec, "groups": groups, "totals": totals}


def _sweep_facts(sweep_dir: SweepDir) -> dict[str, Any]:
    """What a sweep was asked to run, in words that can be compared field by field."""
    from ..sweep.ranges import format_seeds

    index = sweep_dir.index
    sweep = index.sweep
    for e in index.entries:  # read raw: a crafted field is one line, not a traceback
        if not all(type(e.spec.get(k, 0)) is int for k in ("seed", "steps")):
            raise UsageError(f"{sweep_dir.index_file} is corrupt (member "
                             f"{short(e.id, 60)}: seed and steps must be integers)")
    seeds = sorted({int(e.spec.get("seed", 0)) for e in index.entries})
    steps = sorted({int(e.spec.get("steps", 0)) for e in index.entries})
    return {
        "groups": list(dict.fromkeys(e.group for e in index.entries)),
        "seeds": format_seeds(seeds),
        "steps": steps[0] if len(steps) == 1 else steps,
        "grid": sweep.get("grid", {}),
        "flags": {flag_name(k): v for k, v in (sweep.get("overrides") or {}).items()},
        "config": sweep.get("config"),
        "study": sweep.get("study"),
        "reference": sweep.get("reference"),
        "members": len(index.entries),
    }


def _outcomes(sweep_dir: SweepDir) -> tuple[dict[str, dict[int, bool]],
                                            dict[str, list[tuple[str, dict]]]]:
    """Group -> {seed: converged} over the finished members (from their own summaries), and
    group -> [(id, summary)] of those members (seed set from the index)."""
    out: dict[str, dict[int, bool]] = {}
    items: dict[str, list[tuple[str, dict]]] = {}
    index = sweep_dir.index
    found = sweep_dir.members.summaries([e.id for e in index.entries])
    for e, s in zip(index.entries, found):
        seeds = out.setdefault(e.group, {})
        mine = items.setdefault(e.group, [])
        if s is not None:
            seed = int(e.spec.get("seed", 0))
            seeds[seed] = catalog.run_class(s) == "converged"
            mine.append((e.id, {**s, "seed": seed}))
    return out, items


def _tolerance(items: list[tuple[str, dict]]) -> float | None:
    """The members' own tolerance (the first member's)."""
    return next((float(s["tolerance"]) for _, s in items if s.get("tolerance") is not None),
                None)


def _counts(outcomes: dict[str, dict[int, bool]]) -> dict[str, tuple[int, int]]:
    """Group -> (converged, finished members)."""
    return {g: (sum(seeds.values()), len(seeds)) for g, seeds in outcomes.items()}
