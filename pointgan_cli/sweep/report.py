"""A sweep's results: per-group statistics (``summary.json``) and the study's charts.

Reads members through ``sweepdir`` only. The summary holds no timings, so an interrupted and
resumed sweep writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import sweepdir
from ..errors import RuntimeFailure
from . import maps
from .spec import SweepSpec, reference_groups
from .stats import paired, wilson

__all__ = ["paired", "wilson", "summarize", "write_report"]

def write_report(sweep_dir: Path, members: list[tuple[str, str]], real: float,
                 sweep: SweepSpec | None = None) -> dict[str, Any]:
    """Summarise finished members ``(id, group)`` and write the charts (with ``sweep``: its
    stability maps too, see ``maps``), then ``summary.json`` (last: its presence means the
    sweep is complete)."""
    summary = summarize(sweep_dir, members, None if sweep is None else reference_groups(sweep))
    sweepdir.write_file(sweep_dir, "weights.png", plot_weights(sweep_dir, summary, real))
    sweepdir.write_file(sweep_dir, "success.png", plot_success(summary))
    if sweep is not None:
        maps.write_maps(sweep_dir, sweep, summary)
    sweepdir.write_summary_csv(sweep_dir, summary_csv(summary))
    sweepdir.write_summary(sweep_dir, summary)
    return summary


def summarize(sweep_dir: Path, members: list[tuple[str, str]],
              references: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Group statistics from the members' summaries, groups in sweep order.

    ``references`` maps each group to the group it is compared with by the exact McNemar test
    on shared seeds (``sweep.spec.reference_groups``); without it the first group is everyone's
    reference. The reference's own ``mcnemar_p`` is null."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for mid, group in members:
        s = sweepdir.member_summary(sweep_dir, mid)
        if s is None:
            raise RuntimeFailure(f"member {mid} of {sweep_dir} has no readable summary")
        groups.setdefault(group, []).append((mid, s))
    if references is None:
        first = next(iter(groups), None)
        references = {g: first for g in groups}
    outcome = {name: {int(s["seed"]): bool(s["converged"]) for _, s in items}
               for name, items in groups.items()}
    out = []
    for name, items in groups.items():
        n = len(items)
        k = sum(1 for _, s in items if s["converged"])
        lo, hi = wilson(k, n)
        w = np.array([s["w"] for _, s in items], dtype=np.float64)
        b = np.array([s["b"] for _, s in items], dtype=np.float64)
        ref = references.get(name)
        pair = paired(outcome[name], outcome[ref]) if ref in outcome and ref != name else None
        classes: dict[str, int] = {}
        for _, s in items:
            cls = str(s.get("class", "converged" if s["converged"] else "unknown"))
            classes[cls] = classes.get(cls, 0) + 1
        out.append({
            "group": name,
            "n": n,
            "converged": k,
            "success_rate": k / n,
            "wilson_low": lo,
            "wilson_high": hi,
            "reference": ref,
            "mcnemar_p": None if pair is None else pair["mcnemar_p"],
            "paired": pair,
            "classes": classes,
            "median_final_distance": _stat(np.median, items, "final_distance"),
            "median_window_max_distance": _stat(np.median, items, "window_max_distance"),
            "mean_bias_b": _stat(np.mean, items, "bias_b"),
            "diverged": sum(1 for _, s in items if s["status"] == "diverged"),
            "w_mean": float(w.mean()),
            "w_std": float(w.std()),
            "b_mean": float(b.mean()),
            "b_std": float(b.std()),
            "failed": [i for i, s in items if not s["converged"]],
            "members": [i for i, _ in items],
        })
    total = sum(g["n"] for g in out)
    conv = sum(g["converged"] for g in out)
    ranked = sorted(out, key=lambda g: (-g["success_rate"], -g["wilson_low"]))
    ranking = [{"rank": i + 1, "group": g["group"], "success_rate": g["success_rate"],
                "wilson_low": g["wilson_low"], "wilson_high": g["wilson_high"]}
               for i, g in enumerate(ranked)]
    return {"schema_version": 1, "n": total, "converged": conv,
            "criterion": _criterion(groups), "groups": out, "ranking": ranking}


def _stat(fn, items: list[tuple[str, dict]], key: str) -> float | None:
    """``fn`` over the members' finite values of ``key`` (None when no member has one)."""
    vals = [float(s[key]) for _, s in items if isinstance(s.get(key), (int, float))
            and math.isfinite(s[key])]
    return float(fn(vals)) if vals else None


def _criterion(groups: dict[str, list[tuple[str, dict]]]) -> dict[str, Any]:
    """What "converged" meant for these members (from their summaries)."""
    sample = next((s for items in groups.values() for _, s in items), {})
    window = sample.get("verdict", {})
    return {"rule": "|w| + |b - real| < tolerance at every snapshot of the success window",
            "tolerance": sample.get("tolerance"), "window_fraction": window.get("fraction")}


#: ``summary.csv``'s columns: a group's row of ``summary.json`` (``failed``: member ids,
#: spaces; ``classes``: ``class:count`` pairs, spaces; empty: none, as JSON's null).
CSV_COLUMNS = ("rank", "group", "n", "converged", "success_rate", "wilson_low", "wilson_high",
               "reference", "mcnemar_p", "classes", "median_final_distance",
               "median_window_max_distance", "mean_bias_b", "diverged", "w_mean", "w_std",
               "b_mean", "b_std", "failed")


def summary_csv(summary: dict[str, Any]) -> bytes:
    """The per-group table as CSV (groups in sweep order, full float precision), so a
    spreadsheet or ``pandas.read_csv`` reads the same numbers as ``summary.json``."""
    import csv

    rank = {r["group"]: r["rank"] for r in summary.get("ranking", [])}
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for g in summary["groups"]:
        classes = g.get("classes") or {}
        row = dict(g, rank=rank.get(g["group"], ""), failed=" ".join(g.get("failed", [])),
                   classes=" ".join(f"{k}:{len(v) if isinstance(v, list) else v}"
                                    for k, v in classes.items()))
        out.writerow(["" if v is None else repr(v) if isinstance(v, float) else v
                      for v in (row.get(c) for c in CSV_COLUMNS)])
    return buf.getvalue().encode("utf-8")


def group_curves(sweep_dir: Path, member_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Steps (S,) and w, b per member (M, S, 2) from metrics.jsonl."""
    steps = None
    wb = []
    for mid in member_ids:
        rows = sweepdir.member_metrics(sweep_dir, mid)
        if steps is None:
            steps = np.array([r["step"] for r in rows])
        wb.append([[r["w"], r["b"]] for r in rows[: len(steps)]])
    return steps, np.array(wb, dtype=np.float64)


def plot_weights(sweep_dir: Path, summary: dict[str, Any], real: float) -> bytes:
    """The study's chart: per group, mean +- std of w and b over training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary["groups"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), sharex=True)
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    for gi, g in enumerate(groups):
        steps, wb = group_curves(sweep_dir, g["members"])
        mean, std = wb.mean(0), wb.std(0)
        colour = cmap(gi % cmap.N)
        for j, ax in enumerate(axes):
            ax.plot(steps, mean[:, j], color=colour, lw=1.6,
                    label=f"{g['group']} ({g['converged']}/{g['n']})")
            ax.fill_between(steps, mean[:, j] - std[:, j], mean[:, j] + std[:, j],
                            color=colour, alpha=0.18, lw=0)
    # Fixed windows around the targets (they hold every initial value): one runaway group
    # must not squash the others into a flat line. The title says when bands leave them.
    windows = ((-1.6, 1.6), (real - 2.2, real + 1.6))
    for ax, name, target, (lo, hi) in zip(axes, ("weight w", "bias b"), (0.0, real), windows):
        ax.axhline(target, color="black", ls="--", lw=1, label=f"target {target:g}")
        y0, y1 = ax.get_ylim()
        clipped = y0 < lo or y1 > hi
        ax.set_ylim(max(y0, lo), min(y1, hi))
        ax.set_title(f"{name}: mean ± std over seeds" + (" (axis clipped)" if clipped else ""))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    # Legend outside the axes: with many groups it would hide the curves.
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    return _png(fig, plt)


def plot_success(summary: dict[str, Any]) -> bytes:
    """Success rate per group with its Wilson 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary["groups"]
    names = [g["group"] for g in groups]
    rate = np.array([g["success_rate"] for g in groups])
    lo = rate - np.array([g["wilson_low"] for g in groups])
    hi = np.array([g["wilson_high"] for g in groups]) - rate
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(groups) + 3), 4.5))
    x = np.arange(len(groups))
    ax.bar(x, rate, color="#4c72b0", alpha=0.8)
    ax.errorbar(x, rate, yerr=[lo, hi], fmt="none", ecolor="black", capsize=4)
    for xi, g, r in zip(x, groups, rate):
        ax.text(xi, r + 0.015, f"{g['converged']}/{g['n']}", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("converged fraction")
    ax.set_title("success rate per group (Wilson 95% interval)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig, plt)


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
