"""``pointgan train``: one run into one run directory."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .. import rundir, trackers
from ..engine import Snapshot
from ..spec import rerun_command, resolve_spec
from ..training import Member, train_batch
from . import console
from . import options as o


def default_out(preset: str) -> Path:
    """``runs/<timestamp>-<preset>``, made unique if two runs start in the same second."""
    base = Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{preset}"
    out, n = base, 2
    while out.exists():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


@o.with_spec_flags
def train(
    preset: o.Preset = None,
    config: o.Config = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Run directory [default: runs/<time>-<preset>]."),
    ] = None,
    force: o.Force = False,
    resume: o.Resume = False,
    json_out: o.Json = False,
    quiet: o.Quiet = False,
    tracker: o.Tracker = o.TrackerName.none,
    tracking_uri: o.TrackingUri = None,
    spec_flags: dict[str, Any] | None = None,
) -> None:
    """Train one PointGAN run and write its run directory.

    Example: pointgan train --preset fixed --seed 3 --out runs/fixed-3
    """
    if resume:
        if out is None:
            raise_usage("--resume needs --out DIR")
        rundir.check_target(out, force, resume)
        spec, command = rundir.load_spec(out)
        if spec_flags or preset or config:
            raise_usage("--resume takes the spec from DIR/spec.json; drop the spec flags")
    else:
        spec = resolve_spec(preset, config, spec_flags)
        out = out if out is not None else default_out(spec.preset)
        rundir.check_target(out, force, resume)
        command = rerun_command(spec, str(out))
    trackers.check_available(tracker)
    member = Member(spec=spec, out=out, command=command, resume=resume)

    with console.progress_bar(spec.steps, f"train {spec.preset}", enabled=not quiet) as prog:

        def on_progress(snap: Snapshot) -> None:
            if prog is not None:
                w, b = float(snap.g[0, 0]), float(snap.g[0, 1])
                info = (f"w={w:+.3f} b={b:+.3f} g_loss={float(snap.g_loss[0]):.3f} "
                        f"d_loss={float(snap.d_loss[0]):.3f}")
                prog.update(prog.task_ids[0], completed=snap.step, info=info)

        summary = train_batch([member], on_progress, force=force)[0]

    result = dict(summary, run_dir=str(out))
    if tracker != "none":
        result["tracker"] = logged = trackers.log_run(out, tracker, tracking_uri)
        if not quiet:
            print(trackers.logged_line(logged), file=sys.stderr)
    if json_out:
        console.print_json(result)
        return
    if not quiet:
        rows = [[k, summary[k]] for k in ("status", "converged", "w", "b", "distance", "steps",
                                          "seed", "preset", "wall_seconds")]
        console.err_console().print(console.table(f"run {out}", ["field", "value"], rows))
    sys.stdout.write(f"{out}\n")


def raise_usage(msg: str) -> None:
    from ..errors import UsageError

    raise UsageError(msg)
