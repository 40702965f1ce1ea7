"""What a sweep costs besides the arithmetic: the host's share, which bounds a GPU sweep.

Run by hand::

    python benchmarks/bench_sweep_host.py                   # 16,384 members x 1,500 steps
    python benchmarks/bench_sweep_host.py --members 4096 --profile

A GPU trains a 16,384-member batch in about 1.5 s; everything else in ``pointgan sweep`` (imports,
planning, snapshots, checkpoints, the members' summaries and verdicts, packing the batch files,
the report and charts) runs on one CPU core of the same process. This runs that whole sweep in
one process on the CPU with the engine's step replaced by a random walk of the parameters (so
the stored floats compress like trained ones), everything else real: the time it takes is
what a GPU sweep of that size cannot go below on this CPU. ``--profile`` adds cProfile's
top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=16384)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    import torch

    from pointgan_cli.cli.app import main as cli_main
    from pointgan_cli.engine.trainer import BatchTrainer
    from pointgan_cli.sweep import executors
    from pointgan_cli.sweep import run as sweep_run

    def random_walk_step(self: BatchTrainer) -> None:
        self.g.add_(torch.randn_like(self.g), alpha=1e-3)
        self.d.add_(torch.randn_like(self.d), alpha=1e-3)
        self.step += 1

    def in_process(jobs, workers, on_progress) -> None:  # as one GPU worker runs them
        for i, job in enumerate(jobs):
            executors._run_job(job, i)

    BatchTrainer.train_step = random_walk_step
    sweep_run.run_local = in_process
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = Path(tmp) / "sw"
        sys.argv = ["pointgan", "sweep", "--preset", "fixed", "--seeds", f"0-{args.members - 1}",
                    "--steps", str(args.steps), "--batch-size", "64", "--inner-batch", "8",
                    "--max-batch", str(args.members), "--workers", "1", "--out", str(out),
                    "--quiet"]
        prof = cProfile.Profile() if args.profile else None
        t = time.perf_counter()
        if prof is not None:
            prof.enable()
        try:
            cli_main()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
        if prof is not None:
            prof.disable()
        wall = time.perf_counter() - t
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    imports = t - T0
    print(f"{args.members} members x {args.steps} steps, engine step mocked: sweep {wall:.2f} s "
          f"after {imports:.2f} s of imports ({(wall + imports) / args.members * 1e6:.0f} us "
          f"per member in all); {size / args.members:,.0f} B per member")
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
