"""The CUDA engine by batch size: where a step's time goes on a GPU.

Run by hand on a machine with CUDA::

    python benchmarks/bench_cuda.py                        # R = 1, 1024, 16384, 131072
    python benchmarks/bench_cuda.py --runs 131072,262144 --profile

For each R (``fixed`` runs, batch 64, inner batch 8) it reports, timed between two
synchronisations after a warm-up that captures the step:

- a whole step as ``train_step`` runs it (the captured graph's replay, plus the 1/64 share of
  hashing the next chunk of randomness), in run-steps/s;
- the graph's replay alone and one chunk of randomness alone, so the two costs can be told apart;
- the uncaptured ``tensor`` step (same kernels, launched one by one) for R <= 16384, to show what
  the capture saves;
- peak GPU memory per run (state, chunk buffers and the graph's private pool).

``--profile`` lists the kernels of one uncaptured step at the largest R by GPU time: the step is
memory-bound, so the list says which passes over the (R, N) rows cost most.
"""

from __future__ import annotations

import argparse
import time

import torch

from pointgan_cli.engine.layout import CHUNK
from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec


def _specs(runs: int, steps: int = 100_000):
    return [resolve_spec("fixed", overrides={"seed": s, "batch_size": 64, "inner_batch": 8,
                                             "steps": steps, "device": "cuda"})
            for s in range(runs)]


def _seconds(fn, n: int) -> float:
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / n


def measure(runs: int, mode: str | None, steps: int) -> dict:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.inference_mode():
        tr = BatchTrainer(_specs(runs), step_mode=mode)
        for _ in range(CHUNK + 6):  # capture, and cross one chunk boundary
            tr.train_step()
        step = _seconds(tr.train_step, steps)
        out = {"R": runs, "mode": tr.step_mode, "step": step, "rate": runs / step,
               "graph_error": tr.graph_error}
        if tr.capture is not None and tr.capture.graph is not None:
            out["replay"] = _seconds(tr.capture.graph.replay, max(10, steps // 4))
        out["chunk"] = _seconds(lambda: tr.randomness.load_chunk(tr.step), 3)
    out["bytes_per_run"] = (torch.cuda.max_memory_allocated() - base) / runs
    return out


def profile(runs: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    with torch.inference_mode():
        tr = BatchTrainer(_specs(runs), step_mode="tensor")
        for _ in range(CHUNK + 2):
            tr.train_step()
        torch.cuda.synchronize()
        with prof(activities=[ProfilerActivity.CUDA]) as p:
            for _ in range(3):
                tr.train_step()
            torch.cuda.synchronize()
    print(f"kernels of 3 uncaptured steps at R={runs:,} (by GPU time):")
    print(p.key_averages().table(sort_by="device_time_total", row_limit=25,
                                 max_name_column_width=60))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="1,1024,16384,131072")
    ap.add_argument("--steps", type=int, default=256, help="steps timed per R")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_cuda.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    print(f"torch {torch.__version__}; {torch.cuda.get_device_name()}; fixed, batch 64, "
          f"inner batch 8", flush=True)
    sizes = [int(r) for r in args.runs.split(",")]
    rows = []
    for runs in sizes:
        rows.append(measure(runs, None, args.steps if runs > 1 else 4 * args.steps))
        if 1 < runs <= 16384:
            rows.append(measure(runs, "tensor", args.steps))
        for r in rows[-2:] if 1 < runs <= 16384 else rows[-1:]:
            extra = (f", replay {r['replay'] * 1e6:8.0f} us" if "replay" in r else "")
            print(f"R={r['R']:>7,} {r['mode']:6}: step {r['step'] * 1e6:8.0f} us "
                  f"({r['rate']:13,.0f} run-steps/s){extra}, chunk of {CHUNK} steps "
                  f"{r['chunk'] * 1e3:7.2f} ms, peak {r['bytes_per_run'] / 1024:6.1f} KB/run"
                  + (f"; capture failed: {r['graph_error'][:200]}" if r["graph_error"] else ""),
                  flush=True)
    if args.profile:
        profile(max(sizes))


if __name__ == "__main__":
    main()
