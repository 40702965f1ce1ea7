"""The numbers the report's explorer draws, built once and embedded in the page as one JSON block.

Why a separate model: the page's script draws everything (member curves, D's curve at a
snapshot, the tolerance and convergence curves) from these numbers, so they must be compact.
A member's snapshots are decimated evenly to what a screen shows (first and last kept; the
exact values stay in the run directory), and packed as little-endian float16 in base64: per
snapshot w, b, D's seven parameters and the two losses (a Dirac-GAN member: theta, psi and the
losses). float16 keeps 3 significant digits, which is what a plot of a few hundred pixels shows;
non-finite values stay non-finite. A 1,024-member sweep at the default cadence fits in about
2 MB this way, where JSON numbers would take 15 MB.

Time to converge (``converged_at``) and the tolerance curve (``success_by_tolerance``) are taken
from the summaries when they carry them, and otherwise computed here from the members' metrics
with the same definitions: ``converged_at`` is the first snapshot step after which the run stays
inside its tolerance to the end (None if it never does); a group's success at tolerance t counts
the members that did not diverge and stayed below t over the whole success window.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from .. import verdict
from ..games import DIRAC, game_of, named
from ..store.rundir import Run

#: The columns packed per snapshot of a PointGAN member (D's parameters in models.D_NAMES order).
COLUMNS = ("w", "b", "d_W1_0", "d_W1_1", "d_c1_0", "d_c1_1", "d_W2_0", "d_W2_1", "d_c2",
           "g_loss", "d_loss")
DIRAC_COLUMNS = ("theta", "psi", "g_loss", "d_loss")
#: Tolerances of the tolerance curve when the summary has none of its own (the run's own
#: tolerance is added).
TOLERANCES = (0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
#: Values (snapshots x columns x members) a sweep's page embeds at most, before decimating
#: further; each member keeps at least MIN_FRAMES and at most MAX_FRAMES snapshots.
VALUE_BUDGET = 800_000
MIN_FRAMES, MAX_FRAMES = 24, 241
#: Gauss-Hermite nodes of the Dirac field's instance-noise expectation (as engine.dirac's).
HERMITE_NODES = 40
#: The spec fields the page needs to compute losses from parameters (``assets/losses.js``).
LOSS_FIELDS = ("loss", "g_loss", "label_easing", "fake_weight")
#: The Dirac-GAN spec fields the page's vector field needs.
DIRAC_FIELDS = ("loss", "g_loss", "label_easing", "fake_weight", "r1", "r2", "gp_weight",
                "weight_decay", "instance_noise", "consensus", "lecam")


def frame_cap(members: int, columns: int) -> int:
    """Snapshots kept per member so that ``members`` members stay within VALUE_BUDGET."""
    return max(MIN_FRAMES, min(MAX_FRAMES, VALUE_BUDGET // max(1, members * columns)))


def decimate(n: int, cap: int) -> list[int]:
    """Indices of ``n`` snapshots kept under ``cap``: every k-th, the last always kept."""
    if n <= cap:
        return list(range(n))
    k = math.ceil((n - 1) / (cap - 1))
    idx = list(range(0, n, k))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return idx


def pack(values: np.ndarray) -> str:
    """float16 little-endian, base64 (the page decodes it with ``data.js``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        half = np.asarray(values, dtype=np.float64).astype("<f2")
    return base64.b64encode(half.tobytes()).decode("ascii")


def converged_at(run: Run) -> int | None:
    """The summary's ``converged_at`` when it has one, else the first snapshot step after which
    the distance stays below the tolerance to the end (None if the last one is outside or the
    run diverged)."""
    summary = run.summary or {}
    if "converged_at" in summary:
        return summary["converged_at"]
    if summary.get("status") == "diverged":
        return None
    tol, at = run.spec.tolerance, None
    for row in reversed(run.metrics):
        d = row.get("distance")
        if not isinstance(d, (int, float)) or not math.isfinite(d) or d >= tol:
            break
        at = int(row["step"])
    return at


def window_max(run: Run) -> float | None:
    """The summary's largest distance over the success window, else the metrics'."""
    summary = run.summary or {}
    if summary.get("window_max_distance") is not None:
        return float(summary["window_max_distance"])
    start = verdict.window_start(run.spec.steps, run.spec.success_window)
    ds = [float(r["distance"]) for r in run.metrics if int(r["step"]) >= start]
    return max(ds) if ds and all(math.isfinite(d) for d in ds) else None


class Builder:
    """Collects members one by one (``add``) and returns the page's data (``data``)."""

    def __init__(self, kind: str, members: int):
        self.kind, self.expected = kind, members
        self.groups: dict[str, dict[str, Any]] = {}
        self.members: list[dict[str, Any]] = []
        self.stepsets: dict[tuple[int, ...], int] = {}
        self.game = "pointgan"

    def add(self, mid: str, group: str, run: Run | None, diag: dict[str, Any]) -> None:
        """One member: its run (None when it has no metrics) and its ``diagnose run`` result."""
        g = self._group(group, run)
        m: dict[str, Any] = {"id": mid, "g": g["i"], "c": diag["class"], "r": diag["reason"],
                             "seed": None, "at": None, "st": None, "p": None}
        g["members"].append(len(self.members))
        self.members.append(m)
        if run is None or not run.metrics:
            return
        cols: tuple[str, ...] = DIRAC_COLUMNS if game_of(run.spec) is DIRAC else COLUMNS
        keep = decimate(len(run.metrics), frame_cap(self.expected, len(cols)))
        rows = [run.metrics[k] for k in keep]
        if not all(isinstance(r.get("g_loss"), (int, float)) for r in rows):
            cols = cols[:-2]  # parameters only (a store read without losses): the page
            m["nl"] = True  # computes them from the parameters
        table = np.array([[_num(r.get(c)) for c in cols] for r in rows], dtype=np.float64)
        steps = tuple(int(r["step"]) for r in rows)
        m.update(seed=run.spec.seed, at=converged_at(run), p=pack(table),
                 st=self.stepsets.setdefault(steps, len(self.stepsets)))
        g["wmax"].append(None if m["c"] == verdict.DIVERGED else window_max(run))

    def _group(self, name: str, run: Run | None) -> dict[str, Any]:
        if name not in self.groups:
            g: dict[str, Any] = {"i": len(self.groups), "name": name, "members": [],
                                 "wmax": [], "tol": None, "steps": None, "real": 0.0}
            self.groups[name] = g
        g = self.groups[name]
        if run is not None and g["steps"] is None:
            spec = run.spec
            self.game = spec.game
            g.update(tol=spec.tolerance, steps=spec.steps,
                     real=game_of(spec).target(spec),
                     losses={k: getattr(spec, k) for k in LOSS_FIELDS})
            if game_of(spec) is DIRAC:
                g["field"] = dirac_field_spec(spec)
        return g

    def data(self, summary: dict[str, Any] | None = None,
             planes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The page's data: groups (with their tolerance curve and times to converge), members,
        the decimated step lists and the planes of the sweep's maps (one per ``map*.json``)."""
        by_name = {g["group"]: g for g in (summary or {}).get("groups", [])}
        groups = []
        for g in self.groups.values():
            s = by_name.get(g["name"], {})
            ms = [self.members[i] for i in g["members"]]
            out = {k: g.get(k) for k in ("name", "members", "tol", "steps", "real", "losses")}
            out["n"] = len(ms)
            out["converged"] = sum(m["c"] == verdict.CONVERGED for m in ms)
            out["at"] = sorted(m["at"] for m in ms if m["at"] is not None)
            out["tolcurve"] = _tolcurve(s, g)
            if "field" in g:
                out["field"] = g["field"]
            groups.append(out)
        return {"v": 1, "kind": self.kind, "game": self.game, "view": named(self.game).view,
                "names": list(named(self.game).judged),
                "columns": list(DIRAC_COLUMNS if named(self.game) is DIRAC else COLUMNS),
                "groups": groups, "members": self.members,
                "steps": [list(s) for s in self.stepsets], "maps": planes or []}


def dirac_field_spec(spec: Any) -> dict[str, Any]:
    """What the page needs to draw a Dirac-GAN spec's vector field (``assets/dirac.js``):
    the loss settings and, with instance noise, the Gauss-Hermite nodes and weights of its
    expectation (as ``engine.dirac.expected_field`` takes it; numpy's probabilists' rule)."""
    out: dict[str, Any] = {k: getattr(spec, k) for k in DIRAC_FIELDS}
    if spec.instance_noise > 0:
        from numpy.polynomial.hermite_e import hermegauss

        nodes, weights = hermegauss(HERMITE_NODES)
        out["nodes"] = (nodes * spec.instance_noise).tolist()
        out["weights"] = (weights / weights.sum()).tolist()
    return out


def plane_of(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a ``map.json`` the page draws: both axes and each cell's group (None for a
    document that is not a map)."""
    if doc is None:
        return None
    try:
        axes: dict[str, Any] = {k: {"field": doc[k]["field"], "label": doc[k]["label"],
                    "values": list(doc[k]["values"])} for k in ("x", "y")}
        axes["variant"] = doc.get("variant")
        cells = [{"group": c["group"], "x": c[axes["x"]["field"]],
                  "y": c[axes["y"]["field"]]} for c in doc.get("cells", [])]
    except (KeyError, TypeError, AttributeError):
        return None
    return {**axes, "cells": cells}


def _tolcurve(summary_group: dict[str, Any], g: dict[str, Any]) -> list[list[float]]:
    """[[tol, converged, n], ...]: the summary's ``success_by_tolerance`` when present."""
    given = summary_group.get("success_by_tolerance")
    if given:
        return [[float(t["tol"]), int(t["converged"]), int(t["n"])] for t in given]
    tols = sorted(set(TOLERANCES) | ({g["tol"]} if g["tol"] else set()))
    n = len(g["members"])
    return [[t, sum(1 for w in g["wmax"] if w is not None and w < t), n] for t in tols]


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else math.nan
