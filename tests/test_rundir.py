import json
import os

import numpy as np
import pytest

from pointgan_cli.errors import UsageError
from pointgan_cli.spec import RunSpec
from pointgan_cli.store import ckptfile, rundir


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "ck.npz"
    ckptfile.save(p, {"step": 1})

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("cannot convert")

    with pytest.raises(RuntimeError):
        ckptfile.save(p, {"step": 2, "bad": Boom()})
    assert ckptfile.load(p) == {"step": 1}
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_checkpoint_files_hold_arrays_and_scalars_without_pickle(tmp_path):
    p = tmp_path / "ck.npz"
    state = {"step": 7, "alive": True, "rng": {"kind": "counter-lowbias32", "seed": 3},
             "generator": np.array([1.5, -2.0], np.float32), "spec": {"seed": 3, "lr_d": 0.1}}
    ckptfile.save(p, state)
    got = ckptfile.load(p)
    assert got["step"] == 7 and got["alive"] is True and got["rng"]["seed"] == 3
    assert got["spec"] == {"seed": 3, "lr_d": 0.1}
    assert got["generator"].dtype == np.float32 and got["generator"].tolist() == [1.5, -2.0]
    with np.load(p, allow_pickle=False) as z:  # loads with pickling refused
        assert "step" in z.files


def test_latest_checkpoint_skips_corrupt_files(tmp_path):
    ck = tmp_path / rundir.CHECKPOINTS
    ck.mkdir()
    ckptfile.save(ck / "step-000500.npz", {"step": 500})
    ckptfile.save(ck / "step-001000.npz", {"step": 1000})
    (ck / "last.npz").write_bytes(b"torn")
    assert rundir.latest_checkpoint(tmp_path) == ck / "step-001000.npz"
    (ck / "step-001000.npz").write_bytes(b"")
    assert rundir.latest_checkpoint(tmp_path) == ck / "step-000500.npz"


def test_check_target_rules(tmp_path):
    out = tmp_path / "r"
    rundir.check_target(out, force=False, resume=False)  # absent: fine
    out.mkdir()
    rundir.check_target(out, force=False, resume=False)  # empty: fine
    (out / "spec.json").write_text("{}")
    with pytest.raises(UsageError, match="not empty"):
        rundir.check_target(out, force=False, resume=False)
    with pytest.raises(UsageError, match="not a pointgan run directory"):  # not pointgan's
        rundir.check_target(out, force=True, resume=False)
    rundir.write_spec(out, RunSpec(), "pointgan train --out r")
    rundir.check_target(out, force=True, resume=False)  # a run pointgan wrote: replaceable
    (out / "f").write_text("x")
    with pytest.raises(UsageError, match="'f', which pointgan did not write"):
        rundir.check_target(out, force=True, resume=False)
    with pytest.raises(UsageError, match="no complete checkpoint"):
        rundir.check_target(out, force=False, resume=True)
    with pytest.raises(UsageError, match="cannot be used together"):
        rundir.check_target(out, force=True, resume=True)


def test_load_run_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        rundir.load_run(tmp_path / "nope")
    with pytest.raises(UsageError, match="no spec.json"):
        rundir.load_run(tmp_path)
    (tmp_path / "spec.json").write_text("{broken")
    with pytest.raises(UsageError, match="corrupt"):
        rundir.load_run(tmp_path)
    (tmp_path / "spec.json").write_text(json.dumps({"spec": {}, "command": "x"}))
    with pytest.raises(UsageError, match="no metrics"):
        rundir.load_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 0}\n{"step": 5')
    with pytest.raises(UsageError, match="line 2"):
        rundir.load_run(tmp_path)


def test_truncate_metrics_drops_rows_after_the_checkpoint(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s}) + "\n" for s in (0, 50, 100, 150)) + '{"step": 2'
    )
    rundir.truncate_metrics(tmp_path, 100)
    rows = rundir.read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 50, 100]


def test_not_empty_suggests_resume_only_when_there_is_a_checkpoint(tmp_path):
    """A run stopped before its first checkpoint (a SIGTERM while it started) cannot be
    resumed: the refusal says --force only; with a checkpoint it says --resume too."""
    out = tmp_path / "r"
    out.mkdir()
    rundir.write_spec(out, RunSpec(), "pointgan train --out r")
    (out / rundir.CHECKPOINTS).mkdir()
    with pytest.raises(UsageError) as exc:
        rundir.check_target(out, force=False, resume=False)
    assert "use --force to replace it" in str(exc.value) and "--resume" not in str(exc.value)
    ckptfile.save(out / rundir.CHECKPOINTS / "step-000010.npz", {"step": 10})
    with pytest.raises(UsageError, match="use --force to replace it or --resume"):
        rundir.check_target(out, force=False, resume=False)
