"""``pointgan diagnose``: loss landscapes, local stability and outcome classes for runs and
sweeps. torch and matplotlib load inside each command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..games import DIRAC, named
from . import console
from . import options as o
from .working import working

app = typer.Typer(
    help="Show why a run failed: loss landscapes, local stability and outcome classes (reads "
    "runs, writes only RUN_DIR/diagnose/).",
    no_args_is_help=True,
)

Step = Annotated[
    Optional[int], typer.Option("--step", help="Snapshot step to diagnose [default: the last].")
]
Out = Annotated[
    Optional[Path],
    typer.Option("--out", "-o", help="Folder for the PNG + JSON [default: RUN_DIR/diagnose].",
                 file_okay=False),
]


def _written(doc: dict[str, Any]) -> None:
    for f in doc["files"].values():
        console.note(f"wrote {f}")


@app.command("loss-landscape")
def loss_landscape(
    run_dir: Annotated[
        Optional[Path],
        typer.Argument(help="Run directory [default: the study's failed generator, w = 0.605, "
                       "b = 0.015, with a D trained against it].", show_default=False),
    ] = None,
    step: Step = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", file_okay=False,
                     help="Folder for loss-landscape.png/.json [default: RUN_DIR/diagnose, or "
                     "diagnose-out without RUN_DIR]."),
    ] = None,
    d_steps: Annotated[
        Optional[int],
        typer.Option("--d-steps", help="Without RUN_DIR: Adam steps of the D trained against the "
                     "study's generator [default: 1000]."),
    ] = None,
    json_out: o.Json = False,
    fmt: o.Format = o.TableFormat.table,
) -> None:
    """Does the D loss prefer the right discriminator? Scores the trained D against a step,
    bells centred on the real value and a flat D (same weight sizes), and maps the D loss
    around the trained D along two filter-normalised directions.

    Example: pointgan diagnose loss-landscape runs/baseline-3 --step 2000
    """
    from ..diagnose import commands

    doc = commands.loss_landscape(run_dir, step, out, d_steps)
    if json_out:
        console.print_json(doc)
        return
    rows = [[c["name"], c["loss"], c["d_at_real"], c["d_on_generated_mean"],
             c["saturation_fraction"]] for c in doc["candidates"]]
    g = doc["generator"]
    title = f"D loss against G (w={g['w']:.3g}, b={g['b']:.3g})"
    console.print_table(title, ["discriminator", "loss", "D(real)", "mean D(fake)",
                                "saturated share"], rows, fmt)
    _written(doc)
    if not console.machine(fmt):  # tsv/csv: the table alone
        sys.stdout.write(doc["finding"]["text"] + "\n")


@app.command("generator-landscape")
def generator_landscape(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.", show_default=False)],
    step: Step = None,
    out: Out = None,
    json_out: o.Json = False,
) -> None:
    """The generator's loss over a (w, b) grid for the discriminator at one step, with the
    run's trajectory on top and the descent directions as arrows: where D pushes G, and
    where it no longer pushes at all.

    Example: pointgan diagnose generator-landscape runs/baseline-3 --step 500
    """
    from ..diagnose import commands

    doc = commands.generator_landscape(run_dir, step, out)
    if json_out:
        console.print_json(doc)
        return
    _written(doc)
    sys.stdout.write(doc["finding"] + "\n")


@app.command("stability")
def stability(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.", show_default=False)],
    step: Step = None,
    out: Out = None,
    json_out: o.Json = False,
    fmt: o.Format = o.TableFormat.table,
) -> None:
    """Is training locally stable here? Eigenvalues of the Jacobian of the training vector
    field (G and D together, the run's expected losses and
    penalties) at the run's point and at the ideal generator with the run's D,
    with the quadrature refined until the eigenvalues settle, each mode's share in the
    generator, and the G block's own eigenvalues. Verdicts in absolute terms: each mode's
    e-folds and turns over the run's own steps (Adam runs on Adam's preconditioned step with
    the checkpoint's second moments, SGD runs on the gradient-descent step); the run's class
    is judged from its metrics as diagnose run does.

    Example: pointgan diagnose stability runs/baseline-3 --step 2000
    """
    from ..diagnose import dirac_stability
    from ..diagnose import stability as stab

    doc = dirac_stability.stability_command(run_dir, step, out)
    if json_out:
        console.print_json(doc)
        return
    if named(doc.get("game")) is DIRAC:
        _print_dirac_stability(doc, fmt)
        return
    names = ("run", "ideal G")
    adam = doc["adam"]
    view = adam if adam is not None else doc  # the spectrum the verdict is taken from
    points = (view["run_point"], view["ideal_point"])
    h = 1.0 if adam is not None else doc["lr"]
    rows, raw = [], []
    for i in range(len(points[0]["modes"])):
        row: list[Any] = [i + 1]
        numbers: list[Any] = [i + 1]
        for p in points:
            re, im = p["modes"][i]["eigenvalue"]
            factor = abs(complex(1.0 + h * re, h * im))
            share = p["modes"][i]["g_share"]
            row += [f"{re:+.4g}", f"{im:+.4g}", f"{share:.3f}", f"{factor:.6f}"]
            numbers += [re, im, share, factor]
        rows.append(row)
        raw.append(numbers)
    step_col = "|1+mu|" if adam is not None else "|1+h l|"
    cols = ["#"] + [f"{n} {c}" for n in names for c in ("Re", "Im", "G share", step_col)]
    if adam is not None:
        title = f"Adam step eigenvalues mu at step {doc['step']} ({adam['checkpoint']})"
        cap = ("mu: eigenvalues of M, one Adam step's linearisation with the checkpoint's "
               "second moments; G share: the eigenvector's weight in (w, b); ideal G: w = 0, "
               "b = real, with the run's D")
    else:
        title = f"eigenvalues at step {doc['step']} (h = lr_d = {doc['lr']:g})"
        cap = ("G share: the eigenvector's weight in (w, b); ideal G: w = 0, b = real, with "
               "the run's D; |1+h l| < 1 is inside the gradient-descent disc")
    console.print_table(title, cols, rows, fmt, caption=cap, raw=(cols, raw))
    _written(doc)
    if console.machine(fmt):  # the table alone
        return
    for label, words in stab.describe_points(doc):
        sys.stdout.write(f"{label}: {words}\n")
    sys.stdout.write(doc["finding"] + "\n")


def _print_dirac_stability(doc: dict[str, Any], fmt: Any) -> None:
    """A Dirac-GAN run's eigenvalues at its point and at the equilibrium."""
    h = doc["lr"]
    points = (doc["run_point"], doc["ideal_point"])
    rows, raw = [], []
    for i in range(len(points[0]["eigenvalues"])):
        row: list[Any] = [i + 1]
        numbers: list[Any] = [i + 1]
        for p in points:
            re, im = p["eigenvalues"][i]
            factor = abs(complex(1.0 + h * re, h * im))
            row += [f"{re:+.4g}", f"{im:+.4g}", f"{factor:.6f}"]
            numbers += [re, im, factor]
        rows.append(row)
        raw.append(numbers)
    cols = ["#"] + [f"{n} {c}" for n in ("run", "equilibrium") for c in ("Re", "Im", "|1+h l|")]
    console.print_table(f"eigenvalues at step {doc['step']} (h = lr_d = {h:g})", cols, rows,
                        fmt, caption=doc["ideal_caption"], raw=(cols, raw))
    _written(doc)
    if console.machine(fmt):
        return
    sys.stdout.write(doc["finding"] + "\n")


@app.command("run")
def run(
    path: Annotated[Path, typer.Argument(help="Run directory or sweep directory.",
                                         show_default=False)],
    json_out: o.Json = False,
    fmt: o.Format = o.TableFormat.table,
) -> None:
    """Name how a run ended: its class judged from its metrics (converged, still_approaching,
    orbiting, diverging, stuck, drifting, diverged; rules in docs/diagnose.md) beside the one
    its summary.json carries, with the numbers behind it and D's shape at the end as evidence;
    on a sweep, the classes of every group and which members fall in each.

    Example: pointgan diagnose run sweeps/article --json
    """
    from ..diagnose import classify

    with working("diagnose run"):
        doc = classify.diagnose(path)
    if json_out:
        console.print_json(doc)
        return
    if "sweep_dir" not in doc:
        ev = doc["evidence"]
        rows = [[k, ev[k]] for k in ("status", "step", "w", "b", "theta", "psi", "tolerance",
                                     "final_distance", "window_max_distance",
                                     "time_avg_distance", "bias_b", "bias_psi",
                                     "window_snapshots", "sign_changes_in_window",
                                     "saturation_fraction", "d_range", "d_shape",
                                     "diverged_step") if k in ev]
        rows += [["converged_at", doc.get("converged_at")],
                 ["summary's class", "-" if doc.get("summary_class") is None
                  else doc["summary_class"] + ("" if doc["summary_class"] == doc["class"]
                                               else " (DIFFERS: judged again here)")]]
        if console.machine(fmt):
            console.print_table("", ["measure", "value"], [*rows, ["class", doc["class"]]], fmt)
            return
        console.print_table(f"diagnose {doc['run_dir']}", ["measure", "value"], rows, fmt,
                            caption=doc["reason"])
        sys.stdout.write(doc["class"] + "\n")  # the last line: the class alone
        return
    if console.machine(fmt):
        console.print_table("", MEMBER_COLUMNS, [[m["group"], m["id"], m["class"]]
                                                 + _numbers(m["evidence"])
                                                 for m in doc["members"]], fmt)
        return
    rows = [[g["group"], _words(cls), len(ids), ", ".join(ids)]
            for g in doc["groups"] for cls, ids in g["classes"].items()]
    console.print_table(f"classes in {doc['sweep_dir']}", ["group", "class", "n", "members"],
                        rows, fmt)
    mrows = [[m["group"], m["id"], m["class"]] + _numbers(m["evidence"]) for m in doc["members"]]
    console.print_table("\nmembers", MEMBER_COLUMNS, mrows, fmt,
                        caption="D = the discriminator's shape at the end (flat, saturated, "
                        "sloped); dist = |w| + |b - real| at the end; max = its largest value in "
                        "the success window; avg = distance of the window-averaged generator; "
                        "sat = share of generated samples with |dD/dv| < 1e-3; D range over "
                        "[real - 3, real + 2]; flips = sign changes of b - real in the window")


MEMBER_COLUMNS = ["group", "member", "class", "D", "dist", "max", "avg", "sat", "D range",
                  "flips"]


def _words(cls: str) -> str:
    """A class name that a narrow table can wrap at its words."""
    return cls.replace("_", " ")


def _numbers(ev: dict[str, Any] | None) -> list[Any]:
    """A member's numbers for the table; a game without D-shape numbers (the Dirac-GAN's D
    is one weight) shows '-' there."""
    ev = ev or {}
    return [ev.get(k) for k in ("d_shape", "final_distance", "window_max_distance",
                                "time_avg_distance", "saturation_fraction", "d_range",
                                "sign_changes_in_window")]
