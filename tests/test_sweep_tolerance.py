"""Success by tolerance and whether a comparison's conclusion survives the tolerance."""

from pointgan_cli.sweep import tolerance


def _members(maxes, status="finished"):
    return [(f"m{i}", {"seed": i, "window_max_distance": m, "status": status})
            for i, m in enumerate(maxes)]


def test_success_by_tolerance_counts_window_max_below_each_tolerance():
    ref = _members([0.105] * 10 + [0.5] * 2)  # a baseline whose envelope sits on the edge
    grp = _members([0.03] * 11 + [0.5])
    tols = tolerance.tolerances(0.1)
    assert len(tols) >= 8 and 0.1 in tols and tols[0] == 0.02 and tols[-1] == 0.3
    curve = tolerance.success_by_tolerance(grp, ref, tols)
    at = {p["tol"]: p for p in curve}
    assert at[0.1]["converged"] == 11 and at[0.1]["n"] == 12
    assert at[0.02]["converged"] == 0 and at[0.03]["converged"] == 0  # strict: 0.03 < 0.03 no
    assert at[0.1]["conclusion"] == "better" and at[0.1]["p"] < 0.01
    assert at[0.125]["conclusion"] == "no difference"  # the reference's envelope is inside now
    rob = tolerance.robustness(curve, 0.1)
    assert rob["conclusion"] == "better" and not rob["holds"]
    assert [f["tol"] for f in rob["flips"]] == [0.125, 0.15, 0.2]
    assert tolerance.robust_text(rob).startswith("better, flips at 0.125 (no difference)")
    # a group whose lead does not depend on the line holds over the range
    ref2 = _members([0.5] * 12)
    rob2 = tolerance.robustness(tolerance.success_by_tolerance(grp, ref2, tols), 0.1)
    assert rob2["holds"] and rob2["flips"] == []
    assert tolerance.robust_text(rob2) == "better, holds 0.05-0.2"


def test_diverged_runs_never_count_and_reference_has_no_p():
    grp = _members([0.01, 0.01], status="diverged")
    curve = tolerance.success_by_tolerance(grp, None, [0.1, 0.3])
    assert [p["converged"] for p in curve] == [0, 0]
    assert all(p["p"] is None and p["conclusion"] is None for p in curve)
    assert tolerance.robustness(curve, 0.1) is None
