"""``benchmarks/bench_sweep.py``'s tally of rounds against a target (the timings themselves
are the benchmark's, never a test's)."""

import sys

from conftest import ROOT, load_script


def _tally():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # the script imports its neighbour naive.py
    try:
        return load_script("bench_sweep").tally
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_the_tally_gives_the_median_the_range_and_the_rounds_at_the_line():
    tally = _tally()
    line = tally("engine", [4.2, 3.9, 4.0, 4.1], 4.0)
    assert line == ("engine over 4 rounds: median 4.05x (from 3.90x to 4.20x); "
                    "3 of 4 rounds at >= 4x")  # 4.0 itself reaches the line
    assert "median 2.60x" in tally("whole", [3.0, 2.4, 2.6], 2.5)
    assert tally("whole", [2.4, 2.49], 2.5).endswith("0 of 2 rounds at >= 2.5x")
