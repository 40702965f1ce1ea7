"""The sweep directory's reads: many members at once give exactly what one-by-one reads give,
and ``sweep.json`` round-trips every member's spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pointgan_cli import sweepdir
from pointgan_cli.cli.app import app


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two presets x three seeds in batches of two: three batches per preset."""
    out = tmp_path_factory.mktemp("sweepdir") / "s"
    res = CliRunner().invoke(app, ["sweep", "--preset", "baseline", "--preset", "fixed",
                                   "--seeds", "0-2", "--steps", "60", "--max-batch", "2",
                                   "--workers", "1", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.stderr
    assert len(list((out / "batches").glob("*.state.npz"))) >= 4
    return out


def test_member_summaries_equal_one_by_one_reads_and_are_fresh_dicts(sweep):
    ids = sweepdir.member_ids(sweep)
    many = sweepdir.member_summaries(sweep, ids)
    assert many == [sweepdir.member_summary(sweep, i) for i in ids]
    assert {s["seed"] for s in many} == {0, 1, 2} and all(s["status"] for s in many)
    many[0]["w"] = "changed"  # a caller's edit never leaks into the next read
    assert sweepdir.member_summaries(sweep, ids[:1])[0]["w"] != "changed"
    assert sweepdir.member_summaries(sweep, ["nope"]) == [None]


def test_member_curves_are_the_metrics_w_and_b(sweep):
    ids = sweepdir.member_ids(sweep)
    for mid, (steps, wb) in zip(ids, sweepdir.member_curves(sweep, ids)):
        rows = sweepdir.member_metrics(sweep, mid)
        assert steps.tolist() == [r["step"] for r in rows]
        assert wb[:, 0].tolist() == [r["w"] for r in rows]  # exact: the stored float32
        assert wb[:, 1].tolist() == [r["b"] for r in rows]
        assert sweepdir.member_curve(sweep, mid) == (steps.tolist(), wb[:, 0].tolist(),
                                                     wb[:, 1].tolist())


def test_a_member_exported_into_members_is_read_from_its_run_directory(sweep, tmp_path):
    import shutil

    copy = tmp_path / "s"
    shutil.copytree(sweep, copy)
    mid = sweepdir.member_ids(copy)[1]
    sweepdir.export_member(copy, mid, sweepdir.member_dir(copy, mid))
    (sweepdir.member_dir(copy, mid) / "summary.json").write_text(json.dumps({"mark": 1}))
    assert sweepdir.member_summaries(copy, [mid]) == [{"mark": 1}]
    steps, wb = sweepdir.member_curves(copy, [mid])[0]
    want = sweepdir.member_curves(sweep, [mid])[0]
    assert np.array_equal(steps, want[0]) and np.allclose(wb, want[1], rtol=0, atol=1e-12)
