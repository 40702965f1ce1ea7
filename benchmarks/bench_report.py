"""Benchmark the report's explorer on a real 1,024-member sweep: page size and first view.

Trains ``--preset baseline --preset fixed --seeds 0-511`` (1,024 members) at the default
cadence (``--steps 6000``: a snapshot every 50 steps, 121 per member) unless ``--sweep DIR``
names an existing sweep, writes ``pointgan report``, then opens the page in headless Chromium
(tests/chromium.py) and measures, in the browser: when the first view was painted
(``performance.now()`` after the explorer's first frame), the wall time from navigation to
then, and how long a click on a group and on a seed take to draw.

Run:  python benchmarks/bench_report.py [--sweep DIR] [--keep DIR]
Targets (issue 27): page <= 5 MB, first view < 2 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import chromium  # noqa: E402


def pointgan(*args: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pointgan_cli", *args], check=True)
    return time.monotonic() - start


def measure(page_file: Path) -> dict[str, float]:
    with chromium.Page() as page:
        start = time.monotonic()
        page.goto(chromium.file_url(page_file))
        shown = chromium.explorer_shown(page)
        wall = time.monotonic() - start
        t = time.monotonic()
        page.click("#groups tbody tr td:nth-child(2)")
        group = time.monotonic() - t
        drawn = page.eval("document.getElementById('pg-group').dataset.drawn")
        t = time.monotonic()
        page.click("#pg-seeds tbody tr")
        run = time.monotonic() - t
        errors = page.errors()
    return {"first_view_ms": shown, "navigate_to_first_view_s": wall, "group_click_s": group,
            "seeds_drawn": float(drawn), "seed_click_s": run, "errors": float(len(errors))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", type=Path, help="an existing sweep (else one is trained)")
    ap.add_argument("--keep", type=Path, help="train into this folder and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        sweep = args.sweep or args.keep or Path(tmp) / "sweep"
        if args.sweep is None:
            took = pointgan("sweep", "--preset", "baseline", "--preset", "fixed", "--seeds",
                            "0-511", "--steps", "6000", "--out", str(sweep), "-q")
            print(f"sweep: 1,024 members x 6,000 steps trained in {took:.1f} s")
        took = pointgan("report", str(sweep))
        size = (sweep / "report.html").stat().st_size
        print(f"report: written in {took:.1f} s, {size:,} bytes ({size / 1e6:.2f} MB)")
        for k, v in measure(sweep / "report.html").items():
            print(f"  {k}: {v:g}")


if __name__ == "__main__":
    main()
