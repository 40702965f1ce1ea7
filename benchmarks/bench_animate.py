"""Benchmark ``pointgan animate`` against the textbook matplotlib pipeline.

Both render the same frames of the same run at the same size, from the same artists
(``render.Renderer``), in one process:

* pointgan: background drawn once, only the animated artists redrawn per frame (blitting), each
  frame quantized to one fixed palette and streamed into the GIF file as it is drawn;
* baseline: ``matplotlib.animation.FuncAnimation`` (full redraw per frame) saved with
  ``PillowWriter`` (which keeps every frame and quantizes them all when the file is closed).

Run:  python benchmarks/bench_animate.py [--frames 300] [--dpi 100] [--keep DIR]
Prints both timings and their ratio (target: pointgan at least 3x faster).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import imageio.v3 as iio  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from pointgan_cli import render  # noqa: E402
from pointgan_cli.naming import rerun_command  # noqa: E402
from pointgan_cli.render import data as render_data  # noqa: E402
from pointgan_cli.spec import resolve_spec  # noqa: E402
from pointgan_cli.training.train import Member, train_batch  # noqa: E402


def make_run(path: Path, snapshots: int) -> None:
    """A baseline run with ``snapshots`` metrics rows (every 10 steps)."""
    spec = resolve_spec("baseline", overrides={"steps": 10 * (snapshots - 1), "seed": 0,
                                               "snapshot_every": 10})
    train_batch([Member(spec=spec, out=path, command=rerun_command(spec, str(path)))])


def pointgan(run: Path, out: Path, frames: int, dpi: int) -> dict:
    return render.animate(run, out=out, frames=frames, dpi=dpi, fps=20)


def baseline(run: Path, out: Path, frames: int, dpi: int) -> None:
    plan = render_data.plan_for(run, grid=False, members=None, grid_size=4)
    renderer = render.Renderer(plan, dpi, animated=False)  # same artists, drawn in full
    anim = FuncAnimation(renderer.scene.fig, renderer.update, frames=plan.frame_steps(frames),
                         blit=False, repeat=False, cache_frame_data=False)
    anim.save(out, writer=PillowWriter(fps=20), dpi=dpi)


def n_frames(path: Path) -> tuple[int, tuple[int, ...]]:
    shapes = [f.shape for f in iio.imiter(path)]
    return len(shapes), shapes[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--dpi", type=int, default=100)
    ap.add_argument("--keep", type=Path, help="write the run and both GIFs here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        run = root / "run"
        make_run(run, args.frames + 1)  # more snapshots than frames: subsampling is exercised
        render.still(run, 0, out=root / "warmup.png", dpi=args.dpi)  # fonts, caches, imports

        t0 = time.perf_counter()
        info = pointgan(run, root / "pointgan.gif", args.frames, args.dpi)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        baseline(run, root / "baseline.gif", args.frames, args.dpi)
        t_base = time.perf_counter() - t0

        ours_n, ours_shape = n_frames(root / "pointgan.gif")
        base_n, base_shape = n_frames(root / "baseline.gif")
        print(f"frames: {args.frames} at {info['width']}x{info['height']} px (dpi {args.dpi})")
        for name, t, n, shape in (("pointgan animate", t_ours, ours_n, ours_shape),
                                  ("FuncAnimation + PillowWriter", t_base, base_n, base_shape)):
            print(f"{name:<29} {t:7.2f} s  ({1000 * t / args.frames:6.1f} ms/frame)  "
                  f"{n} frames {shape}")
        print(f"speed-up: {t_base / t_ours:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
