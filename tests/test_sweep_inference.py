"""Time to converge (``converged_at``, the Kaplan-Meier curve, the paired sign test), Holm,
and the fields a sweep writes for them, checked against the members' own metrics."""

import json
import math

import pytest

from pointgan_cli import verdict
from pointgan_cli.sweep import inference


def test_converged_at_is_the_start_of_the_last_stretch_inside():
    steps = [0, 10, 20, 30, 40, 50]
    b = [2.0, 1.05, 1.5, 1.05, 1.02, 1.01]  # in at 10, out at 20, in from 30 on
    assert verdict.converged_at(steps, [0.0] * 6, b, real=1.0, tolerance=0.1) == 30
    assert verdict.converged_at(steps, [0.0] * 6, [*b[:-1], 1.2], real=1.0,
                                tolerance=0.1) is None  # out at the last snapshot
    assert verdict.converged_at(steps, [0.0] * 6, [1.0] * 6, real=1.0, tolerance=0.1) == 0
    assert verdict.converged_at(steps, [0.0] * 6, [*b[:-1], math.nan], real=1.0,
                                tolerance=0.1) is None


def test_curve_is_the_fraction_converged_with_wilson_band():
    curve = inference.convergence_curve([100, 300, None, 300, None], 400)
    assert [p["step"] for p in curve] == [0, 100, 300, 400]
    assert [p["converged"] for p in curve] == [0, 1, 3, 3]
    assert curve[-1]["fraction"] == pytest.approx(0.6)
    lo, hi = curve[2]["low"], curve[2]["high"]
    assert lo < 0.6 < hi
    med = inference.median_time(curve)
    assert med["median"] == 300 and med["low"] <= 300 and med["high"] is None
    assert inference.median_time(inference.convergence_curve([None] * 4, 50))["median"] is None


def test_sign_test_on_censored_pairs_matches_scipy_binomtest():
    from scipy import stats as sps  # here, not at import: scipy takes 1-2 s to load

    group = {0: 100, 1: 200, 2: None, 3: 50, 4: 400, 5: None, 6: 10, 7: 10}
    ref = {0: 300, 1: None, 2: None, 3: 60, 4: 100, 5: 500, 6: None, 7: 10}
    t = inference.paired_times(group, ref)
    # sooner: seeds 0, 1, 3, 6; later: 4, 5; ties: 2 (both never), 7 (equal)
    assert (t["group_sooner"], t["reference_sooner"], t["ties"]) == (4, 2, 2)
    assert t["p"] == pytest.approx(sps.binomtest(4, 6, 0.5).pvalue)
    assert t["median_difference"] == pytest.approx(-5.0)  # seeds 0, 3, 4, 7: -200 -10 300 0


def test_holm_matches_the_step_down_definition():
    p = [0.01, None, 0.04, 0.03, 0.5]
    adj = inference.holm(p)
    assert adj[1] is None
    assert adj[0] == pytest.approx(0.04)  # 4 * 0.01
    assert adj[3] == pytest.approx(0.09)  # 3 * 0.03
    assert adj[2] == pytest.approx(0.09)  # max(2 * 0.04, 0.09)
    assert adj[4] == pytest.approx(0.5)


def test_sweep_writes_time_to_converge_and_tolerance_curves(cli, tmp_path):
    out = tmp_path / "s"
    r = cli(["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-5", "--steps",
             "1500", "--workers", "1", "--out", out])
    assert r.exit_code == 0, r.output
    assert (out / "convergence.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    by = {g["group"]: g for g in summary["groups"]}
    for g in by.values():
        tols = [p["tol"] for p in g["success_by_tolerance"]]
        assert len(tols) >= 8 and 0.1 in tols and min(tols) <= 0.02 and max(tols) >= 0.3
        at = {p["tol"]: p for p in g["success_by_tolerance"]}
        assert at[0.1]["converged"] == g["converged"] and at[0.1]["n"] == g["n"]
        counts = [p["converged"] for p in g["success_by_tolerance"]]
        assert counts == sorted(counts)  # a looser tolerance never loses a run
        assert g["convergence_curve"][-1]["converged"] == g["converged"]
        assert len(g["median_converged_at_interval"]) == 2
        assert g["mean_bias_b_n"] == g["converged"]
    fixed = by["fixed"]
    test = fixed["converged_at_test"]
    assert test["n"] == 6 and "sign test" in test["test"]
    assert fixed["success_by_tolerance"][0]["p"] is not None
    assert by["baseline"]["converged_at_test"] is None
    assert by["baseline"]["success_by_tolerance"][0]["p"] is None
    # every member: converged_at from its own metrics, inside at every snapshot from then on
    seen = 0
    for mid in fixed["members"] + by["baseline"]["members"]:
        e = tmp_path / mid
        assert cli(["sweep", "export", out, mid, "--out", e]).exit_code == 0
        s = json.loads((e / "summary.json").read_text())
        rows = [json.loads(x) for x in (e / "metrics.jsonl").read_text().splitlines()]
        at = s["converged_at"]
        assert at == verdict.converged_at([r["step"] for r in rows], [r["w"] for r in rows],
                                          [r["b"] for r in rows], real=1.0, tolerance=0.1)
        if at is not None:
            seen += 1
            assert all(r["distance"] < 0.1 for r in rows if r["step"] >= at)
            assert any(r["distance"] >= 0.1 for r in rows if r["step"] < at) or at == 0
        if s["converged"]:
            assert at is not None and at <= s["verdict"]["start_step"]
    assert seen >= 3


def test_article_study_states_each_group_converged_by_step(cli, tmp_path):
    out = tmp_path / "a"
    r = cli(["sweep", "--study", "article", "--steps", "300", "--seeds", "0-1", "--workers", "1",
             "--out", out])
    assert r.exit_code == 0, r.output
    assert "converged by step" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    rows = {" ".join(line.split()[:2]): line.split()[2:] for line in r.stdout.splitlines()
            if line.startswith(("fixed lr=", "baseline lr="))}
    by = {g["group"]: g for g in summary["groups"]}
    slow = by["fixed lr=0.003"]  # 1,000 steps: its window starts at step 800
    assert slow["convergence_horizon"] == 800
    want = [f"{inference.fraction_by(slow['convergence_curve'], t)['converged']}/2"
            for t in (250, 500)]
    assert rows["fixed lr=0.003"][:2] == want
    assert rows["fixed lr=0.01"][0] == "-"  # 300 steps: nothing observable past step 240
