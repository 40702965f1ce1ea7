"""Paired statistics of a sweep: the exact McNemar test, pairing by seed, the reference group of
every group (presets, grids, the article study's learning rates and budgets)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointgan_cli.errors import UsageError
from pointgan_cli.sweep.ranges import parse_grid
from pointgan_cli.sweep.spec import (
    ARTICLE_BUDGETS,
    build_sweep_spec,
    equal_time_steps,
    expand,
    reference_groups,
    sweep_command,
)
from pointgan_cli.sweep.stats import fisher_exact, mcnemar_exact, paired


def test_mcnemar_exact_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == 2 / 32  # both tails of 5 coin flips all one way
    assert mcnemar_exact(0, 5) == 2 / 32
    assert mcnemar_exact(10, 3) == pytest.approx(2 * (1 + 13 + 78 + 286) / 2**13)
    assert mcnemar_exact(4, 4) == 1.0  # capped at 1
    # a measured case: 96 vs 44 of 100 at 3,000 steps had p ~ 6e-15 with 52 discordant
    assert mcnemar_exact(52, 0) < 1e-14


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_is_symmetric_and_a_probability(b, c):
    p = mcnemar_exact(b, c)
    assert p == mcnemar_exact(c, b) and 0 < p <= 1
    if b + c:  # the one-sided tail, exact in integers, doubled
        tail = sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
        assert p == min(1.0, 2 * tail)


def test_paired_counts_only_shared_seeds():
    group = {0: True, 1: True, 2: False, 3: True, 9: True}
    ref = {0: False, 1: True, 2: False, 3: False, 4: True}
    r = paired(group, ref)
    assert (r["n"], r["both"], r["neither"], r["only_group"], r["only_reference"]) == (
        4, 1, 1, 2, 0)
    assert r["mcnemar_p"] == mcnemar_exact(2, 0) == 0.5


def test_reference_groups_presets_and_grid():
    spec = build_sweep_spec(["baseline", "fixed"], None, parse_grid(["lr_d=0.01,0.003"]),
                            [0], None, {})
    assert reference_groups(spec) == {
        "baseline lr-d=0.01": "baseline lr-d=0.01", "fixed lr-d=0.01": "baseline lr-d=0.01",
        "baseline lr-d=0.003": "baseline lr-d=0.003", "fixed lr-d=0.003": "baseline lr-d=0.003"}
    spec = build_sweep_spec(["baseline", "fixed"], None, {}, [0], None, {}, reference="fixed")
    assert reference_groups(spec) == {"baseline": "fixed", "fixed": "fixed"}
    with pytest.raises(UsageError, match="^--reference: 'noise' is not one of"):
        build_sweep_spec(["baseline", "fixed"], None, {}, [0], None, {}, reference="noise")


def test_article_study_equal_training_time_and_budgets():
    assert equal_time_steps(3000, 0.01) == 3000 and equal_time_steps(3000, 0.003) == 10000
    spec = build_sweep_spec([], "article", {}, [0], None, {})
    members = expand(spec)
    steps = {g: s.steps for _, g, s in members}
    assert len(steps) == 9 * 2 * len(ARTICLE_BUDGETS)
    assert steps["fixed lr=0.01 budget=3k"] == 3000
    assert steps["fixed lr=0.003 budget=3k"] == 10000
    assert steps["baseline lr=0.003 budget=20k"] == 66667
    refs = reference_groups(spec)
    assert refs["fixed lr=0.003 budget=6k"] == "baseline lr=0.003 budget=6k"
    assert refs["baseline lr=0.01 budget=10k"] == "baseline lr=0.01 budget=10k"
    # --steps picks one budget (at lr 0.01); the lower rate still gets equal training time
    one = {g: s.steps for _, g, s in expand(build_sweep_spec([], "article", {}, [0], None,
                                                               {"steps": 600}))}
    assert one["noise-scale=1.5 lr=0.01"] == 600 and one["noise-scale=1.5 lr=0.003"] == 2000
    assert len(one) == 18


def test_sweep_command_keeps_study_and_reference(tmp_path):
    spec = build_sweep_spec([], "literature", {}, [0, 1], None, {"steps": 600},
                            reference="fixed")
    cmd = sweep_command(spec, tmp_path / "s")
    assert "--study literature" in cmd and "--reference fixed" in cmd and "--steps 600" in cmd
    refs = reference_groups(spec)
    assert refs["R1 lr=0.003"] == "fixed lr=0.003"


def test_fisher_exact_by_hand_and_against_scipy():
    """Fisher's exact test (``pointgan compare`` of two sweeps) against scipy as the oracle."""
    assert fisher_exact(0, 5, 5, 5) == pytest.approx(2 / 252)  # the two extreme tables
    assert fisher_exact(3, 3, 3, 3) == 1.0
    assert fisher_exact(0, 0, 2, 4) == 1.0
    stats = pytest.importorskip("scipy.stats")
    for k1, n1, k2, n2 in [(1, 8, 6, 8), (0, 10, 3, 10), (5, 20, 9, 12), (7, 7, 2, 9),
                           (12, 50, 30, 50)]:
        expect = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
        assert fisher_exact(k1, n1, k2, n2) == pytest.approx(expect, rel=1e-9)


def test_the_hand_written_tests_agree_with_scipy_stats():
    """Wilson, Fisher and McNemar as scipy.stats computes them, to 1e-12 relative (they differ
    in the last bits: scipy sums floats, these sum integers); every case up to 32 trials
    (Wilson, McNemar) and 8 per group (Fisher)."""
    stats = pytest.importorskip("scipy.stats")
    from pointgan_cli.sweep.stats import wilson

    for n in range(1, 33):
        for k in range(n + 1):
            ci = stats.binomtest(k, n).proportion_ci(method="wilson")
            assert wilson(k, n) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
    for b in range(33):
        for c in range(33):
            want = 1.0 if b + c == 0 else stats.binomtest(min(b, c), b + c, 0.5).pvalue
            assert mcnemar_exact(b, c) == pytest.approx(min(1.0, want), rel=1e-12)
    for n1 in range(1, 9):
        for n2 in range(1, 9):
            for k1 in range(n1 + 1):
                for k2 in range(n2 + 1):
                    table = [[k1, n1 - k1], [k2, n2 - k2]]
                    assert fisher_exact(k1, n1, k2, n2) == pytest.approx(
                        stats.fisher_exact(table).pvalue, rel=1e-12), table
