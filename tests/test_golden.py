"""Recorded numbers: the same spec and seed give the same parameters, bit for bit, release to
release. ``data/golden_runs.json`` holds every snapshot's w, b and D parameters (as float hex)
of short runs recorded before the code was reorganised into packages; a refactor that changes
one bit of training fails here. (Only steps present in both are compared, and the last step
always is, so a change of the snapshot cadence alone does not fail the test.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pointgan_cli import rundir
from pointgan_cli.spec import resolve_spec
from pointgan_cli.training import Member, train_batch

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_runs.json").read_text())


@pytest.mark.parametrize("case", GOLDEN, ids=[c["preset"] for c in GOLDEN])
def test_recorded_runs_are_reproduced_bit_for_bit(case, tmp_path):
    # the torch engine's numbers (the reference; the fused engine agrees to float32 rounding,
    # tests/test_fused.py)
    spec = resolve_spec(case["preset"], overrides={**case["overrides"], "engine": "torch"})
    train_batch([Member(spec=spec, out=tmp_path / "r", command="golden")])
    rows = {r["step"]: r for r in rundir.read_metrics(tmp_path / "r" / rundir.METRICS)}
    recorded = {r["step"]: r for r in case["rows"]}
    assert max(recorded) in rows, "the last step must be compared"
    compared = 0
    for step, want in recorded.items():
        if step not in rows:
            continue
        got = {k: rows[step][k].hex() for k in want if k != "step"}
        assert got == {k: v for k, v in want.items() if k != "step"}, f"step {step}"
        compared += 1
    assert compared >= 2
