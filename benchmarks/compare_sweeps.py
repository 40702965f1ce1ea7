"""Do two sweeps of the same members agree? (For example one trained on a CPU, one on CUDA.)

Run by hand::

    python benchmarks/compare_sweeps.py SWEEP_A SWEEP_B [--checkpoints 1024]

For the members the two sweeps share it prints the largest difference of the final generator
(w, b) over all of them, of the final discriminator over the first ``--checkpoints`` of them
(read from their checkpoints), and how many members got the same ``converged`` verdict and the
same class. Exit 1 if the sweeps share no member.
"""

from __future__ import annotations

import argparse
import sys

from pointgan_cli import sweepdir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--checkpoints", type=int, default=1024,
                    help="members whose discriminators are compared")
    args = ap.parse_args()
    ids = sorted(set(sweepdir.member_ids(args.a)) & set(sweepdir.member_ids(args.b)))
    if not ids:
        sys.exit("the two sweeps share no member")
    sa, sb = sweepdir.member_summaries(args.a, ids), sweepdir.member_summaries(args.b, ids)
    dw = max(abs(x["w"] - y["w"]) for x, y in zip(sa, sb))
    db = max(abs(x["b"] - y["b"]) for x, y in zip(sa, sb))
    same_verdict = sum(x["converged"] == y["converged"] for x, y in zip(sa, sb))
    same_class = sum(x["class"] == y["class"] for x, y in zip(sa, sb))
    dd = 0.0
    for mid in ids[: args.checkpoints]:
        ca, cb = sweepdir.member_checkpoint(args.a, mid), sweepdir.member_checkpoint(args.b, mid)
        dd = max(dd, float((ca["discriminator"] - cb["discriminator"]).abs().max()))
    conv_a, conv_b = sum(x["converged"] for x in sa), sum(x["converged"] for x in sb)
    n = len(ids)
    print(f"{n} members in both sweeps; converged {conv_a} vs {conv_b}")
    print(f"  max |dw| {dw:.3g}, max |db| {db:.3g} (all members); max |dD| {dd:.3g} "
          f"(first {min(n, args.checkpoints)})")
    print(f"  same converged verdict: {same_verdict}/{n} ({same_verdict / n:.4%}); "
          f"same class: {same_class}/{n} ({same_class / n:.4%})")
    differ = [mid for mid, x, y in zip(ids, sa, sb) if x["converged"] != y["converged"]]
    if differ:
        print(f"  verdicts differ for: {', '.join(differ[:20])}")


if __name__ == "__main__":
    main()
