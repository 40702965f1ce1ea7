"""Do the fused and the torch engine reach the same verdicts? One sweep on each, compared.

Run by hand::

    python benchmarks/engine_agreement.py --preset fixed --seeds 0-1023
    python benchmarks/engine_agreement.py --study article --seeds 0-31

Both sweeps run as a user runs them (``pointgan sweep ... --engine fused|torch``) into a
temporary directory (``--keep DIR`` keeps them). For every member it compares the two verdicts;
for every group, the paired exact McNemar test across engines (the same seeds) and the
two-sample Kolmogorov-Smirnov test of the final w and of the final b. The members whose verdict
flips are listed with how close their success window came to the tolerance. Targets: >= 99%
verdict agreement on 1,024 ``fixed`` members; every group of ``--study article`` McNemar
p > 0.05 and KS p > 0.05 on w and b.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep.stats import mcnemar_exact

ROOT = Path(__file__).resolve().parents[1]


def sweep(out: Path, engine: str, args: list[str]) -> float:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "pointgan_cli", "sweep", *args, "--engine", engine,
           "--out", str(out), "--quiet", "--force"]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, default=None)
    args, sweep_args = ap.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        out = {e: base / f"sw-{e}" for e in ("fused", "torch")}
        for engine, where in out.items():
            wall = sweep(where, engine, sweep_args)
            print(f"--engine {engine}: {wall:.1f} s", flush=True)
        index = SweepDir(out["fused"]).index
        ids = [e.id for e in index.entries]
        groups = {e.id: e.group for e in index.entries}
        sums = {e: dict(zip(ids, SweepDir(w).members.summaries(ids))) for e, w in out.items()}
        report(ids, groups, sums["fused"], sums["torch"])


def report(ids, groups, fused, torch_) -> None:
    same = [mid for mid in ids if fused[mid]["converged"] == torch_[mid]["converged"]]
    n = len(ids)
    print(f"{n} members: same verdict {len(same)}/{n} ({len(same) / n:.2%}); converged "
          f"{sum(fused[m]['converged'] for m in ids)} fused vs "
          f"{sum(torch_[m]['converged'] for m in ids)} torch")
    flips = [m for m in ids if m not in set(same)]
    for m in flips[:30]:
        f, t = fused[m], torch_[m]
        print(f"  flip {m}: fused {f['class']} (window max distance "
              f"{f.get('window_max_distance', float('nan')):.4g}), torch {t['class']} "
              f"({t.get('window_max_distance', float('nan')):.4g}); tolerance {f['tolerance']}")
    by_group: dict[str, list[str]] = {}
    for m in ids:
        by_group.setdefault(groups[m], []).append(m)
    worst_mc, worst_ks = 1.0, 1.0
    print(f"{'group':40} {'conv fused':>10} {'conv torch':>10} {'McNemar p':>10} "
          f"{'KS p (w)':>9} {'KS p (b)':>9}")
    for g, ms in by_group.items():
        b = sum(fused[m]["converged"] and not torch_[m]["converged"] for m in ms)
        c = sum(torch_[m]["converged"] and not fused[m]["converged"] for m in ms)
        p = mcnemar_exact(b, c)
        kw = ks_2samp([fused[m]["w"] for m in ms], [torch_[m]["w"] for m in ms]).pvalue
        kb = ks_2samp([fused[m]["b"] for m in ms], [torch_[m]["b"] for m in ms]).pvalue
        worst_mc, worst_ks = min(worst_mc, p), min(worst_ks, kw, kb)
        print(f"{g[:40]:40} {sum(fused[m]['converged'] for m in ms):10d} "
              f"{sum(torch_[m]['converged'] for m in ms):10d} {p:10.3g} {kw:9.3g} {kb:9.3g}")
    dw = np.array([abs(fused[m]["w"] - torch_[m]["w"]) for m in ids])
    print(f"groups {len(by_group)}: smallest McNemar p {worst_mc:.3g}, smallest KS p "
          f"{worst_ks:.3g}; |final w fused - torch|: median {np.median(dw):.3g}, "
          f"max {dw.max():.3g}")


if __name__ == "__main__":
    main()
