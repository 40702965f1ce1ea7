"""The outcome classes on run directories whose discriminator shape we choose."""

import json
import math

import numpy as np
import pytest
import torch

from pointgan_cli.diagnose import classify, dshape, shapes
from pointgan_cli.diagnose.source import state_at
from pointgan_cli.errors import UsageError
from pointgan_cli.games.point import D_NAMES
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import atomic, ckptfile, rundir

SHARP_STEP = shapes.step(40.0, 6.0, 0.8, c2=0.0)  # learned too fast: an edge far from samples
GENTLE = shapes.step(1.5, 1.5, 0.8)  # still has a slope everywhere
FLAT = torch.tensor([0.004, -0.003, 0.001, 0.002, 0.003, -0.002, 0.001], dtype=torch.float64)
BELL = shapes.bell(6.0, 3.0, 1.0, 0.3, c2=-3.0)


def make_run(path, d, wb, status="finished", nan_at=None):
    """A run directory with one metrics row per (w, b) in ``wb`` (50 steps apart) and the
    discriminator ``d`` in every row; no checkpoints, so parameters come from the rows."""
    spec = resolve_spec("baseline", overrides={"steps": 50 * (len(wb) - 1)})
    path.mkdir(parents=True)
    rundir.write_spec(path, spec, "pointgan train")
    rows = []
    for i, (w, b) in enumerate(wb):
        row = {"step": 50 * i, "w": w, "b": b, "distance": abs(w) + abs(b - 1.0)}
        row.update({f"d_{n}": float(v) for n, v in zip(D_NAMES, d)})
        if nan_at is not None and i >= nan_at:
            row["w"] = row["d_W1_0"] = math.nan
        rows.append(row)
    (path / rundir.METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    w, b = wb[-1]
    atomic.atomic_write_json(path / rundir.SUMMARY, {
        "status": status, "converged": status == "finished" and abs(w) + abs(b - 1) < 0.1,
        "w": w, "b": b, "diverged_step": 100 if status == "diverged" else None})
    return rundir.load_run(path)


def still(w, b, n=12):
    return [(w, b)] * n


def test_sign_changes():
    assert classify.sign_changes([0.5, 1.5, 0.7, 1.2, 1.1], 1.0) == 3
    assert classify.sign_changes([0.5, 1.0, 0.7], 1.0) == 0  # touching is not crossing
    assert classify.sign_changes([], 1.0) == 0


def test_sharp_step_far_from_the_samples_is_saturated_evidence(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "r", SHARP_STEP, still(0.605, 0.015)))
    ev = rep["evidence"]
    assert rep["class"] == classify.STUCK  # the class comes from the window ...
    assert ev["d_shape"] == classify.SATURATED  # ... D's shape is evidence beside it
    assert ev["saturation_fraction"] == 1.0 and ev["d_range"] > 0.9
    assert ev["source"] == rundir.METRICS
    assert "100% of generated samples" in rep["reason"]
    assert rep["class_from"] == rundir.METRICS  # the summary carries no class: judged here


def test_flat_discriminator_is_flat_not_saturated(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "r", FLAT, still(0.4, 0.8)))
    assert rep["class"] == classify.STUCK
    assert rep["evidence"]["d_shape"] == classify.FLAT
    assert rep["evidence"]["d_range"] < dshape.FLAT_RANGE
    assert rep["evidence"]["saturation_fraction"] == 1.0  # also saturated: flat is more specific
    assert "D at the end is flat" in rep["reason"]


def test_generator_on_target_is_converged_whatever_d(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "r", BELL, still(0.01, 1.02)))
    assert rep["class"] == classify.CONVERGED
    assert rep["evidence"]["distance"] == pytest.approx(0.03)
    assert rep["evidence"]["window_max_distance"] == pytest.approx(0.03)


def test_generator_swinging_around_the_target_orbits(tmp_path):
    # 41 rows, 2000 steps: the window (steps >= 1600) holds the last 9 rows
    wb = [(0.02, 1.0 + (0.4 if i % 2 else -0.4)) for i in range(41)]
    rep = classify.diagnose_run(make_run(tmp_path / "r", GENTLE, wb))
    ev = rep["evidence"]
    assert rep["class"] == classify.ORBITING
    assert ev["window_snapshots"] == 9 and ev["sign_changes_in_window"] == 8
    assert ev["window_max_distance"] == pytest.approx(0.42)
    assert ev["time_avg_distance"] == pytest.approx(0.02 + 0.4 / 9)


def test_saturated_d_after_past_swings_is_evidence_not_the_class(tmp_path):
    wb = [(0.6, 0.0)] * 8 + [(0.6, 1.4), (0.6, 0.6), (0.6, 1.4), (0.6, 0.015)]
    rep = classify.diagnose_run(make_run(tmp_path / "r", SHARP_STEP, wb))
    assert rep["evidence"]["sign_changes_in_window"] == 2  # rows at steps 450, 500, 550
    # the distance rises from 1.0 to 1.585 inside the window while b moves by 1.4: moving
    # away, not "far and not moving"; D's saturation is evidence beside the class
    assert rep["class"] == classify.verdict.DIVERGING
    assert rep["evidence"]["d_shape"] == classify.SATURATED


def test_gentle_d_and_a_generator_that_does_not_move_is_stuck(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "r", GENTLE, still(0.3, 0.4)))
    assert rep["class"] == classify.STUCK
    ev = rep["evidence"]
    assert ev["saturation_fraction"] < classify.SATURATED_SHARE and ev["d_shape"] == "sloped"
    assert ev["d_range"] >= dshape.FLAT_RANGE and ev["sign_changes_in_window"] == 0


def test_a_class_written_in_summary_json_is_judged_again_not_repeated(tmp_path, cli):
    run = make_run(tmp_path / "r", GENTLE, still(0.3, 0.4))
    summary = dict(run.summary, **{"class": "orbiting", "verdict": {"reason": "as written"}})
    atomic.atomic_write_json(tmp_path / "r" / rundir.SUMMARY, summary)
    rep = classify.diagnose_run(rundir.load_run(tmp_path / "r"))
    assert rep["class"] == classify.STUCK and not rep["reason"].startswith("as written")
    assert rep["class_from"] == rundir.METRICS and rep["summary_class"] == "orbiting"
    r = cli(["diagnose", "run", tmp_path / "r"])
    assert r.exit_code == 0 and r.stdout.strip().splitlines()[-1] == "stuck"
    assert "orbiting (DIFFERS: judged again here)" in r.output


def test_diverged_status_and_nan_rows(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "a", GENTLE, still(0.3, 0.4), "diverged"))
    assert rep["class"] == classify.DIVERGED and rep["evidence"]["diverged_step"] == 100
    rep = classify.diagnose_run(make_run(tmp_path / "b", GENTLE, still(0.3, 0.4), nan_at=9))
    assert rep["class"] == classify.DIVERGED
    assert rep["evidence"]["first_non_finite_step"] == 450
    assert rep["evidence"]["saturation_fraction"] is None
    assert rep["evidence"]["w"] is None  # JSON has no NaN: the document stays valid JSON
    json.dumps(rep, allow_nan=False)


def test_state_prefers_the_checkpoint_and_refuses_a_corrupt_one(tmp_path):
    run = make_run(tmp_path / "r", GENTLE, still(0.3, 0.4))
    ck = tmp_path / "r" / rundir.CHECKPOINTS
    ck.mkdir()
    other = SHARP_STEP.float()
    ckptfile.save(ck / rundir.LAST, {"step": 550, "generator": np.array([0.3, 0.4], np.float32),
                                     "discriminator": other.numpy()})
    st = state_at(run)
    assert st.origin == "checkpoints/last.npz" and torch.equal(st.d, other.double())
    assert state_at(run, 100).origin == rundir.METRICS  # no checkpoint for step 100
    (ck / rundir.LAST).write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        state_at(run)
    with pytest.raises(UsageError, match="outside this run"):
        state_at(run, 5000)
