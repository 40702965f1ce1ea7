"""benchmarks/stuck_precursor.py's projection: when does one of D's output weights reach zero
at its rate over the window (the figures docs/diagnose.md quotes come from it)."""

import math

import pytest
from conftest import load_script


def rows(w0, w1, steps=(4800, 5400, 6000)):
    n = len(steps) - 1
    return [{"step": s, "d_W2_0": w0[0] + (w0[1] - w0[0]) * i / n,
             "d_W2_1": w1[0] + (w1[1] - w1[0]) * i / n} for i, s in enumerate(steps)]


def test_a_weight_heading_for_zero_reaches_it_at_its_rate():
    pg = load_script("stuck_precursor")
    # -0.7 -> -0.1 over 1,200 steps: 0.0005 per step, 0.1 left: 200 steps
    assert pg.steps_to_zero(rows((-0.7, -0.1), (1.5, 1.6)), 4800) == pytest.approx(200)
    # the nearer of two weights heading for zero decides
    assert pg.steps_to_zero(rows((-0.7, -0.1), (1.2, 0.6)), 4800) == pytest.approx(200)
    # rows before the window are not read
    assert pg.steps_to_zero(rows((-0.7, -0.1), (1.5, 1.6)), 5400) == pytest.approx(200)


def test_a_sign_change_is_now_and_weights_moving_away_never():
    pg = load_script("stuck_precursor")
    assert pg.steps_to_zero(rows((-0.2, 0.3), (1.5, 1.6)), 4800) == 0
    assert math.isinf(pg.steps_to_zero(rows((0.5, 0.9), (-1.0, -1.2)), 4800))
