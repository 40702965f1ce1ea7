"""One run (R = 1): µs per training step of the fused kernel, the torch engine and the naive
nn.Module loop, and the whole ``pointgan train`` command on both engines.

Run by hand: ``python benchmarks/bench_train.py [--steps N]``. The step figures are measured in
this process on one thread, for the study's `baseline` and `fixed` (batch 64, inner batch 8);
the whole command (no flags but ``--out``, 6,000 steps) as a user runs it, warm kernel cache.
Targets: the torch engine at most 250 µs per step for `fixed`; ``pointgan train`` with no flags
<= 1.0 s with the fused engine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_sweep import precompile
from naive import naive_us_per_step

from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec

ROOT = Path(__file__).resolve().parents[1]


def engine_us_per_step(spec, steps: int) -> float:
    with torch.inference_mode():
        tr = BatchTrainer([spec])
        for _ in range(20):
            tr.train_step()
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        return (time.perf_counter() - t) / steps * 1e6


def fused_us_per_step(spec, steps: int) -> float:
    os.environ["POINTGAN_FUSED_THREADS"] = "1"
    from pointgan_cli.engine.fused.trainer import FusedTrainer

    tr = FusedTrainer([spec])
    tr.advance(20)
    t = time.perf_counter()
    tr.advance(20 + steps)
    return (time.perf_counter() - t) / steps * 1e6


def whole_train(engine: str) -> float:
    """Wall seconds of ``pointgan train --engine ENGINE --out TMP --quiet`` (one warm-up run
    first, so the kernel cache is warm)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg")
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(3):
            cmd = [sys.executable, "-m", "pointgan_cli", "train", "--engine", engine,
                   "--out", str(Path(tmp) / f"r{k}"), "--quiet"]
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            if k:
                best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    precompile()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.steps} steps, batch 64, inner batch 8; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'preset':10} {'naive µs/step':>14} {'torch µs/step':>14} {'fused µs/step':>14} "
          f"{'fused/torch':>12}")
    for preset in ("baseline", "fixed"):
        spec = resolve_spec(preset, overrides={"batch_size": 64, "inner_batch": 8,
                                               "steps": 10**6})
        naive = naive_us_per_step(spec, args.steps)
        eng = engine_us_per_step(spec, args.steps)
        fused = fused_us_per_step(spec, args.steps)
        print(f"{preset:10} {naive:14.1f} {eng:14.1f} {fused:14.1f} {eng / fused:11.1f}x")
    for engine in ("fused", "torch"):
        print(f"whole `pointgan train --engine {engine}` (6,000 steps, best of 2): "
              f"{whole_train(engine):.2f} s", flush=True)
    print("targets: torch engine <= 250 µs/step for fixed; pointgan train (fused) <= 1.0 s")


if __name__ == "__main__":
    main()
