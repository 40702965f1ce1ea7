"""The fused kernel alone on one thread: nanoseconds per run-step and run-steps per CPU-second.

Run by hand (compare two checkouts by running it in each, alternately)::

    python benchmarks/bench_kernel.py                  # 256 fixed runs x 1,000 steps
    python benchmarks/bench_kernel.py --runs 64 --steps 2000 --preset baseline

Measured with the calling thread's CPU time (``time.thread_time``), best of ``--repeats``
calls of ``FusedTrainer.advance`` on the serial kernel, so a shared machine's other work
does not count; the figure is the step's arithmetic only (no set-up, no files). The
checksum of the final states tells two builds that should give the same bits apart.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000, help="steps per timed call")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--preset", default="fixed")
    args = ap.parse_args()
    os.environ["POINTGAN_FUSED_THREADS"] = "1"
    from pointgan_cli.engine.fused.trainer import FusedTrainer
    from pointgan_cli.spec import resolve_spec

    specs = [resolve_spec(args.preset, overrides={"seed": s, "batch_size": 64,
                                                  "inner_batch": 8, "steps": 1_000_000})
             for s in range(args.runs)]
    tr = FusedTrainer(specs)
    tr.advance(10)  # loads the kernel
    best = float("inf")
    for _ in range(args.repeats):
        c = time.thread_time()
        tr.advance(tr.step + args.steps)
        best = min(best, (time.thread_time() - c) / (args.runs * args.steps))
    digest = hashlib.sha1(tr.S.tobytes()).hexdigest()[:12]
    print(f"{args.preset}, {args.runs} runs: {best * 1e9:,.0f} ns per run-step "
          f"({1 / best:,.0f} run-steps per CPU-second; best of {args.repeats} x "
          f"{args.steps} steps, one thread); states {digest}")


if __name__ == "__main__":
    main()
