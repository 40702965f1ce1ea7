"""How many of the fused kernel's normals differ from libm's: the vectorised Box-Muller
(``hashrng.normal_pairs``, ``libm64``'s log and sin/cos) against ``hashrng.normal_pair``
(libm's ``log1p``, ``cos``, ``sin``), both rounded to float32, over one noise stream.

Run by hand::

    python benchmarks/normals_agree.py                 # 2^28 normals (16 pairs x 2^23 steps)
    python benchmarks/normals_agree.py --log2-steps 20 --seed 7

The float64 values differ by one ulp in a few percent of inputs (``tests/test_fused_libm64.py``);
a float32 normal differs only where that ulp straddles a float32 rounding boundary.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from pointgan_cli.engine.fused import hashrng as h


@njit(error_model="numpy")
def _mismatches(seed, first, steps):
    U0, U1, Z = np.empty(16), np.empty(16), np.empty(32, np.float32)
    bad = 0
    key = h.stream_key(seed, 3)
    for t in range(first, first + steps):
        sk = h.step_key(key, t)
        h.normal_pairs(sk, U0, U1, Z)
        for p in range(16):
            a, b = h.normal_pair(sk, p)
            bad += (Z[2 * p] != a) + (Z[2 * p + 1] != b)
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2-steps", type=int, default=23)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    steps = 1 << args.log2_steps
    t = time.perf_counter()
    bad = _mismatches(args.seed, 0, steps)
    print(f"seed {args.seed}: {bad:,} of {steps * 32:,} float32 normals differ from libm's "
          f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
