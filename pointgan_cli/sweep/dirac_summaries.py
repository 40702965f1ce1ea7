"""A Dirac-GAN sweep's results: per-group verdicts beside the paper's, the grid figure of
(theta, psi) panels and a markdown table.

A group *converges* when every member's summary says ``converged`` (inside the tolerance for
the whole success window), *does not converge* when none does, and is *mixed* otherwise. For
the groups of ``--study dirac`` the verdict is held against the paper's (``dirac_study``):
``agrees`` is true when "converges" meets "converges" and "does not converge" meets "does not
converge". Reads members through a ``SweepDir`` only; no timings, so a resumed sweep writes the
same bytes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..games import DIRAC
from ..spec import RunSpec
from ..store import sweepdir
from ..store.sweepdir import SweepDir
from . import dirac_study
from .dirac_study import LINEAR
from .summaries import class_counts, grouped_summaries, ranking, success, totals

GRID_PNG, TABLE_MD = sweepdir.DIRAC_GRID, sweepdir.DIRAC_TABLE
MIXED = "mixed"


def write_summaries(sweep_dir: SweepDir, members: list[tuple[str, str, RunSpec]]
                    ) -> dict[str, Any]:
    """Summarise the finished members, write the grid figure and the table, then
    ``summary.json`` (last: its presence means the sweep is complete)."""
    summary = summarize(sweep_dir, [(i, g) for i, g, _ in members])
    specs = {i: s for i, _, s in members}
    sweep_dir.write_file(GRID_PNG, grid_png(sweep_dir, summary, specs))
    sweep_dir.write_file(TABLE_MD, table_markdown(summary).encode())
    sweep_dir.write_summary(summary)
    return summary


def group_verdict(k: int, n: int) -> str:
    return dirac_study.CONVERGES if k == n else dirac_study.DOES_NOT if k == 0 else MIXED


def summarize(sweep_dir: SweepDir, members: list[tuple[str, str]]) -> dict[str, Any]:
    """Group statistics and verdicts from the members' summaries, groups in sweep order."""
    groups = grouped_summaries(sweep_dir, members)
    out = []
    for name, items in groups.items():
        counts = success(items)
        dist = np.array([s["distance"] for _, s in items], dtype=np.float64)
        verdict = group_verdict(counts["converged"], counts["n"])
        exp = dirac_study.expectation(name)
        out.append({
            "group": name,
            **counts,
            "diverged": sum(1 for _, s in items if s["status"] == "diverged"),
            "classes": class_counts(items),
            "theta_mean": _mean([s["theta"] for _, s in items]),
            "psi_mean": _mean([s["psi"] for _, s in items]),
            "final_distance_median": float(np.median(dist)),
            "verdict": verdict,
            "expected": None if exp is None else exp["expected"],
            "expected_from": None if exp is None else exp["source"],
            "why": None if exp is None else exp["why"],
            "agrees": None if exp is None else verdict == exp["expected"],
            "failed": [i for i, s in items if not s["converged"]],
            "members": [i for i, _ in items],
        })
    judged = [g for g in out if g["agrees"] is not None]
    paper = [g for g in judged if g["expected_from"] != LINEAR]
    own = [g for g in judged if g["expected_from"] == LINEAR]
    return {"schema_version": 1, "game": DIRAC.name, **totals(out),
            "groups": out, "ranking": ranking(out),
            "agreement": {"groups_judged": len(judged),
                          "agree": sum(1 for g in judged if g["agrees"]),
                          "disagree": [g["group"] for g in judged if not g["agrees"]],
                          "paper_judged": len(paper),
                          "paper_agree": sum(1 for g in paper if g["agrees"]),
                          "linearisation_judged": len(own),
                          "linearisation_agree": sum(1 for g in own if g["agrees"])}}


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _mark(g: dict[str, Any]) -> str:
    return "" if g["agrees"] is None else ("agrees" if g["agrees"] else "DISAGREES")


def table_markdown(summary: dict[str, Any]) -> str:
    """The verdicts as a markdown table (what ``docs/dirac.md`` quotes)."""
    lines = ["| group | converged | verdict | expected | from | median final distance | "
             "classes |", "|---|---|---|---|---|---|---|"]
    for g in summary["groups"]:
        classes = ", ".join(f"{c} {n}" for c, n in g["classes"].items())
        exp = "—" if g["expected"] is None else f"{g['expected']} ({_mark(g)})"
        lines.append(f"| {g['group']} | {g['converged']}/{g['n']} | {g['verdict']} | {exp} | "
                     f"{g['expected_from'] or '—'} | {g['final_distance_median']:.3g} | "
                     f"{classes} |")
    a = summary["agreement"]
    lines.append("")
    lines.append(f"{a['paper_agree']} of {a['paper_judged']} groups with a result stated in the "
                 f"paper agree; {a['linearisation_agree']} of {a['linearisation_judged']} agree "
                 f"with this project's own linearisation (not the paper's)"
                 + (f"; disagree: {', '.join(a['disagree'])}" if a["disagree"] else "") + ".")
    return "\n".join(lines) + "\n"


def grid_png(sweep_dir: SweepDir, summary: dict[str, Any], specs: dict[str, RunSpec]) -> bytes:
    """One (theta, psi) panel per group: its field, its first member's trajectory, the start,
    the equilibrium, and the verdict (green: converges; red: does not or mixed)."""
    from ..render.phase import grid_figure, palette_png

    panels = []
    for g in summary["groups"]:
        mid = g["members"][0]
        rows = sweep_dir.members.metrics(mid)
        theta = np.array([r["theta"] for r in rows], dtype=np.float64)
        psi = np.array([r["psi"] for r in rows], dtype=np.float64)
        title = f"{g['group']}: {g['verdict']} ({g['converged']}/{g['n']})"
        if g["expected"] is not None:
            title += f"\npaper: {g['expected']}" if g["expected_from"] == dirac_study.PAPER \
                else f"\nlinearisation: {g['expected']}"
            title += " " + ("✓" if g["agrees"] else "✗")
        ok = g["verdict"] == dirac_study.CONVERGES
        panels.append({"spec": specs[mid], "theta": theta, "psi": psi, "title": title,
                       "ok": ok})
    ncols = 4 if len(panels) > 9 else min(3, len(panels))
    s0 = specs[summary["groups"][0]["members"][0]]
    fig = grid_figure(panels, ncols, f"Dirac-GAN from ({s0.init}), {s0.steps} steps of "
                                     f"{s0.optimizer} lr {s0.lr_g:g}: field, trajectory, "
                                     f"equilibrium (star), start (red)")
    return palette_png(fig, 90)
