"""``pointgan animate``: a run's training as a GIF/MP4 (or one PNG frame), from its snapshots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import render
from . import console
from . import options as o

GRID_PANEL = "Sweep grid"


def animate(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", show_default=False,
                             help="A run directory (train run or sweep member), or with --grid "
                                  "a sweep directory.")
    ],
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", "-f", show_default=False, metavar="<gif|mp4>",
                     help="gif or mp4 [default: from the --out suffix, else gif].",
                     autocompletion=lambda incomplete: o.starting(("gif", "mp4"), incomplete)),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", show_default=False,
                     help="Output file [default: RUN_DIR/animation.<format>, "
                          "or RUN_DIR/frame-<step>.png with --still]."),
    ] = None,
    fps: Annotated[int, typer.Option("--fps", help="Frames per second (1-60).")] = 20,
    frames: Annotated[
        int, typer.Option("--frames", help="Frames to render: snapshots are subsampled evenly, "
                                           "first and last kept (all of them if fewer).")
    ] = 120,
    dpi: Annotated[
        int, typer.Option("--dpi", help="Resolution: 100 gives 720x540 px for one run (20-600).")
    ] = 100,
    still: Annotated[
        Optional[int],
        typer.Option("--still", metavar="STEP", show_default=False,
                     help="Write only the frame at snapshot STEP, as a PNG."),
    ] = None,
    grid: Annotated[
        bool, typer.Option("--grid", help="Sweep directory: several members side by side.",
                           rich_help_panel=GRID_PANEL)
    ] = False,
    member: Annotated[
        Optional[list[str]],
        typer.Option("--member", "-m", rich_help_panel=GRID_PANEL, show_default=False,
                     metavar="<id>",
                     help="Member id to show in the grid (repeat) [default: failed and "
                          "converged ones, alternating]."),
    ] = None,
    grid_size: Annotated[
        int, typer.Option("--grid-size", help="How many members the default grid picks (1-16).",
                          rich_help_panel=GRID_PANEL)
    ] = 4,
    json_out: o.Json = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Animate a run: generator line, D(v), the generated samples and the real value, with w, b
    and the losses below, one frame per (subsampled) snapshot.

    Example: pointgan animate runs/fixed-3 --format mp4 --frames 200
    """
    if still is not None:
        result = render.still(run_dir, still, out=out, fmt=fmt, dpi=dpi, grid=grid,
                              members=member, grid_size=grid_size)
    else:
        with console.progress_bar(frames, "animate", enabled=not quiet) as prog:

            def on_start(n: int) -> None:
                if prog is not None:
                    prog.update(total=n)

            def on_frame(i: int) -> None:
                if prog is not None:
                    prog.update(completed=i)

            result = render.animate(run_dir, out=out, fmt=fmt, fps=fps, frames=frames, dpi=dpi,
                                    grid=grid, members=member, grid_size=grid_size,
                                    on_start=on_start, on_frame=on_frame)
    if json_out:
        console.print_json(result)
        return
    if not quiet:
        console.note(
            f"{result['format']}: {result['frames']} frame(s), "
            f"{result['width']}x{result['height']} px, {result['seconds']} s "
            f"(rendered in {result['wall_seconds']} s)"
        )
    sys.stdout.write(f"{result['output']}\n")
