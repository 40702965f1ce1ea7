"""``--force`` knows its own files: a marker pointgan wrote (checked by content), entries under
``wandb/`` only where pointgan's record lists them, and temp files only of names pointgan
writes (``fsguard``)."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

from conftest import popen_cli

from pointgan_cli.store import checks, fsguard, outputs, rundir


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and not p.is_symlink()}


TRAIN = ["train", "--steps", "20", "--snapshot-every", "10", "--checkpoint-every", "10", "-q"]


# -- case 4: pointgan's own mark ---------------------------------------------------------------


def test_force_refuses_a_folder_whose_spec_json_pointgan_did_not_write(cli, tmp_path):
    proj = tmp_path / "proj"
    (proj / "wandb" / "run-2024").mkdir(parents=True)
    (proj / "spec.json").write_text('{"openapi":"3.0"}\n')
    (proj / "wandb" / "run-2024" / "f.txt").write_text("logs\n")
    (proj / "report.html").write_text("<html>\n")
    before = _tree(proj)
    res = cli([*TRAIN, "--out", proj, "--force"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert _tree(proj) == before
    (proj / "wandb" / "run-2024" / "f.txt").unlink()
    (proj / "wandb" / "run-2024").rmdir()
    (proj / "wandb").rmdir()  # no wandb/: the spec.json alone must not pass for pointgan's
    res = cli([*TRAIN, "--out", proj, "--force"])
    assert res.exit_code == 2 and "not a pointgan run directory" in res.stderr
    assert (proj / "spec.json").read_text() == '{"openapi":"3.0"}\n'
    assert (proj / "report.html").read_text() == "<html>\n"


def test_force_refuses_a_sweep_json_pointgan_did_not_write(cli, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.json").write_text('{"name": "my sweep"}\n')
    (out / "summary.json").write_text("{}\n")
    res = cli(["sweep", "--steps", "20", "--seeds", "0", "--workers", "1", "--out", out,
               "--force", "-q"])
    assert res.exit_code == 2 and "not a pointgan sweep directory" in res.stderr
    assert (out / "sweep.json").read_text() == '{"name": "my sweep"}\n'


def _fake_wandb_log(run: Path) -> None:
    """What ``pointgan log --tracker wandb`` leaves: a run folder and W&B's links, recorded."""
    folder = run / "wandb"
    before = fsguard.listing(folder)
    (folder / "offline-run-1" / "files").mkdir(parents=True)
    (folder / "offline-run-1" / "files" / "spec.json").write_text("{}")
    (folder / "latest-run").symlink_to("offline-run-1")
    outputs.record(folder, before)


def test_force_deletes_under_wandb_only_what_pointgans_record_lists(cli, tmp_path):
    run = tmp_path / "r"
    assert cli([*TRAIN, "--out", run]).exit_code == 0
    _fake_wandb_log(run)
    assert json.loads((run / "wandb" / fsguard.RECORD).read_text()) == ["latest-run",
                                                                       "offline-run-1"]
    (run / "wandb" / "run-mine").mkdir()
    (run / "wandb" / "run-mine" / "notes.txt").write_text("keep")
    res = cli([*TRAIN, "--out", run, "--force"])
    assert res.exit_code == 2 and "wandb/run-mine" in res.stderr
    assert (run / "wandb" / "run-mine" / "notes.txt").read_text() == "keep"
    (run / "wandb" / "run-mine" / "notes.txt").unlink()
    (run / "wandb" / "run-mine").rmdir()
    assert cli([*TRAIN, "--out", run, "--force"]).exit_code == 0
    assert not (run / "wandb").exists() and (run / "summary.json").is_file()
    # a wandb/ without pointgan's record is the user's
    (run / "wandb" / "offline-run-2").mkdir(parents=True)
    assert cli([*TRAIN, "--out", run, "--force"]).exit_code == 2
    assert (run / "wandb" / "offline-run-2").is_dir()


def test_a_real_pointgan_spec_is_recognised_and_a_lookalike_is_not(cli, tmp_path):
    run = tmp_path / "r"
    assert cli([*TRAIN, "--out", run]).exit_code == 0
    assert checks.own_spec(run / "spec.json")
    doc = json.loads((run / "spec.json").read_text())
    for change in ({"versions": {}}, {"command": "rm -rf /"}, {"extra": 1}, {"spec": []}):
        (tmp_path / "x.json").write_text(json.dumps({**doc, **change}))
        assert not checks.own_spec(tmp_path / "x.json"), change


# -- case 5: a user's hidden .X.Y.tmp files stay ------------------------------------------------


def test_force_and_resume_keep_a_users_hidden_tmp_files(cli, tmp_path):
    run = tmp_path / "r"
    assert cli([*TRAIN, "--steps", "40", "--out", run]).exit_code == 0
    mine = [run / ".notes.backup.tmp", run / ".data.csv.abcdefgh.tmp",
            run / "checkpoints" / ".mine.abcdefgh.tmp"]
    for f in mine:
        f.write_text("keep")
    res = cli([*TRAIN, "--out", run, "--force"])
    assert res.exit_code == 2 and "tmp" in res.stderr and "did not write" in res.stderr
    assert all(f.read_text() == "keep" for f in mine)
    # resume: pointgan's own stray temp goes, the user's stay
    ck = run / "checkpoints"
    (ck / "step-000040.npz").unlink()  # an unfinished run: stopped before its last step
    (ck / "last.npz").unlink()
    (run / "summary.json").unlink()
    own = ck / ".last.npz.x1y2z3w4.tmp"
    own.write_bytes(b"partial")
    assert cli(["train", "--resume", "--out", run, "-q"]).exit_code == 0
    assert not own.exists() and all(f.read_text() == "keep" for f in mine)


# -- case 6: a killed animate's temp file is pointgan's -----------------------------------------


def test_force_clears_the_temp_file_of_a_killed_animate(cli, tmp_path):
    run = tmp_path / "r"
    assert cli(["train", "--steps", "1000", "--snapshot-every", "2", "--out", run,
                "-q"]).exit_code == 0
    proc = popen_cli(["animate", run, "--frames", "500", "-q"])
    try:
        deadline = time.monotonic() + 120
        while not list(run.glob(".animation.*.tmp.gif")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(run.glob(".animation.*.tmp.gif")), "animate wrote no temp file"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (run / "animation.gif").exists()
    res = cli([*TRAIN, "--out", run, "--force"])
    assert res.exit_code == 0, res.stderr
    assert not [p for p in run.iterdir() if ".tmp" in p.name]


def test_force_clears_a_killed_grid_animations_temp_in_a_sweep(cli, tmp_path):
    sweep = tmp_path / "s"
    args = ["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "--out", sweep, "-q"]
    assert cli(args).exit_code == 0
    # exactly the name writers.temp_beside gives animation.gif while it renders
    fd, tmp = tempfile.mkstemp(prefix=".animation.", suffix=".tmp.gif", dir=sweep)
    os.close(fd)
    assert cli([*args, "--force"]).exit_code == 0
    assert not Path(tmp).exists()


def test_own_temp_needs_mkstemps_shape_and_a_name_the_layout_writes():
    layout = rundir.RUN_LAYOUT
    assert fsguard.own_temp(".spec.json.abcd_123.tmp", layout)
    assert fsguard.own_temp(".animation.abcd_123.tmp.gif", layout)
    assert not fsguard.own_temp(".notes.abcd_123.tmp", layout)
    assert not fsguard.own_temp(".spec.json.abc.tmp", layout)
    assert not fsguard.own_temp(".animation.abcd_123.tmp.txt", layout)
