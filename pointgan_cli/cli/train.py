"""``pointgan train``: one run into one run directory.

torch and the training code load inside the command, so ``--help`` and completion start fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

from ..games import game_of
from ..naming import rerun_command, run_label
from ..spec import RunSpec, resolve_spec
from . import console
from . import options as o

if TYPE_CHECKING:
    from ..engine.trainer import Snapshot


def default_out(spec: RunSpec) -> Path:
    """``runs/<timestamp>-<preset>[+overrides]`` (``runs/<time>-baseline+wd0.1+noise1.5``), made
    unique if two runs start in the same second."""
    from ..store.fsguard import unused_path

    return unused_path(Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{run_label(spec)}")


@o.with_spec_flags
def train(
    preset: o.Preset = None,
    config: o.Config = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", show_default=False,
                     help="Run directory [default: runs/<time>-<preset>+<overrides>]."),
    ] = None,
    force: o.Force = False,
    resume: o.Resume = False,
    json_out: o.Json = False,
    fmt: o.Format = o.TableFormat.table,
    quiet: o.Quiet = False,
    tracker: o.Tracker = o.TrackerName.none,
    tracking_uri: o.TrackingUri = None,
    spec_flags: dict[str, Any] | None = None,
) -> None:
    """Train one PointGAN run and write its run directory.

    Example: pointgan train --preset fixed --seed 3 --out runs/fixed-3
    """
    from ..store import outputs, rundir
    from ..store.memberpath import stored_spec

    spec = None
    if not resume:
        # Resolved once, before torch is even imported: bad input fails in well under a
        # second. ``--config SWEEP/members/ID`` or ``--config RUN_DIR`` starts from that
        # member's or run's stored spec.
        stored = stored_spec(config) if config is not None else None
        spec = resolve_spec(preset, config, spec_flags, None if stored is None
                            else stored.model_dump(mode="json"))
    from .. import trackers
    from ..training.train import Member, train_batch

    if resume:
        if out is None:
            raise_usage("--resume needs --out DIR")
        if spec_flags or preset or config:
            raise_usage("--resume takes the spec from DIR/spec.json; drop the spec flags")
        outputs.refuse_inside_sweep(out)  # SWEEP/members/ID: the sweep alone writes it
        outputs.refuse_a_sweep(out)
        rundir.check_target(out, force, resume)
        spec, command = rundir.load_spec(out)
    else:
        assert spec is not None
        out = out if out is not None else default_out(spec)
        outputs.refuse_inside_sweep(out)
        outputs.refuse_a_sweep(out)
        rundir.check_target(out, force, resume)
        command = rerun_command(spec, str(out))
    trackers.check_available(tracker, tracking_uri)
    member = Member(spec=spec, out=out, command=command, resume=resume)
    finished = rundir.read_summary(out) if resume else None
    if finished is not None:
        # Nothing to continue: its summary.json (wall time included) stays as it was.
        console.note(f"{out} is finished ({spec.steps} steps): nothing to resume, its "
                     "summary.json is unchanged")
    else:
        from ..engine.fused.support import announce

        announce([spec])

    with console.progress_bar(spec.steps, f"train {run_label(spec)}",
                              enabled=not quiet and finished is None) as prog:

        game = game_of(spec)

        def on_progress(snap: Snapshot) -> None:
            if prog is not None:
                row = game.metrics_row(snap.step, snap.g[0].tolist(), snap.d[0].tolist(), (), 0.0)
                params = " ".join(f"{k}={row[k]:+.3f}" for k in game.judged)
                assert snap.g_loss is not None and snap.d_loss is not None  # with_losses
                info = (f"{params} g_loss={float(snap.g_loss[0]):.3f} "
                        f"d_loss={float(snap.d_loss[0]):.3f}")
                prog.update(completed=snap.step, info=info)

        summary = finished or train_batch([member], on_progress, force=force)[0]

    result = dict(summary, run_dir=str(out))
    if tracker != "none":
        result["tracker"] = logged = trackers.log_run(out, tracker, tracking_uri)
        if not quiet and logged:
            console.note(trackers.logged_line(logged))
    if json_out:
        console.print_json(result)
    elif quiet:
        sys.stdout.write(f"{out}\n")
    else:
        console.print_table(f"run {out}", ["field", "value"], result_rows(result), fmt)


#: The summary fields the result table shows, in this order (those the summary has).
TABLE_FIELDS = ("run_dir", "status", "class", "converged", "w", "b", "theta", "psi", "distance",
                "steps", "engine", "seed", "preset", "overrides", "wall_seconds")


def result_rows(result: dict[str, Any]) -> list[list[Any]]:
    from ..naming import override_words

    rows = []
    for k in TABLE_FIELDS:
        if k in result:
            v = result[k]
            if k == "overrides":
                v = override_words(v) or "-"
            rows.append([k, v])
    return rows


def raise_usage(msg: str) -> NoReturn:
    from ..errors import UsageError

    raise UsageError(msg)
