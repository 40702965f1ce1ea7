"""``pointgan sweep``: many seeds and settings as batched programs, with the study's charts."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError, short
from ..games import DIRAC, named
from ..sweep.ranges import parse_grid, parse_seeds
from ..sweep.spec import STUDIES, build_sweep_spec, expand
from . import console
from . import options as o
from .sweeptables import (
    _CLASS_ABBR,
    _bias,
    _holm,
    _median_time,
    _print_by_step,
    _print_check,
    _robust,
    sweep_raw,
)
from .working import working

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

def complete_study(incomplete: str) -> list[str]:
    return o.starting(STUDIES, incomplete)


@app.callback(invoke_without_command=True)
@o.with_spec_flags(exclude=("seed",))
def sweep(
    ctx: typer.Context,
    preset: Annotated[
        Optional[list[str]],
        typer.Option("--preset", help="Preset to include (repeatable, to compare presets): "
                     f"{o.PRESET_NAMES}. [default: baseline]", rich_help_panel="Sweep",
                     metavar="<preset>",
                     autocompletion=o.complete_preset, show_default=False),
    ] = None,
    seeds: Annotated[
        Optional[str],
        typer.Option("--seeds", metavar="<seeds>",
                     help="Seeds: ranges and lists, e.g. 0-99 or 0-9,20-29 "
                     "[default: 0-9; --study map: 0-31 on a CPU, 0-63 on CUDA].",
                     show_default=False, rich_help_panel="Sweep"),
    ] = None,
    grid: Annotated[
        Optional[list[str]],
        typer.Option("--grid", metavar="<FIELD=VALUES>",
                     help="FIELD=V1,V2,... or FIELD=START:STOP:N (evenly spaced) "
                     "or FIELD=START:STOP:N:log (repeatable; cartesian product). Two numeric "
                     "axes draw a stability map (map.png).", rich_help_panel="Sweep"),
    ] = None,
    study: Annotated[
        Optional[str],
        typer.Option("--study", help="'article': the study's whole experiment set; "
                     "'literature': its fix against instance noise, R1, R2, WGAN-GP, LSGAN and "
                     "hinge (both at two learning rates); 'map': two stability maps, the fix "
                     "over noise scale x weight decay and the baseline over lr_g x lr_d "
                     "(finer on CUDA; see docs/maps.md); 'dirac': every method of Mescheder et "
                     "al. 2018 on the Dirac-GAN, simultaneous and alternating, beside the "
                     "paper's verdicts (docs/dirac.md).", rich_help_panel="Sweep",
                     metavar=o.metavar(STUDIES, "<study>"),
                     autocompletion=complete_study),
    ] = None,
    reference: Annotated[
        Optional[str],
        typer.Option("--reference", metavar="<method|FIELD=VALUE>",
                     help="What every group is compared with, seed by seed "
                     "(exact McNemar test on shared seeds): a method, e.g. baseline, or a "
                     "value of --grid, e.g. weight_decay_mode=decoupled [default: the first "
                     "preset or the study's first method; with one preset and a --grid, the "
                     "first value of the first grid].", rich_help_panel="Sweep"),
    ] = None,
    max_batch: Annotated[
        str, typer.Option("--max-batch", metavar="<n|auto>",
                     help="Most runs in one batched program, or 'auto': "
                          "the fastest measured size on a CPU (256), as many as fit half the "
                          "free memory on a GPU.", rich_help_panel="Sweep"),
    ] = "auto",
    workers: Annotated[
        Optional[int], typer.Option("--workers", min=1, help="Worker processes, 1 or more "
                                    "[default: CPU count; the fused engine: one process whose "
                                    "threads use every core; a GPU sweep uses one].",
                                    show_default=False, rich_help_panel="Sweep"),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", help="local (processes) or ray.", rich_help_panel="Sweep",
                          metavar=o.metavar(("local", "ray")),
                          autocompletion=lambda incomplete: o.starting(("local", "ray"),
                                                                        incomplete)),
    ] = "local",
    ray_address: Annotated[
        Optional[str], typer.Option("--ray-address", metavar="<address>",
                     help="Ray cluster address "
                                    "[default: a local Ray started for the sweep].",
                                    rich_help_panel="Sweep"),
    ] = None,
    config: o.Config = None,
    tracker: o.Tracker = o.TrackerName.none,
    tracking_uri: o.TrackingUri = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Sweep directory [default: runs/sweep-<time>]."),
    ] = None,
    check_classes: Annotated[
        bool, typer.Option("--check-classes", help="After the sweep, train the same members "
                           "to twice their steps (DIR/check-2x) and print, per class, how "
                           "many kept the class's prediction (DIR/check-classes.json; "
                           "docs/diagnose.md).", rich_help_panel="Sweep"),
    ] = False,
    force: o.Force = False,
    resume: o.Resume = False,
    json_out: o.Json = False,
    fmt: o.Format = o.TableFormat.table,
    quiet: o.Quiet = False,
    spec_flags: dict[str, Any] | None = None,
) -> None:
    """Train many seeds and settings at once and compare them, with the study's charts.

    Members sharing a shape train as one batched program; writes per-group statistics,
    a chart of w and b per experiment (median and every seed) and success rates with Wilson
    intervals. --resume
    continues the members recorded in DIR/sweep.json; sweep flags given with it must name the
    same sweep (a sweep killed before it wrote sweep.json then simply starts).

    Members are stored by batch (SWEEP/batches/); each stays a run for every command that
    reads one as SWEEP/members/ID, and `pointgan sweep export` writes its run directory.

    Example: pointgan sweep --preset baseline --preset fixed --seeds 0-49
    """
    if ctx.invoked_subcommand is not None:
        return
    batch_cap = _parse_max_batch(max_batch)
    given = bool(spec_flags or preset or config or grid or study or seeds is not None
                 or reference is not None)
    from ..sweep.start import check_flags, start

    check_flags(out, resume, force)
    spec = members = None
    if not resume or given:
        spec = build_sweep_spec(list(preset or []), study, parse_grid(list(grid or [])),
                                None if seeds is None else parse_seeds(seeds), config,
                                spec_flags or {}, reference)
        members = expand(spec)  # every member validated before torch is even imported
    begun = start(out, spec, members, resume=resume, force=force)
    out, spec, members, command = begun.out, begun.spec, begun.members, begun.command
    from .. import trackers
    from ..store.sweepdir import SweepDir
    from ..sweep.run import check_runnable, run_sweep

    check_runnable(members, executor, ray_address)
    trackers.check_available(tracker, tracking_uri)
    t0 = time.perf_counter()
    with console.progress_bar(1, f"sweep {len(members)} runs", enabled=not quiet) as prog:

        def progress(total: int, n: int) -> None:
            if prog is not None:
                prog.update(total=total, advance=n)

        summary = run_sweep(out, spec, command, resume=begun.resume, max_batch=batch_cap,
                            workers=workers, executor=executor, ray_address=ray_address,
                            progress=progress, force=begun.force, members=members)
    checked = None
    if check_classes:
        from ..sweep.checkclasses import check

        with console.progress_bar(1, f"check {len(members)} runs at 2x", enabled=not quiet) as p2:

            def progress2(total: int, n: int) -> None:
                if p2 is not None:
                    p2.update(total=total, advance=n)

            checked = check(out, spec, members, run_kw=dict(
                max_batch=batch_cap, workers=workers, executor=executor,
                ray_address=ray_address, progress=progress2))
    wall = time.perf_counter() - t0
    result = dict(summary, sweep_dir=str(out),
                  maps=[str(f) for f in SweepDir(out).map_files()])  # stability maps, if any
    if checked is not None:
        result["check_classes"] = checked
    if tracker != "none":
        result["tracker"] = logged = trackers.log_sweep(out, tracker, tracking_uri)
        if not quiet and logged:
            console.note(trackers.logged_line(logged))
    if json_out:
        console.print_json(result)
        return
    if quiet:
        sys.stdout.write(f"{out}\n")
        return
    if named(summary.get("game")) is DIRAC:
        _print_dirac(summary, out, wall, fmt)
        if checked is not None:
            _print_check(checked, fmt)
        return
    rank = {r["group"]: r["rank"] for r in summary["ranking"]}
    several = sum(1 for g in summary["groups"] if g.get("mcnemar_p") is not None) > 1
    rows = [[rank[g["group"]], g["group"], f"{g['converged']}/{g['n']}",
             f"{g['success_rate']:.0%} [{g['wilson_low']:.0%}, {g['wilson_high']:.0%}]",
             _p_value(g), *_holm(g, several), _robust(g), _median_time(g),
             _num(g.get("median_final_distance")), _bias(g), _classes(g.get("classes") or {}),
             f"{g['w_mean']:+.3f} ± {g['w_std']:.3f}",
             f"{g['b_mean']:+.3f} ± {g['b_std']:.3f}"] for g in summary["groups"]]
    rows.sort(key=lambda r: r[0])
    cols = ["rank", "group", "converged", "success (95% CI)", "McNemar p",
            *(["Holm p"] if several else []), "tol 0.05-0.2", "time to converge",
            "median dist", "mean bias b (conv)", "classes", "final w", "final b"]
    console.print_table(f"sweep {out}", cols, rows, fmt, raw=sweep_raw(summary),
                        optional=("tol 0.05-0.2", "time to converge", "median dist",
                                  "mean bias b (conv)", "final w", "final b"),
                        caption="converged: inside the tolerance over the whole success window; "
                        "McNemar p: exact test against the reference group (ref) on shared "
                        "seeds" + ("; Holm p: adjusted over the table's comparisons"
                                   if several else "") + "; tol 0.05-0.2: the conclusion "
                        "(p < 0.05) at the run's tolerance and whether it holds at every "
                        "tolerance from 0.05 to 0.2 or flips (summary.json: "
                        "success_by_tolerance); time to converge: median step from which runs "
                        "stay inside [95% interval], sign-test p against the reference "
                        "(convergence.png); median dist: |w| + |b - real| at the end; mean "
                        "bias b: mean of b - real over the window, converged runs only (their "
                        "count); classes: how the runs ended (conv converged, appr still "
                        "approaching, orb orbiting, stuck, dvg diverging, div diverged)")
    if spec is not None and spec.study == "article":
        _print_by_step(summary, fmt)
    console.note(f"{summary['n']} runs in {wall:.1f} s; charts: "
                 + ", ".join(str(c) for c in SweepDir(out).charts()))
    if checked is not None:
        _print_check(checked, fmt)


def _classes(counts: dict[str, int]) -> str:
    """``{"converged": 29, "stuck": 3}`` -> ``29 conv, 3 stuck`` (most common first)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{n} {_CLASS_ABBR.get(c, c)}" for c, n in items)


def _print_dirac(summary: dict[str, Any], out: Path, wall: float, fmt: Any) -> None:
    """A Dirac-GAN sweep's table: each group's verdict beside the paper's."""
    from ..store import sweepdir

    rows = [[g["group"], f"{g['converged']}/{g['n']}", g["verdict"], g["expected"] or "-",
             g["expected_from"] or "-",
             "" if g["agrees"] is None else ("yes" if g["agrees"] else "NO"),
             _num(g["final_distance_median"])] for g in summary["groups"]]
    cols = ["group", "converged", "verdict", "expected", "from", "agrees", "median dist"]
    raw_cols = ["group", "n", "converged", "verdict", "expected", "expected_from", "agrees",
                "final_distance_median"]
    raw = [[g.get(k) for k in raw_cols] for g in summary["groups"]]
    console.print_table(f"sweep {out}", cols, rows, fmt, raw=(raw_cols, raw),
                        caption="converged: inside the tolerance over the whole success window; "
                        "verdict: converges (every member), does not converge (none) or mixed; "
                        "median dist: |theta| + |psi| at the end")
    a = summary["agreement"]
    console.note(f"{summary['n']} runs in {wall:.1f} s; {a['paper_agree']}/{a['paper_judged']} "
                 f"verdicts agree with the paper, {a['linearisation_agree']}/"
                 f"{a['linearisation_judged']} with this project's own linearisation; figure: "
                 f"{out / sweepdir.DIRAC_GRID}, table: {out / sweepdir.DIRAC_TABLE}")


def _p_value(group: dict[str, Any]) -> str:
    """The McNemar p-value cell: ``ref`` for the reference group, ``-`` with none to pair."""
    if group.get("reference") == group["group"]:
        return "ref"
    p = group.get("mcnemar_p")
    return "-" if p is None else f"{p:.2g}"


def _num(value: Any, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def _parse_max_batch(text: str) -> int | None:
    """``auto`` -> None (the engine picks per device), else a positive integer."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--max-batch: {short(text, 60)} is not a positive integer or "
                         "'auto'") from None
    if value < 1:
        raise UsageError(f"--max-batch: {value} must be at least 1 (or 'auto')")
    return value


@app.command("export")
def export(
    sweep_dir: Annotated[Path, typer.Argument(
        help="Sweep directory, or the member itself as SWEEP/members/ID.", show_default=False)],
    member: Annotated[Optional[str], typer.Argument(
        help="Member id, as listed in sweep.json and the sweep's summary.json (not with "
             "SWEEP/members/ID).", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write (new or "
                                      "empty; not inside a sweep).",
                                      show_default=False)] = ...,  # type: ignore[assignment]
    json_out: o.Json = False,
) -> None:
    """Write one sweep member as a normal run directory: the spec.json, metrics.jsonl,
    checkpoint and summary.json that `pointgan train` of its spec writes, same numbers.

    Example: pointgan sweep export runs/sweep-1 fixed-s0003 --out runs/fixed-3
    """
    from ..store import outputs, rundir
    from ..store.memberpath import member_address
    from ..store.sweepdir import SweepDir

    address = member_address(sweep_dir)
    if address is not None:
        if member is not None and member != address[1]:
            raise UsageError(f"MEMBER: {sweep_dir} already names member {address[1]!r}; "
                             "give SWEEP MEMBER or SWEEP/members/ID, not both")
        sweep, member = address
    elif member is None:
        raise UsageError(f"MEMBER: which member of {sweep_dir}? (give SWEEP MEMBER or "
                         "SWEEP/members/ID)")
    else:
        sweep = SweepDir(sweep_dir)
    sweep_dir, index = sweep.path, sweep.index
    if member not in index.groups:
        known = ", ".join(list(index.groups)[:5]) + (", ..." if len(index.groups) > 5 else "")
        raise UsageError(f"MEMBER: no member {short(member)} in {sweep_dir} "
                         f"(known: {known})")
    outputs.refuse_inside_sweep(out)
    outputs.refuse_a_sweep(out)
    rundir.check_target(out, False, False)
    from ..results import progress

    with working("sweep export"), progress.task(1, f"export {member}"):
        result = sweep.members.export(member, out)
        progress.advance()
    if json_out:
        console.print_json(result)
        return
    sys.stdout.write(f"{out}\n")
