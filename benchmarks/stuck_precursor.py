"""Do `stuck` runs that escape by twice the budget announce it in their discriminator?

Run by hand on a sweep made with ``--check-classes``::

    python benchmarks/stuck_precursor.py SWEEP [--horizon 0.6]

A `stuck` generator does not move, but its discriminator does; in the runs that escaped, one
of D's two output weights (``d_W2_0``, ``d_W2_1`` in the metrics) changed sign just before the
generator fell onto the target. For every member `stuck` at its budget T this marks the runs
where, at the weight's rate over the success window, an output weight reaches zero within
``horizon x T`` more steps (0.6: the horizon of `still_approaching`), and counts, marked and
unmarked, how many converged and how many left the stall (any class but `stuck`) at 2T, read
from SWEEP/check-classes.json. docs/diagnose.md quotes these counts; the verdict does not use
the rule (it reads only w and b, and marked runs leave the stall too rarely to make a class).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from pointgan_cli.store.sweepdir import SweepDir


def steps_to_zero(rows: list[dict[str, Any]], start: int) -> float:
    """Steps until the output weight nearest to zero reaches it at its rate over the rows from
    ``start`` on: 0 if one changed sign there, inf if none is heading for zero."""
    win = [r for r in rows if r["step"] >= start]
    first, last = win[0], win[-1]
    span = last["step"] - first["step"]
    best = math.inf
    for k in ("d_W2_0", "d_W2_1"):
        a, b = float(first[k]), float(last[k])
        if a * b <= 0:
            return 0.0
        if abs(b) < abs(a) and span > 0:
            best = min(best, abs(b) / ((abs(a) - abs(b)) / span))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("--horizon", type=float, default=0.6, help="in run lengths T")
    args = ap.parse_args()
    path = Path(args.sweep)
    check = path / "check-classes.json"
    if not check.is_file():
        sys.exit(f"{check}: no class check here (run the sweep with --check-classes)")
    doc = json.loads(check.read_text(encoding="utf-8"))
    sweep = SweepDir.open(path)
    counts = {True: [0, 0, 0], False: [0, 0, 0]}  # marked -> [n, converged at 2T, left stall]
    for m in doc["members"]:
        if m["class"] != "stuck":
            continue
        summary = sweep.members.summary(m["id"]) or {}
        ev = summary.get("verdict") or {}
        T, start = int(ev["end_step"]), int(ev["start_step"])
        eta = steps_to_zero(sweep.members.metrics(m["id"], losses=False), start)
        marked = eta <= args.horizon * T
        c = counts[marked]
        c[0] += 1
        c[1] += m["class_2x"] == "converged"
        c[2] += m["class_2x"] != "stuck"
        print(f"{m['id']}\tstuck -> {m['class_2x']}\tweight at zero in {eta:.0f} steps"
              f"\t{'marked' if marked else ''}")
    for marked in (True, False):
        n, conv, left = counts[marked]
        print(f"{'marked' if marked else 'unmarked'}: {n} stuck at T, {conv} converged at 2T, "
              f"{left} left the stall", file=sys.stderr)


if __name__ == "__main__":
    main()
