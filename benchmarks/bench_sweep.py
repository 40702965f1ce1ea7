"""Run-steps per second: 256 `fixed` members as one batched program vs the naive per-run loop.

Run by hand: ``python benchmarks/bench_sweep.py [--runs 256] [--steps N]``. Measured in this
process: the naive nn.Module loop (one run at a time, so its run-steps/s is 1e6 / µs-per-step)
and the engine with R runs in one batch on one thread, then the same R split over two worker
processes (both cores), as ``pointgan sweep`` does. Batch 64, inner batch 8.
Targets: >= 100x the naive loop and >= 250,000 run-steps/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from naive import naive_us_per_step

from pointgan_cli.engine import BatchTrainer
from pointgan_cli.spec import resolve_spec


def _specs(runs: int, offset: int = 0):
    return [resolve_spec("fixed", overrides={"seed": offset + s, "batch_size": 64,
                                             "inner_batch": 8, "steps": 10**6})
            for s in range(runs)]


def engine_seconds(runs: int, steps: int, offset: int = 0) -> float:
    torch.set_num_threads(1)
    with torch.inference_mode():
        tr = BatchTrainer(_specs(runs, offset))
        for _ in range(10):
            tr.train_step()
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    naive = 1e6 / naive_us_per_step(_specs(1)[0], 300)
    one = args.runs * args.steps / engine_seconds(args.runs, args.steps)
    half = args.runs // 2
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(engine_seconds, [1, 1], [1, 1]))  # start both workers first
        # Both halves train at the same time; each times its own steps (set-up excluded, as
        # above), and the slower of the two sets the throughput.
        secs = list(pool.map(engine_seconds, [half, args.runs - half], [args.steps] * 2,
                             [0, half]))
        two = args.runs * args.steps / max(secs)
    print(f"torch {torch.__version__}; {args.runs} fixed runs, {args.steps} steps, batch 64, "
          "inner batch 8")
    print(f"naive nn.Module loop      : {naive:12,.0f} run-steps/s")
    print(f"engine, 1 process         : {one:12,.0f} run-steps/s  ({one / naive:6.1f}x naive)")
    print(f"engine, 2 processes       : {two:12,.0f} run-steps/s  ({two / naive:6.1f}x naive)")
    print("targets: >= 100x naive and >= 250,000 run-steps/s")


if __name__ == "__main__":
    main()
