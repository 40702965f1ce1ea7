"""The report's explorer data (``report.explore``): decimation, float16 packing, times to
converge and tolerance curves from metrics or from the summaries' own fields. The page built from
it is tested in a real Chromium in tests/test_report_assets.py."""

from __future__ import annotations

import base64

import numpy as np

from pointgan_cli import verdict
from pointgan_cli.report import explore
from pointgan_cli.spec import RunSpec
from pointgan_cli.store.rundir import Run


def unpack(b64: str, width: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f2").astype(np.float64).reshape(-1, width)


# -- the data ----------------------------------------------------------------------------------


def test_decimation_keeps_first_and_last_within_the_cap():
    assert explore.decimate(5, 10) == [0, 1, 2, 3, 4]
    kept = explore.decimate(121, 61)
    assert kept[0] == 0 and kept[-1] == 120 and len(kept) <= 61
    assert all(b - a == 2 for a, b in zip(kept, kept[1:]))
    kept = explore.decimate(201, 24)
    assert kept[-1] == 200 and len(kept) <= 25
    assert explore.frame_cap(1024, 11) == 71 and explore.frame_cap(1, 11) == explore.MAX_FRAMES


def fake_run(distances: list[float], summary: dict | None = None, tol: float = 0.1,
             losses: bool = False) -> Run:
    spec = RunSpec(steps=10 * (len(distances) - 1), tolerance=tol, snapshot_every=10)
    rows = [{"step": 10 * k, **dict.fromkeys(explore.COLUMNS, 0.25), "w": 0.0, "b": 1.0 + d,
             "distance": d} for k, d in enumerate(distances)]
    if not losses:
        rows = [{k: v for k, v in r.items() if k not in ("g_loss", "d_loss")} for r in rows]
    return Run(path=None, spec=spec, command="", metrics=rows, summary=summary)


def test_converged_at_from_metrics_or_from_the_summary_when_it_has_one():
    assert explore.converged_at(fake_run([0.5, 0.05, 0.2, 0.09, 0.01])) == 30
    assert explore.converged_at(fake_run([0.5, 0.05, 0.2, 0.09, 0.12])) is None
    assert explore.converged_at(fake_run([0.01, 0.02])) == 0
    assert explore.converged_at(fake_run([0.5, 0.01], {"status": "diverged"})) is None
    assert explore.converged_at(fake_run([0.5, 0.01], {"converged_at": 7})) == 7


def test_a_member_without_losses_packs_its_parameters_only():
    full_rows = fake_run([0.5, 0.2, 0.05], losses=True).metrics
    bare = [{k: v for k, v in r.items() if k not in ("g_loss", "d_loss")} for r in full_rows]
    spec = RunSpec(steps=20, snapshot_every=10)
    b = explore.Builder("sweep", 2)
    b.add("full", "g", Run(None, spec, "", full_rows, None), {"class": "stuck", "reason": ""})
    b.add("bare", "g", Run(None, spec, "", bare, None), {"class": "stuck", "reason": ""})
    full, part = b.data()["members"]
    assert "nl" not in full and part["nl"] is True
    width = len(explore.COLUMNS)
    assert unpack(part["p"], width - 2).tolist() == unpack(full["p"], width)[:, :-2].tolist()
    assert b.data()["groups"][0]["losses"] == {"loss": "bce", "g_loss": "non-saturating",
                                               "label_easing": 0.0, "fake_weight": 1.0}


def test_tolerance_curve_from_the_window_or_the_summarys_success_by_tolerance():
    b = explore.Builder("sweep", 3)
    runs = [fake_run([0.5] * 10 + [d] * 11) for d in (0.04, 0.12, 0.25)]
    for i, r in enumerate(runs):
        b.add(f"m{i}", "g", r, {"class": "converged" if i == 0 else "stuck", "reason": ""})
    (g,) = b.data()["groups"]
    curve = {t: c for t, c, n in g["tolcurve"]}
    assert curve == {0.02: 0, 0.03: 0, 0.05: 1, 0.075: 1, 0.1: 1, 0.15: 2, 0.2: 2, 0.3: 3}
    assert g["at"] == [100] and g["n"] == 3 and g["converged"] == 1
    given = [{"tol": 0.05, "converged": 2, "n": 3}, {"tol": 0.1, "converged": 3, "n": 3}]
    (g,) = b.data({"groups": [{"group": "g", "success_by_tolerance": given}]})["groups"]
    assert g["tolcurve"] == [[0.05, 2, 3], [0.1, 3, 3]]


def synthetic_sweep_model(members: int, snapshots: int) -> dict:
    """A page model with ``members`` made-up members of ``snapshots`` snapshots each (the
    default cadence of 6,000 steps gives 121), for the size and speed of the page alone."""
    rng = np.random.default_rng(0)
    spec = RunSpec(steps=6000)
    b = explore.Builder("sweep", members)
    for i in range(members):
        walk = np.cumsum(rng.normal(0, 0.05, (snapshots, len(explore.COLUMNS))), axis=0)
        rows = [{"step": 50 * k, **dict(zip(explore.COLUMNS, map(float, walk[k]))),
                 "distance": abs(float(walk[k, 0])) + abs(float(walk[k, 1]))}
                for k in range(snapshots)]
        run = Run(path=None, spec=spec.model_copy(update={"seed": i}), command="",
                  metrics=rows, summary=None)
        cls = verdict.CLASSES[i % len(verdict.CLASSES)]
        b.add(f"g{i % 4}-s{i:04d}", f"g{i % 4}", run,
              {"class": cls, "reason": f"{cls}: made up for the size test " + "x" * 120})
    rows = [[str(k + 1), f"g{k}", str(members // 4)] for k in range(4)]
    return {"kind": "sweep", "title": "Sweep big", "path": "big", "command": "pointgan sweep",
            "sections": [{"heading": "Results per group", "table": {
                "columns": ["rank", "group", "n"], "rows": rows, "id": "groups",
                "keys": [f"g{k}" for k in range(4)]}}],
            "explorer": b.data()}


def test_a_1024_member_page_stays_small():
    """1,024 members at the default cadence (121 snapshots): 61 kept each, the page under 4 MB
    before its charts (a real sweep's page: 2.5 MB, docs/results.md)."""
    from pointgan_cli.report.html import render

    model = synthetic_sweep_model(1024, 121)
    data = model["explorer"]
    assert {len(s) for s in data["steps"]} == {61} and len(data["members"]) == 1024
    assert all(len(base64.b64decode(m["p"])) == 61 * len(explore.COLUMNS) * 2
               for m in data["members"])
    assert len(render(model).encode("utf-8")) <= 4.0e6

