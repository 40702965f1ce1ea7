"""Stability maps: a sweep's success rate over a plane of two hyper-parameters.

The study reports single points (noise 0.5 / 1.5, weight decay 0.1 / 1e-3 / 1e-5) and draws a
conclusion about a whole region ("the right weight decay depends on the noise level"). A map
answers the question behind it: over a grid of two numeric spec fields, with many seeds per
cell, where does training converge, and when it does not, how does it fail?

Every variant of a sweep whose grid varies exactly two numeric fields is one plane (other grid
fields may hold one value). Each cell is one statistics group of the sweep's ``summary.json``:
its ``n``, ``converged``, rate, Wilson interval and class counts are copied from there, never
recomputed, so the map and the summary cannot disagree (a summary from before class counts: the
members' own ``class``, the one verdict written when each run finished).

Files: ``map.png`` (the figure, ``mapplot``), ``map.json`` and ``map.csv`` (every cell); a sweep
with several planes (``--study map``) writes ``map-<variant>.*`` for each. The names belong to
``sweepdir``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import verdict
from ..spec import RunSpec, flag_name, resolve_spec
from ..store import atomic, sweepdir
from ..store.sweepdir import SweepDir
from .spec import SweepSpec, Variant, group_name, slug, study_variants, variant_grid

#: Every class a run can end in (``summary.json``'s ``class``, decided by ``verdict``),
#: converged first; the failures in the order the class panel breaks ties.
CLASSES, FAILURES = verdict.CLASSES, verdict.FAILURES

#: Axis names in words for the fields a map is usually drawn over (others: the field's name).
AXIS_WORDS = {
    "noise_scale": "noise on G's parameters in D's step (std)",
    "weight_decay": "D weight decay",
    "lr_g": "generator learning rate",
    "lr_d": "discriminator learning rate",
    "inner_batch": "noise draws per D step",
    "batch_size": "samples per step",
    "steps": "training steps",
    "label_easing": "label easing",
    "fake_weight": "weight of fake examples",
    "instance_noise": "instance noise (std)",
    "r1": "R1 gamma",
    "r2": "R2 gamma",
    "gp_weight": "gradient-penalty weight",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "consensus": "consensus gamma",
    "lecam": "LeCam lambda",
    "d_steps": "D steps per G step",
}
#: Spec fields that set a run's budget or bookkeeping, not the method: a study setting counts as
#: lying on a plane when every other field agrees.
BUDGET = {"preset", "seed", "steps", "snapshot_every", "checkpoint_every", "device",
          "engine"}


@dataclass
class Axis:
    field: str
    values: list[float]  # sorted ascending
    log: bool

    @property
    def label(self) -> str:
        words = AXIS_WORDS.get(self.field, self.field.replace("_", " "))
        return f"{words}  ({flag_name(self.field)}{', log scale' if self.log else ''})"

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "label": self.label, "scale": "log" if self.log else "linear",
                "values": self.values}


@dataclass
class Plane:
    """One map: a variant over two numeric axes (other grid fields fixed at one value)."""

    variant: Variant
    x: Axis
    y: Axis
    fixed: dict[str, Any]  # single-valued grid fields
    order: list[str]  # the variant's grid fields in sweep order (group names follow it)
    name: str | None = None  # None: the sweep's only map (map.*), else map-<name>.*
    cells: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)  # the study's settings on it

    def group(self, xv: float, yv: float) -> str:
        point = {**self.fixed, self.x.field: xv, self.y.field: yv}
        return group_name(self.variant.label, {f: point[f] for f in self.order})


def _numeric(field_name: str) -> bool:
    return RunSpec.model_fields[field_name].annotation in (int, float)


def _is_log(values: list[float]) -> bool:
    """Log-scaled when all values are positive and either evenly spaced in log but not in
    value, or spanning two decades or more (a user's list like 1e-5,1e-3,0.1)."""
    if len(values) < 2 or min(values) <= 0:
        return False
    if max(values) / min(values) >= 100:
        return True
    if len(values) < 3:
        return False
    lin = [b - a for a, b in zip(values, values[1:])]
    ratio = [b / a for a, b in zip(values, values[1:])]
    return _even(ratio) and not _even(lin)


def _even(steps: list[float]) -> bool:
    return max(steps) - min(steps) <= 1e-3 * max(abs(v) for v in steps)


def planes(sweep: SweepSpec) -> list[Plane]:
    """The maps a sweep draws: one per variant whose grid varies exactly two numeric fields."""
    out = []
    for variant in sweep.variants:
        grid = variant_grid(sweep, variant)
        varying = [f for f, v in grid.items() if len(v) > 1]
        if len(varying) != 2 or not all(_numeric(f) for f in varying):
            continue
        axes = [Axis(f, sorted(float(v) for v in grid[f]), False) for f in varying]
        for a in axes:
            a.log = _is_log(a.values)
        fixed = {f: v[0] for f, v in grid.items() if len(v) == 1}
        out.append(Plane(variant, axes[0], axes[1], fixed, list(grid)))
    if len(out) > 1:
        for p in out:
            p.name = slug(p.variant.label)
    return out


def _cell_values(plane: Plane, sweep: SweepSpec) -> dict[tuple[float, float], Any]:
    """Grid values as the sweep typed them (int or float), keyed by float coordinates."""
    grid = variant_grid(sweep, plane.variant)
    return {(float(xv), float(yv)): (xv, yv) for xv in grid[plane.x.field]
            for yv in grid[plane.y.field]}


def fill(plane: Plane, sweep: SweepSpec, sweep_dir: SweepDir, summary: dict[str, Any]) -> None:
    """The plane's cells from the sweep summary's groups and the members' classes."""
    groups = {g["group"]: g for g in summary["groups"]}
    typed = _cell_values(plane, sweep)
    plane.cells = []
    for yv in plane.y.values:
        for xv in plane.x.values:
            tx, ty = typed[(xv, yv)]
            g = groups[plane.group(tx, ty)]
            classes = dict.fromkeys(CLASSES, 0)
            classes.update(g["classes"] if "classes" in g else _member_classes(sweep_dir, g))
            failures = {c: k for c, k in classes.items() if c != "converged" and k}
            dominant = max(failures, key=lambda c: (failures[c], -_rank(c))) if failures else None
            plane.cells.append({
                plane.x.field: tx, plane.y.field: ty, "group": g["group"], "n": g["n"],
                "converged": g["converged"], "rate": g["success_rate"],
                "wilson_low": g["wilson_low"], "wilson_high": g["wilson_high"],
                "classes": classes, "dominant_failure": dominant, "members": g["members"],
            })
    plane.points = study_points(plane, sweep)


def _member_classes(sweep_dir: SweepDir, group: dict[str, Any]) -> dict[str, int]:
    """Class counts from the members' summaries (a sweep summary without ``classes``)."""
    counts: dict[str, int] = {}
    for mid in group["members"]:
        s = sweep_dir.members.summary(mid) or {}
        cls = s.get("class") or ("diverged" if s.get("status") == "diverged" else
                                 "converged" if s.get("converged") else "unclassified")
        counts[cls] = counts.get(cls, 0) + 1
    return counts


def _rank(cls: str) -> int:
    return FAILURES.index(cls) if cls in FAILURES else len(FAILURES)


def study_points(plane: Plane, sweep: SweepSpec) -> list[dict[str, Any]]:
    """The study's own settings (``--study article``'s experiments under this sweep's flags)
    that lie on the plane: every field but the two axes and the budget equals the plane's, and
    the point is inside the axes' ranges (and above 0 on a log axis)."""
    config = Path(sweep.config) if sweep.config else None
    out: list[dict[str, Any]] = []
    # one budget (the sweep's): the budget is not part of a plane's point
    for v in study_variants("article", steps=sweep.overrides.get("steps", 1)):
        try:
            theirs = resolve_spec(v.preset, config, {**sweep.overrides, **v.overrides})
        except Exception:  # a flag of this sweep that the study's preset rejects: not on it
            continue
        px, py = getattr(theirs, plane.x.field), getattr(theirs, plane.y.field)
        if not (_inside(plane.x, px) and _inside(plane.y, py)):
            continue
        ov = {**sweep.overrides, **plane.variant.overrides, **plane.fixed,
              plane.x.field: px, plane.y.field: py}
        try:
            ours = resolve_spec(plane.variant.preset, config, ov)
        except Exception:
            continue
        label = v.label if {"lr_g", "lr_d"} & {plane.x.field, plane.y.field} else \
            v.label.rsplit(" lr=", 1)[0]  # the study's lr is the plane's: say it once
        if _method(ours) == _method(theirs) and all(p["label"] != label for p in out):
            out.append({"label": label, plane.x.field: px, plane.y.field: py})
    return out


def _inside(axis: Axis, v: float) -> bool:
    lo, hi = axis.values[0], axis.values[-1]
    return (v > 0 or not axis.log) and lo - 1e-12 * abs(lo) <= v <= hi + 1e-12 * abs(hi)


def _method(spec: RunSpec) -> dict[str, Any]:
    d = {k: v for k, v in spec.model_dump().items() if k not in BUDGET}
    d["inner_batch"] = spec.effective_inner_batch  # without noise the draws are all one
    return d


def document(plane: Plane, sweep: SweepSpec) -> dict[str, Any]:
    """``map.json``: the plane, the criterion, the study's points and every cell."""
    config = Path(sweep.config) if sweep.config else None
    spec = resolve_spec(plane.variant.preset, config,
                        {**sweep.overrides, **plane.variant.overrides, **plane.fixed})
    return {
        "schema_version": 1,
        "variant": plane.variant.label,
        "preset": plane.variant.preset,
        "x": plane.x.as_json(),
        "y": plane.y.as_json(),
        "fixed": plane.fixed,
        "criterion": {"tolerance": spec.tolerance,
                      "success_window": spec.success_window,
                      "steps": spec.steps},
        "seeds": sweep.seeds,
        "study_points": plane.points,
        "cells": plane.cells,
    }


def table(plane: Plane) -> str:
    """``map.csv``: one row per cell (the members are in ``map.json``)."""
    buf = io.StringIO()
    extra = sorted({c for cell in plane.cells for c in cell["classes"]} - set(CLASSES))
    cols = [plane.x.field, plane.y.field, "n", "converged", "rate", "wilson_low", "wilson_high",
            *(f"class_{c}" for c in (*CLASSES, *extra)), "dominant_failure", "group"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for c in plane.cells:
        w.writerow([c[plane.x.field], c[plane.y.field], c["n"], c["converged"], repr(c["rate"]),
                    repr(c["wilson_low"]), repr(c["wilson_high"]),
                    *(c["classes"].get(k, 0) for k in (*CLASSES, *extra)),
                    c["dominant_failure"] or "", c["group"]])
    return buf.getvalue()


def map_outputs(sweep_dir: SweepDir, sweep: SweepSpec, summary: dict[str, Any]
                ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, bytes]]]:
    """Every map of the sweep (none when no variant has two numeric axes): the figures to
    draw, ``(png name, document)`` (``mapplot.draw``), and the tables' bytes, ``(name,
    data)`` for each ``.json`` and ``.csv``."""
    figures: list[tuple[str, dict[str, Any]]] = []
    tables: list[tuple[str, bytes]] = []
    for plane in planes(sweep):
        fill(plane, sweep, sweep_dir, summary)
        doc = document(plane, sweep)
        names = sweepdir.map_names(plane.name)
        figures.append((names["png"], doc))
        tables.append((names["json"], (atomic.dumps(doc, indent=1) + "\n").encode("utf-8")))
        tables.append((names["csv"], table(plane).encode("utf-8")))
    return figures, tables
