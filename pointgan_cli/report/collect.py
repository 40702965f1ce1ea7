"""What a report shows, read from a run or sweep directory: a plain page model (no HTML here).

A model is ``{"kind", "title", "path", "command", "sections": [...], "explorer": {...}}``; each
section has a ``heading`` and some of: ``text`` (paragraphs), ``table`` (``columns``, ``rows`` of
strings, and for the tables the explorer acts on an ``id`` and one ``keys`` entry per row: the
group or member it names), ``figures`` (``caption``, ``mime``, ``data`` bytes, ``video``);
``explorer`` is ``explore.Builder``'s data. Everything comes from the
directory through ``rundir``/``sweepdir`` and from the diagnose library's verdict and evidence,
so the page says exactly what ``ls``, ``compare`` and ``diagnose run`` say.
"""

from __future__ import annotations

import io
import shlex
from pathlib import Path
from typing import Any

from .. import naming
from ..games import game_of
from ..results import catalog
from ..store import rundir
from ..store.memberpath import load_any_run
from ..store.rundir import Run
from ..store.sweepdir import SweepDir
from . import explore

#: The animation files a report looks for, first found wins (``pointgan animate``'s outputs).
ANIMATIONS = (("gif", "image/gif", False), ("mp4", "video/mp4", True), ("png", "image/png", False))
#: Summary fields of a run, in the report's order.
RUN_FIELDS = ("class", "status", "converged", "final_distance", "w", "b", "theta", "psi",
              "window_max_distance", "time_avg_distance", "bias_b", "bias_psi",
              "diverged_step", "steps", "seed", "preset", "wall_seconds")


def run_model(path: Path) -> dict[str, Any]:
    """The page of one run: results, diagnosis when it did not converge, charts, animation."""
    from ..diagnose import classify

    run = load_any_run(path)  # a run directory, or SWEEP/members/ID
    summary = run.summary or {}
    over = catalog.overrides(run.spec, summary)
    diag = classify.diagnose_run(run)
    rows = [["preset + overrides", catalog.label(run.spec.preset, over)]]
    rows += [[k, _cell(summary[k])] for k in RUN_FIELDS if k in summary]
    if not summary:
        rows.append(["status", "unfinished (no summary.json yet)"])
    sections: list[dict[str, Any]] = [
        {"heading": "Result", "table": {"columns": ["field", "value"], "rows": rows},
         "text": [f"Class {diag['class']}: " + (diag["reason"] if diag["class"] == "converged"
                                                  else "see the diagnosis below.")]},
    ]
    if diag["class"] != "converged":
        sections.append(_diagnosis_section(diag))
    figures = [{"caption": f"{game_of(run.spec).curves_caption} over training",
                "mime": "image/png", "data": training_curves(run)}]
    for png in sorted(rundir.diagnose_dir(path).glob("*.png")):  # none for a stored member
        if not _own(png):
            continue
        figures.append({"caption": f"diagnose: {png.stem}", "mime": "image/png",
                        "data": png.read_bytes()})
    sections.append({"heading": "Charts", "figures": figures})
    sections.append(_animation_section(path, f"pointgan animate {shlex.quote(str(path))}"))
    spec_rows = [[k, _cell(v)] for k, v in run.spec.model_dump(mode="json").items()]
    sections.append({"heading": "Spec", "table": {"columns": ["field", "value"],
                                                  "rows": spec_rows}, "collapsed": True})
    data = explore.Builder("run", 1)
    data.add(path.name, path.name, run, diag)
    return {"kind": "run", "title": f"Run {path.name}", "path": str(path),
            "command": _short_command(run), "sections": sections,
            "explorer": data.data(summary)}


def _short_command(run: Run) -> str:
    """The recorded command with only the flags that differ from the preset (spec.json keeps
    every field; the Spec section below lists them): same --out, same spec."""
    if not run.command:
        return run.command
    words = shlex.split(run.command)
    out = words[words.index("--out") + 1] if "--out" in words[:-1] else str(run.path)
    return naming.short_command(run.spec, out)


def sweep_model(sweep: SweepDir) -> dict[str, Any]:
    """The page of a sweep: per-group table, every chart, animation, each failed member's class
    and diagnosis."""
    from ..diagnose import classify

    path = sweep.path
    index = sweep.index
    summary = sweep.summary()
    data = explore.Builder("sweep", len(index.entries))
    diag = classify.diagnose_sweep(sweep, lambda mid, g, run, rep: data.add(mid, g, run, rep))
    classes: dict[str, dict[str, int]] = {}
    for m in diag["members"]:
        per = classes.setdefault(m["group"], {})
        per[m["class"]] = per.get(m["class"], 0) + 1
    sections: list[dict[str, Any]] = []
    text = [f"{len(index.entries)} members in {len(classes)} groups."]
    if summary:
        text[0] += f" {summary['converged']} of {summary['n']} converged."
        rank = {r["group"]: r["rank"] for r in summary.get("ranking", [])}
        rows = [[str(rank.get(g["group"], "")), g["group"], str(g["n"]), str(g["converged"]),
                 f"{g['success_rate']:.0%} [{g['wilson_low']:.0%}, {g['wilson_high']:.0%}]",
                 _paired(g), str(g["diverged"]), _classes(classes.get(g["group"], {})),
                 _cell(g.get("median_final_distance", g.get("final_distance_median"))),
                 *_final_params(g)]
                for g in summary["groups"]]
        keys = [g["group"] for g in summary["groups"]]
        order = sorted(range(len(rows)), key=lambda i: int(rows[i][0]) if rows[i][0]
                       else len(rows) + 1)  # rank 1 first, each key with its row
        table = {"columns": ["rank", "group", "n", "converged", "success (95% CI)",
                             "vs reference (McNemar p, Holm-adjusted)", "diverged", "classes",
                             "median distance", "final w", "final b"],
                 "rows": [rows[i] for i in order], "id": "groups",
                 "keys": [keys[i] for i in order]}
    else:
        text.append("The sweep has not finished: no summary.json yet (classes so far below).")
        table = {"columns": ["group", "classes"], "id": "groups", "keys": list(classes),
                 "rows": [[g, _classes(c)] for g, c in classes.items()]}
    sections.append({"heading": "Results per group", "text": text, "table": table})
    figures = [{"caption": _chart_caption(p.stem), "mime": "image/png", "data": p.read_bytes()}
               for p in sweep.charts() if _own(p)]
    sections.append({"heading": "Charts", "figures": figures} if figures else
                    {"heading": "Charts", "text": ["No charts yet: they are written when the "
                                                   "sweep finishes."]})
    sections.append(_animation_section(path, f"pointgan animate {shlex.quote(str(path))} --grid"))
    failed = [m for m in diag["members"] if m["class"] != "converged"]
    rows = [[m["id"], m["group"], m["class"],
             compact_diagnosis(m, game_of(sweep.spec_of(m["id"])).crossing_words)]
            for m in failed]
    sections.append({
        "heading": f"Members that did not converge ({len(failed)} of {len(diag['members'])})",
        "table": {"columns": ["member", "group", "class", "diagnosis"], "rows": rows,
                  "id": "failed", "keys": [m["id"] for m in failed]},
        "text": [f"The diagnosis in numbers; `pointgan diagnose run {path}/members/ID` says "
                 "it in words."] if failed else ["Every member converged."]})
    planes = [explore.plane_of(_json(p)) for p in sweep.map_files() if p.suffix == ".json"]
    return {"kind": "sweep", "title": f"Sweep {path.name}", "path": str(path),
            "command": index.command, "sections": sections,
            "explorer": data.data(summary, [p for p in planes if p])}


def compact_diagnosis(member: dict[str, Any], crossing_words: str = "b - real") -> str:
    """A member's diagnosis in a few numbers (the report lists every failed member: a
    paragraph each was a wall of prose): final distance, its largest value in the success
    window, D's shape at the end, sign flips in the window of what circles the target
    (``crossing_words``, the game's: b - real, or the Dirac-GAN's psi)."""
    ev = member.get("evidence")
    if not ev or not isinstance(ev.get("final_distance"), (int, float)):
        return member["reason"]
    parts = [f"dist {ev['final_distance']:.3g}"]
    if isinstance(ev.get("window_max_distance"), (int, float)):
        parts.append(f"window max {ev['window_max_distance']:.3g}")
    if ev.get("d_shape"):
        parts.append(f"D {ev['d_shape']}")
    if isinstance(ev.get("sign_changes_in_window"), int):
        flips = ev["sign_changes_in_window"]
        parts.append(f"{flips} sign flip{'' if flips == 1 else 's'} of {crossing_words}")
    return "; ".join(parts)


def _final_params(g: dict[str, Any]) -> list[str]:
    """The group's final parameters: w and b, or a Dirac-GAN sweep's mean theta and psi."""
    if "w_mean" in g:
        return [f"{g['w_mean']:+.3f} ± {g['w_std']:.3f}", f"{g['b_mean']:+.3f} ± {g['b_std']:.3f}"]
    return [f"theta {_cell(g.get('theta_mean'))}", f"psi {_cell(g.get('psi_mean'))}"]


def training_curves(run: Run) -> bytes:
    """w and b against their targets, and the distance on a log axis, over the run's steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = run.steps
    game = game_of(run.spec)
    real = game.target(run.spec)
    w, b = zip(*(game.judged_of(r) for r in run.metrics)) if run.metrics else ((), ())
    dist = [game.distance(wi, bi, real) for wi, bi in zip(w, b)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    names = game.judged
    ax1.plot(steps, w, label=names[0], color="#1f77b4")
    ax1.plot(steps, b, label=names[1], color="#d62728")
    ax1.axhline(0.0, color="#1f77b4", ls=":", lw=1)
    ax1.axhline(real, color="#d62728", ls=":", lw=1, label=f"targets 0 and {real:g}")
    ax1.set_xlabel("step")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.semilogy(steps, [max(d, 1e-12) for d in dist], color="black")
    ax2.axhline(run.spec.tolerance, color="green", ls="--", lw=1,
                label=f"tolerance {run.spec.tolerance:g}")
    ax2.set_xlabel("step")
    ax2.set_ylabel(game.distance_words)
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


# -- internals ---------------------------------------------------------------------------------


def _diagnosis_section(diag: dict[str, Any]) -> dict[str, Any]:
    ev = diag.get("evidence") or {}
    keys = ("d_shape", "saturation_fraction", "d_range", "sign_changes_in_window",
            "window_snapshots", "first_non_finite_step")
    rows = [[k, _cell(ev[k])] for k in keys if k in ev]
    return {"heading": f"Diagnosis: {diag['class']}", "text": [diag["reason"]],
            "table": {"columns": ["evidence", "value"], "rows": rows}}


def _own(f: Path) -> bool:
    """A regular file of the run's own, not reached through a symbolic link (the file or its
    folder): a crafted folder never puts another file into the page, which gets shared."""
    return f.is_file() and not f.is_symlink() and not f.parent.is_symlink()


def _animation_section(path: Path, how: str) -> dict[str, Any]:
    for fmt, mime, video in ANIMATIONS:
        f = rundir.animation_path(path, fmt)
        if _own(f):
            return {"heading": "Animation", "figures": [
                {"caption": f.name, "mime": mime, "data": f.read_bytes(), "video": video}]}
    again = f"pointgan report {shlex.quote(str(path))}"
    return {"heading": "Animation", "text": [f"No animation yet: `{how}` makes one; run "
                                             f"`{again}` again to include it."]}


def _chart_caption(stem: str) -> str:
    known = {"weights": "w and b over training, per group",
             "success": "success rate per group with 95% Wilson intervals",
             "map": "stability map"}
    base = stem.split("-", 1)[0]
    return known.get(stem, f"{known.get(base, stem)} ({stem})")


def _paired(group: dict[str, Any]) -> str:
    """``p = 0.031 vs baseline`` when the sweep compared the group with a reference group."""
    p, ref = group.get("mcnemar_p"), group.get("reference")
    if p is None or not ref:
        return "-"
    holm = group.get("mcnemar_p_holm")
    return f"p = {p:.3g} vs {ref}" + ("" if holm is None else f" (Holm {holm:.3g})")


def _classes(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _json(path: Path) -> dict[str, Any] | None:
    """A JSON file the sweep wrote (None when unreadable: the page then draws no such map)."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "-" if v is None else str(v)
