"""Seconds from launch to exit of the ``pointgan`` process for the commands a user types most
often without training anything: ``--version``, ``--help``, ``train --help`` and one TAB
completion (``train --preset <TAB>``, through the shell-completion protocol).

Run by hand: ``python benchmarks/bench_startup.py [--runs N] [--exe PATH]``. Each command runs N
times (default 9) as a whole new process, the way a shell starts it; the median and the range
are printed, with the machine's load average (start-up time is mostly import time, which a busy
machine stretches). ``--exe`` picks the console script (default: ``pointgan`` on PATH, else
``python -m pointgan_cli``). Target: each median at most 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("--version", ["--version"], {}),
    ("--help", ["--help"], {}),
    ("train --help", ["train", "--help"], {}),
    ("TAB: train --preset <TAB>", [], {"_POINTGAN_COMPLETE": "complete_bash",
                                        "COMP_WORDS": "pointgan train --preset ",
                                        "COMP_CWORD": "3"}),
]


def time_once(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    res = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, timeout=120)
    took = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="processes per command (median of them)")
    ap.add_argument("--exe", default=None, help="console script to time")
    args = ap.parse_args()
    exe = [args.exe] if args.exe else (
        [shutil.which("pointgan")] if shutil.which("pointgan") else
        [sys.executable, "-m", "pointgan_cli"])
    base = dict(os.environ, COLUMNS="100")
    print(f"{' '.join(exe)}; {args.runs} runs each; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    time_once(exe + ["--version"], base)  # warm the file cache once
    worst = 0.0
    for name, argv, extra in COMMANDS:
        times = [time_once(exe + argv, dict(base, **extra)) for _ in range(args.runs)]
        med = statistics.median(times)
        worst = max(worst, med)
        print(f"{name:28s} median {med:.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"slowest median {worst:.3f} s: {'within' if worst <= TARGET_S else 'OVER'} the "
          f"{TARGET_S} s target")


if __name__ == "__main__":
    main()
