"""µs per training step for one run (R = 1): the batched engine vs the naive nn.Module loop.

Run by hand: ``python benchmarks/bench_train.py [--steps N]``. Both are measured in this process
on one thread, for the study's `baseline` and `fixed` (batch 64, inner batch 8).
Target: the engine at most 250 µs per step for `fixed`.
"""

from __future__ import annotations

import argparse
import time

import torch
from naive import naive_us_per_step

from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec


def engine_us_per_step(spec, steps: int) -> float:
    with torch.inference_mode():
        tr = BatchTrainer([spec])
        for _ in range(20):
            tr.train_step()
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        return (time.perf_counter() - t) / steps * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.steps} steps, batch 64, inner batch 8")
    print(f"{'preset':10} {'naive µs/step':>14} {'engine µs/step':>15} {'speed-up':>9}")
    for preset in ("baseline", "fixed"):
        spec = resolve_spec(preset, overrides={"batch_size": 64, "inner_batch": 8,
                                               "steps": 10**6})
        naive = naive_us_per_step(spec, args.steps)
        eng = engine_us_per_step(spec, args.steps)
        print(f"{preset:10} {naive:14.1f} {eng:15.1f} {naive / eng:8.1f}x")
    print("target: engine <= 250 µs/step for fixed")


if __name__ == "__main__":
    main()
