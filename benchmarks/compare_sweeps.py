"""Do two sweeps of the same members agree? (For example one trained on a CPU, one on CUDA.)

Run by hand::

    python benchmarks/compare_sweeps.py SWEEP_A SWEEP_B [--checkpoints 1024]

For the members the two sweeps share it prints the largest difference of the final generator
(w, b) over all of them, of the final discriminator over the first ``--checkpoints`` of them
(read from their checkpoints), how many members end within ``--tol`` (all 9 parameters, for
the members whose checkpoints were read; w and b for all), the differences' quantiles, and
how many members got the same ``converged`` verdict and the same class. Exit 1 if the sweeps
share no member.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pointgan_cli.store.sweepdir import SweepDir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--checkpoints", type=int, default=1024,
                    help="members whose discriminators are compared")
    ap.add_argument("--tol", type=float, default=1e-5,
                    help="agreement tolerance on final parameters")
    args = ap.parse_args()
    da, db_ = SweepDir(args.a), SweepDir(args.b)
    ids = sorted(set(da.ids) & set(db_.ids))
    if not ids:
        sys.exit("the two sweeps share no member")
    sa, sb = da.members.summaries(ids), db_.members.summaries(ids)
    dwb = np.array([[abs(x["w"] - y["w"]), abs(x["b"] - y["b"])] for x, y in zip(sa, sb)])
    gdiff = dwb.max(axis=1)  # per member: the larger of |dw| and |db|
    dw, db = dwb.max(axis=0)
    same_verdict = sum(x["converged"] == y["converged"] for x, y in zip(sa, sb))
    same_class = sum(x["class"] == y["class"] for x, y in zip(sa, sb))
    dd = 0.0
    alldiff = []
    for k, mid in enumerate(ids[: args.checkpoints]):
        ca = da.members.checkpoint(mid)
        cb = db_.members.checkpoint(mid)
        d = float(np.abs(np.asarray(ca["discriminator"]) - np.asarray(cb["discriminator"])).max())
        dd = max(dd, d)
        alldiff.append(max(d, float(gdiff[k])))
    conv_a, conv_b = sum(x["converged"] for x in sa), sum(x["converged"] for x in sb)
    n = len(ids)
    print(f"{n} members in both sweeps; converged {conv_a} vs {conv_b}")
    print(f"  max |dw| {dw:.3g}, max |db| {db:.3g} (all members); max |dD| {dd:.3g} "
          f"(first {min(n, args.checkpoints)})")
    q = np.quantile(gdiff, [0.5, 0.9, 0.99])
    print(f"  max(|dw|, |db|) per member: median {q[0]:.3g}, 90% {q[1]:.3g}, 99% {q[2]:.3g}; "
          f"within {args.tol:g}: {(gdiff <= args.tol).sum()}/{n} "
          f"({(gdiff <= args.tol).mean():.2%})")
    if alldiff:
        a = np.array(alldiff)
        print(f"  all 9 parameters within {args.tol:g}: {(a <= args.tol).sum()}/{len(a)} "
              f"({(a <= args.tol).mean():.2%}) of the first {len(a)}")
    print(f"  same converged verdict: {same_verdict}/{n} ({same_verdict / n:.4%}); "
          f"same class: {same_class}/{n} ({same_class / n:.4%})")
    differ = [mid for mid, x, y in zip(ids, sa, sb) if x["converged"] != y["converged"]]
    if differ:
        print(f"  verdicts differ for: {', '.join(differ[:20])}")


if __name__ == "__main__":
    main()
