"""A sweep's results: per-group statistics (``summary.json``, ``summary.csv``), written with
the study's charts (``charts``) and stability maps (``maps``).

Reads members through a ``SweepDir`` only. The summary holds no timings, so an interrupted and
resumed sweep writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import io
import math
from functools import partial
from typing import Any

import numpy as np

from .. import verdict
from ..errors import RuntimeFailure
from ..store.background import BackgroundWrites
from ..store.sweepdir import SweepDir
from ..training.runtime import gc_paused
from . import inference, maps, tolerance
from .drawer import Drawer, Job, draw
from .spec import SweepSpec, reference_groups
from .stats import paired, wilson

__all__ = ["paired", "wilson", "summarize", "write_summaries"]


def write_summaries(sweep_dir: SweepDir, members: list[tuple[str, str]], real: float,
                    sweep: SweepSpec | None = None, drawer: Drawer | None = None
                    ) -> dict[str, Any]:
    """Summarise finished members ``(id, group)`` and write the charts (with ``sweep``: its
    stability maps too, see ``maps``), then ``summary.json`` (last: its presence means the
    sweep is complete). The files are written in that order on a thread of their own
    (``store.background``): each chart is drawn while the one before it reaches the disk.
    With a started ``drawer`` the charts are drawn in its process while this one writes the
    tables; if it fails in any way they are drawn here as without one."""
    with gc_paused(), BackgroundWrites() as writes:
        summary = summarize(sweep_dir, members,
                            None if sweep is None else reference_groups(sweep))
        shared = {"summary": summary, "real": real}  # what every chart is drawn from
        jobs: list[Job] = [("weights.png", "weights", {}), ("success.png", "success", {}),
                           ("convergence.png", "convergence", {})]
        figures, tables = (maps.map_outputs(sweep_dir, sweep, summary) if sweep is not None
                           else ([], []))
        jobs += [(name, "map", {"doc": doc}) for name, doc in figures]

        def draw_here() -> None:
            for name, kind, args in jobs:
                data = draw(sweep_dir, kind, {**shared, **args})
                writes.submit(partial(sweep_dir.write_file, name, data))

        elsewhere = drawer is not None and drawer.submit(sweep_dir.path, jobs, shared)
        if not elsewhere:
            draw_here()
        for name, data in tables:
            writes.submit(partial(sweep_dir.write_file, name, data))
        writes.submit(partial(sweep_dir.write_summary_csv, summary_csv(summary)))
        if elsewhere and not drawer.wait():  # type: ignore[union-attr]
            draw_here()
        writes.submit(partial(sweep_dir.write_summary, summary))  # last, once all is done
    return summary


def grouped_summaries(sweep_dir: SweepDir, members: list[tuple[str, str]]
                      ) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The members' summaries ``(id, summary)`` by group, groups in sweep order, read in one
    pass; a member without a readable summary is a ``RuntimeFailure``."""
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    found = sweep_dir.members.summaries([mid for mid, _ in members])
    for (mid, group), s in zip(members, found):
        if s is None:
            raise RuntimeFailure(f"member {mid} of {sweep_dir.path} has no readable summary")
        groups.setdefault(group, []).append((mid, s))
    return groups


def summarize(sweep_dir: SweepDir, members: list[tuple[str, str]],
              references: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Group statistics from the members' summaries, groups in sweep order.

    ``references`` maps each group to the group it is compared with by the exact McNemar test
    on shared seeds (``sweep.spec.reference_groups``); without it the first group is everyone's
    reference. The reference's own ``mcnemar_p`` is null."""
    groups = grouped_summaries(sweep_dir, members)
    if references is None:
        first = next(iter(groups), None)
        references = {g: first for g in groups}
    outcome = {name: {int(s["seed"]): bool(s["converged"]) for _, s in items}
               for name, items in groups.items()}
    times = {name: _times(items) for name, items in groups.items()}
    criterion = _criterion(groups)
    tols = tolerance.tolerances(criterion["tolerance"])
    out = []
    for name, items in groups.items():
        w = np.array([s["w"] for _, s in items], dtype=np.float64)
        b = np.array([s["b"] for _, s in items], dtype=np.float64)
        ref = references.get(name)
        # the reference's key when this group is compared with one (not with itself)
        other = ref if ref is not None and ref in outcome and ref != name else None
        pair = paired(outcome[name], outcome[other]) if other is not None else None
        by_tol = tolerance.success_by_tolerance(items, groups[other] if other is not None
                                                else None, tols)
        conv = [(i, s) for i, s in items if s["converged"]]
        out.append({
            "group": name,
            **success(items),
            "reference": ref,
            "mcnemar_p": None if pair is None else pair["mcnemar_p"],
            "paired": pair,
            "classes": class_counts(items),
            "median_final_distance": _stat(np.median, items, "final_distance"),
            "median_window_max_distance": _stat(np.median, items, "window_max_distance"),
            "mean_bias_b": _stat(np.mean, conv, "bias_b"),
            "mean_bias_b_n": len(conv),
            "mean_bias_b_all": _stat(np.mean, items, "bias_b"),
            "success_by_tolerance": by_tol,
            "tolerance_robustness": tolerance.robustness(by_tol, criterion["tolerance"]),
            **inference.time_to_converge(times[name], _horizon(items),
                                         times[other] if other is not None else None),
            "diverged": sum(1 for _, s in items if s["status"] == "diverged"),
            "w_mean": float(w.mean()),
            "w_std": float(w.std()),
            "b_mean": float(b.mean()),
            "b_std": float(b.std()),
            "failed": [i for i, s in items if not s["converged"]],
            "members": [i for i, _ in items],
        })
    adjust(out)
    return {"schema_version": 1, **totals(out), "criterion": criterion, "groups": out,
            "ranking": ranking(out)}


def adjust(groups: list[dict[str, Any]]) -> None:
    """Holm-adjusted p-values over the table's comparisons (every group with a reference),
    beside the raw ones: ``mcnemar_p_holm``, and ``converged_at_test["p_holm"]``."""
    for g, p in zip(groups, inference.holm([g["mcnemar_p"] for g in groups])):
        g["mcnemar_p_holm"] = p
    tests = [g.get("converged_at_test") for g in groups]
    for t, p in zip(tests, inference.holm([None if t is None else t["p"] for t in tests])):
        if t is not None:
            t["p_holm"] = p


def _horizon(items: list[tuple[str, dict[str, Any]]]) -> int:
    """The last step at which a group's time to converge can be observed: its success
    window's first step (the largest over its runs if they differ). A run that enters the
    tolerance later has not shown that it stays (an orbit's last snapshot can be inside by
    chance), so it is censored there, and the curve's last value is exactly the group's
    window-verdict success rate (``converged_at <= window start`` iff converged)."""
    return max(verdict.window_start(int(s.get("steps") or 0),
                                    float((s.get("verdict") or {}).get("fraction")
                                          or verdict.DEFAULT_WINDOW))
               for _, s in items)


def _times(items: list[tuple[str, dict[str, Any]]]) -> dict[int, int | None]:
    """``{seed: converged_at}``, None for a run that did not converge by the window verdict
    (censored at ``_horizon``)."""
    return {int(s["seed"]): s.get("converged_at") if s["converged"] else None for _, s in items}


def success(items: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """n, converged, rate and its Wilson interval for a group's (id, summary) pairs."""
    n = len(items)
    k = sum(1 for _, s in items if s["converged"])
    lo, hi = wilson(k, n)
    return {"n": n, "converged": k, "success_rate": k / n, "wilson_low": lo, "wilson_high": hi}


def class_counts(items: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    """How many of a group's runs ended in each class (older summaries: by ``converged``)."""
    classes: dict[str, int] = {}
    for _, s in items:
        cls = str(s.get("class", "converged" if s["converged"] else "unknown"))
        classes[cls] = classes.get(cls, 0) + 1
    return classes


def totals(groups: list[dict[str, Any]]) -> dict[str, int]:
    """Members and converged members over every group."""
    return {"n": sum(g["n"] for g in groups), "converged": sum(g["converged"] for g in groups)}


def ranking(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups by success rate, ties by the lower Wilson bound."""
    ranked = sorted(groups, key=lambda g: (-g["success_rate"], -g["wilson_low"]))
    return [{"rank": i + 1, "group": g["group"], "success_rate": g["success_rate"],
             "wilson_low": g["wilson_low"], "wilson_high": g["wilson_high"]}
            for i, g in enumerate(ranked)]


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
               "reference", "mcnemar_p", "mcnemar_p_holm", "classes", "median_final_distance",
               "median_window_max_distance", "mean_bias_b", "mean_bias_b_n",
               "median_converged_at", "diverged", "w_mean", "w_std",
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


