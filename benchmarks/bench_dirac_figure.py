"""Benchmark the Dirac study's grid figure (``dirac-grid.png``) against matplotlib's
``streamplot`` pipeline.

Both draw the same panels of the same sweep (``pointgan sweep --study dirac``, 20 groups) at
the same size and dpi, in one process:

* pointgan: ``sweep.dirac_summaries.grid_png`` (streamlines of all seeds integrated at once,
  ``render/streamlines.py``; fixed layout; labels on the outer panels; 8-bit palette PNG);
* baseline: every panel's field drawn with ``ax.streamplot`` (density 0.9, one arrow patch per
  line), every panel labelled, ``tight_layout``, an RGBA PNG from ``savefig`` -- what the
  figure did before.

The first call of each is left out of the timing (it imports torch's compiler stack once, on
the consensus panels' second derivatives). CPU seconds of this process are reported.

Run:  python benchmarks/bench_dirac_figure.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pointgan_cli.render import phase  # noqa: E402
from pointgan_cli.spec import RunSpec  # noqa: E402
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep import dirac_summaries  # noqa: E402


def make_sweep(out: Path) -> None:
    from typer.testing import CliRunner

    from pointgan_cli.cli.app import app

    res = CliRunner().invoke(app, ["sweep", "--study", "dirac", "--seeds", "0-1", "--steps",
                                   "100", "--workers", "1", "--out", str(out), "-q"])
    if res.exit_code != 0:
        raise SystemExit(res.output)


def baseline_png(panels: list[dict], ncols: int, title: str) -> bytes:
    """The figure as it was drawn with ``streamplot``."""
    n = len(panels)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.9 * ncols, 3.1 * nrows + 0.5), dpi=100)
    for i, p in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        th, ps, u, v = phase.field_on_grid(p["spec"])
        ax.streamplot(th, ps, u, v, color=phase.FIELD_COLOR, density=0.9, linewidth=0.6,
                      arrowsize=0.7, broken_streamlines=True, zorder=1)
        ax.plot([0.0], [0.0], marker="*", color="black", markersize=11, zorder=5, ls="none")
        ax.plot(p["theta"], p["psi"], color=phase.G_COLOR, lw=1.1, zorder=3)
        ax.plot(p["theta"][:1], p["psi"][:1], marker="^", color=phase.START_COLOR, ms=7,
                ls="none", zorder=6)
        ax.set_xlim(-phase.LIM, phase.LIM)
        ax.set_ylim(-phase.LIM, phase.LIM)
        ax.set_aspect("equal")
        ax.set_xlabel(r"$\theta$ (generator)", fontsize=7)
        ax.set_ylabel(r"$\psi$ (discriminator)", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(p["title"], fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (3.1 * nrows + 0.5)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def panels_of(sweep: SweepDir, summary: dict, specs: dict[str, RunSpec]) -> list[dict]:
    out = []
    for g in summary["groups"]:
        mid = g["members"][0]
        rows = sweep.members.metrics(mid)
        out.append({"spec": specs[mid], "theta": np.array([r["theta"] for r in rows]),
                    "psi": np.array([r["psi"] for r in rows]), "title": g["group"]})
    return out


def timed(fn, repeat: int) -> tuple[float, bytes]:
    data = fn()  # warm-up: one-off imports
    t = time.process_time()
    for _ in range(repeat):
        data = fn()
    return (time.process_time() - t) / repeat, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write both PNGs into this folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "d"
        make_sweep(sweep)
        opened = SweepDir(sweep)
        specs = {e.id: RunSpec.model_validate(e.spec) for e in opened.entries}
        summary = opened.summary()
        ours, png = timed(lambda: dirac_summaries.grid_png(opened, summary, specs), args.repeat)
        panels = panels_of(opened, summary, specs)
        ncols = 4 if len(panels) > 9 else min(3, len(panels))
        base, base_png = timed(lambda: baseline_png(panels, ncols, "Dirac-GAN"), args.repeat)
    print(f"panels: {len(panels)}  (CPU seconds per figure, mean of {args.repeat})")
    print(f"pointgan grid_png : {ours:6.2f} s  {len(png) / 1e3:7.0f} KB")
    print(f"streamplot figure : {base:6.2f} s  {len(base_png) / 1e3:7.0f} KB")
    print(f"speed-up          : {base / ours:6.1f}x")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / "pointgan.png").write_bytes(png)
        (args.keep / "streamplot.png").write_bytes(base_png)


if __name__ == "__main__":
    main()
