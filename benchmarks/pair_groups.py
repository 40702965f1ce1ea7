"""Paired comparisons between groups of one sweep, seed by seed.

``pointgan sweep`` compares every group with one reference and ``pointgan compare`` compares
sweeps; neither pairs two chosen groups of the same sweep (two cells of a map, the fix against
R1). This prints those comparisons with the project's own statistics, so the docs' cell-by-cell
figures come from a command::

    python benchmarks/pair_groups.py SWEEP "GROUP A" "REFERENCE A" ["GROUP B" "REFERENCE B" ...]

Per pair: converged runs of each, the seeds only the group / only the reference converged, the
exact McNemar p (``sweep.stats.paired``) and its Holm adjustment over the pairs given
(``sweep.inference.holm``), the conclusion at the runs' tolerance and wherever it changes from
0.05 to 0.2 (``sweep.tolerance``), and the exact sign test on the paired times to converge
(``sweep.inference.paired_times``, Holm-adjusted over the pairs too). Group names as the sweep's
summary.json writes them (``pointgan sweep ... --json`` or its table).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep import inference, stats, tolerance

TOLS = (0.05, 0.075, 0.1, 0.125, 0.15, 0.2)


def _p(x: float | None) -> str:
    return "-" if x is None else ("1" if x >= 0.995 else f"{x:.2g}")


def by_seed(sweep: SweepDir, group: str) -> dict[int, dict[str, Any]]:
    """``{seed: member summary}`` of one group of the sweep."""
    ids = [mid for mid, g in sweep.groups.items() if g == group]
    if not ids:
        known = sorted(set(sweep.groups.values()))
        sys.exit(f"no group {group!r} in {sweep.path}; groups: {known}")
    return {int(s["seed"]): s for s in sweep.members.summaries(ids) if s is not None}


def times(cell: dict[int, dict[str, Any]]) -> dict[int, int | None]:
    """Time to converge per seed; None (never, within the budget) for a run that did not."""
    return {k: (v.get("converged_at") if v.get("converged") else None) for k, v in cell.items()}


def compare(a: dict[int, dict[str, Any]], ref: dict[int, dict[str, Any]], own: float
            ) -> dict[str, Any]:
    """One pair: counts, McNemar at the runs' tolerance, conclusions over TOLS, sign test."""
    pair = stats.paired({k: bool(v["converged"]) for k, v in a.items()},
                        {k: bool(v["converged"]) for k, v in ref.items()})
    base = tolerance.conclusion(pair)
    flips = []
    for t in TOLS:
        at = stats.paired(tolerance.outcomes_at(list(a.items()), t),
                          tolerance.outcomes_at(list(ref.items()), t))
        c = tolerance.conclusion(at)
        if c != base and abs(t - own) > 1e-12:
            flips.append(f"{c} at {t:g}")
    return {"a": sum(bool(v["converged"]) for v in a.values()),
            "ref": sum(bool(v["converged"]) for v in ref.values()), "pair": pair,
            "conclusion": base, "flips": flips,
            "sign": inference.paired_times(times(a), times(ref))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("groups", nargs="+", help="GROUP REFERENCE pairs")
    args = ap.parse_args()
    if len(args.groups) % 2:
        sys.exit("give the groups in pairs: GROUP REFERENCE [GROUP REFERENCE ...]")
    sweep = SweepDir.open(args.sweep)
    own = float((sweep.summary().get("criterion") or {}).get("tolerance", 0.1))
    pairs = list(zip(args.groups[::2], args.groups[1::2]))
    rows = [compare(by_seed(sweep, g), by_seed(sweep, r), own) for g, r in pairs]
    holm = inference.holm([r["pair"]["mcnemar_p"] for r in rows])
    holm_t = inference.holm([r["sign"]["p"] for r in rows])
    print("| group | reference | converged (only group / only reference) | McNemar p | Holm p "
          "| over tol 0.05-0.2 | sign test on times (sooner / later) | Holm p |")
    print("|---|---|---|---|---|---|---|---|")
    for (g, r), row, h, ht in zip(pairs, rows, holm, holm_t):
        pr, sg = row["pair"], row["sign"]
        over = (f"{row['conclusion']} at every tolerance" if not row["flips"] else
                f"{row['conclusion']} at {own:g}; " + ", ".join(row["flips"]))
        print(f"| {g} | {r} | {row['a']} vs {row['ref']} ({pr['only_group']} / "
              f"{pr['only_reference']}) | {_p(pr['mcnemar_p'])} | {_p(h)} | {over} | "
              f"{_p(sg['p'])} ({sg['group_sooner']} / {sg['reference_sooner']}) | {_p(ht)} |")


if __name__ == "__main__":
    main()
