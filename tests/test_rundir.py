import json
import os

import pytest
import torch

from pointgan_cli.errors import UsageError
from pointgan_cli.store import rundir


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "ck.pt"
    rundir.atomic_torch_save(p, {"step": 1})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        rundir.atomic_torch_save(p, {"step": 2, "bad": Boom()})
    assert torch.load(p, weights_only=True) == {"step": 1}
    assert os.listdir(tmp_path) == ["ck.pt"]


def test_latest_checkpoint_skips_corrupt_files(tmp_path):
    ck = tmp_path / rundir.CHECKPOINTS
    ck.mkdir()
    rundir.atomic_torch_save(ck / "step-000500.pt", {"step": 500})
    rundir.atomic_torch_save(ck / "step-001000.pt", {"step": 1000})
    (ck / "last.pt").write_bytes(b"torn")
    assert rundir.latest_checkpoint(tmp_path) == ck / "step-001000.pt"
    (ck / "step-001000.pt").write_bytes(b"")
    assert rundir.latest_checkpoint(tmp_path) == ck / "step-000500.pt"


def test_check_target_rules(tmp_path):
    out = tmp_path / "r"
    rundir.check_target(out, force=False, resume=False)  # absent: fine
    out.mkdir()
    rundir.check_target(out, force=False, resume=False)  # empty: fine
    (out / "spec.json").write_text("{}")
    with pytest.raises(UsageError, match="not empty"):
        rundir.check_target(out, force=False, resume=False)
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
