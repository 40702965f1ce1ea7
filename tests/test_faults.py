"""Fault injection: --force on decoy trees, concurrent writers, corrupt and foreign checkpoints,
a full disk, edited configs before resume. Kept fast: tiny runs, in-process where possible."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pointgan_cli.errors import RuntimeFailure, UsageError
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import (
    atomic,
    checkpoints,
    ckptfile,
    fsguard,
    rundir,
    sweepdir,
)
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.training.train import Member, train_batch


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _decoy(root: Path) -> Path:
    """A user's project: data and code, nothing pointgan wrote."""
    (root / "projects").mkdir(parents=True)
    (root / "data.csv").write_text("x,y\n1,2\n")
    (root / ".bashrc").write_text("alias ll='ls -l'\n")
    (root / "projects" / "main.py").write_text("print('hi')\n")
    return root


def _member(out: Path, **kw) -> Member:
    spec = resolve_spec("baseline", None, {"steps": 60, "snapshot_every": 20,
                                           "checkpoint_every": 20, **kw})
    return Member(spec=spec, out=out, command="pointgan train")


# -- --force replaces only what pointgan wrote ---------------------------------------------------


def test_library_refuses_a_nonempty_directory_without_force(tmp_path):
    out = _decoy(tmp_path / "proj")
    before = _tree(out)
    with pytest.raises(UsageError, match="not empty"):
        train_batch([_member(out)])
    with pytest.raises(UsageError, match="did not write"):
        train_batch([_member(out)], force=True)
    assert _tree(out) == before


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_force_on_a_decoy_tree_touches_nothing(cli, tmp_path, command):
    out = _decoy(tmp_path / "home")
    before = _tree(out)
    extra = ["--seeds", "0-1"] if command == "sweep" else []
    res = cli([command, "--steps", "20", "--out", out, "--force", *extra])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "did not write" in res.stderr
    assert _tree(out) == before


def test_force_refuses_cwd_its_parents_home_root_and_symlinks(cli, tmp_path, monkeypatch):
    a = tmp_path / "a"
    (a / "b").mkdir(parents=True)
    monkeypatch.chdir(a / "b")
    for target in (".", "..", "/"):
        res = cli(["train", "--steps", "20", "--out", target, "--force"])
        assert res.exit_code == 2, target
        assert "refusing to replace" in res.stderr
    monkeypatch.setenv("HOME", str(a))
    assert "home directory" in cli(["train", "--steps", "20", "--out", a, "--force"]).stderr
    run = tmp_path / "run"
    assert cli(["train", "--steps", "20", "--out", run]).exit_code == 0
    link = tmp_path / "link"
    link.symlink_to(run)
    res = cli(["train", "--steps", "20", "--out", link, "--force"])
    assert res.exit_code == 2 and "symbolic link" in res.stderr
    assert (run / "summary.json").is_file() and (a / "b").is_dir()


def test_force_replaces_a_run_but_not_a_symlink_inside_it(cli, tmp_path):
    out = tmp_path / "r"
    assert cli(["train", "--steps", "20", "--seed", "3", "--out", out]).exit_code == 0
    elsewhere = _decoy(tmp_path / "elsewhere")
    (out / "diagnose").mkdir()
    (out / "diagnose" / "loss-landscape.json").write_text("{}")
    assert cli(["train", "--steps", "20", "--out", out, "--force"]).exit_code == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 0
    assert not (out / "diagnose").exists()
    (out / "checkpoints" / "ext").symlink_to(elsewhere)
    res = cli(["train", "--steps", "20", "--out", out, "--force"])
    assert res.exit_code == 2 and "checkpoints/ext" in res.stderr
    assert _tree(elsewhere) and (out / "summary.json").is_file()


def test_force_replaces_a_sweep_but_not_a_foreign_member(cli, tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "--out", out]
    assert cli(args).exit_code == 0
    assert cli([*args, "--force"]).exit_code == 0
    stray = out / "members" / "notes"
    stray.mkdir()
    (stray / "todo.txt").write_text("keep")
    res = cli([*args, "--force"])
    assert res.exit_code == 2 and "todo.txt" in res.stderr
    assert (stray / "todo.txt").read_text() == "keep" and (out / "summary.json").is_file()


def test_clear_owned_keeps_the_directory_and_unknown_names(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.npz").write_bytes(b"x")
    spec = resolve_spec("baseline", None, {"steps": 20})
    rundir.write_spec(tmp_path, spec, "pointgan train --out x")  # pointgan's own spec.json
    (tmp_path / ".spec.json.abc12345.tmp").write_text("")
    fsguard.check_replaceable(tmp_path, rundir.RUN_LAYOUT, rundir.RUN_MARKERS, "run")
    fsguard.clear_owned(tmp_path, rundir.RUN_LAYOUT)
    assert tmp_path.is_dir() and list(tmp_path.iterdir()) == []


# -- one writer at a time ------------------------------------------------------------------------


def test_a_locked_directory_refuses_a_second_writer(cli, tmp_path):
    out = tmp_path / "r"
    assert cli(["train", "--steps", "20", "--out", out]).exit_code == 0
    before = _tree(out)
    with fsguard.DirLock(out):
        for extra in (["--force"], ["--resume"]):
            res = cli(["train", "--steps", "20", "--out", out, *extra])
            if extra == ["--resume"]:
                res = cli(["train", "--out", out, "--resume"])
            assert res.exit_code == 2 and "in use by another pointgan process" in res.stderr
        with pytest.raises(UsageError, match="in use"):
            train_batch([_member(out)], force=True)
    assert _tree(out) == before
    assert cli(["train", "--steps", "20", "--out", out, "--force"]).exit_code == 0


def test_a_locked_sweep_refuses_a_second_writer(cli, tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "--out", out]
    assert cli(args).exit_code == 0
    before = _tree(out)
    with fsguard.DirLock(out):
        res = cli([*args, "--force"])
        assert res.exit_code == 2 and "in use" in res.stderr
    assert _tree(out) == before


# -- checkpoints that do not belong to the run ---------------------------------------------------


def _interrupted_run(tmp_path: Path, seed: int = 0) -> Path:
    out = tmp_path / f"r{seed}"
    train_batch([_member(out, seed=seed)])
    (out / "summary.json").unlink()
    for p in (out / "checkpoints").glob("*.npz"):
        if p.name not in ("step-000020.npz",):
            p.unlink()
    return out


def test_resume_refuses_foreign_and_forged_checkpoints(cli, tmp_path):
    out = _interrupted_run(tmp_path, seed=0)
    other = _interrupted_run(tmp_path, seed=1)
    ck = out / "checkpoints" / "step-000020.npz"
    good = ck.read_bytes()
    ck.write_bytes((other / "checkpoints" / "step-000020.npz").read_bytes())
    res = cli(["train", "--out", out, "--resume"])
    assert res.exit_code == 2 and "does not belong to this run" in res.stderr
    for key, value, why in (("step", 999999, "step"), ("generator", np.zeros(3), "shape")):
        ck.write_bytes(good)
        st = ckptfile.load(ck)
        st[key] = value
        ckptfile.save(ck, st)
        res = cli(["train", "--out", out, "--resume"])
        assert res.exit_code == 2 and "does not belong" in res.stderr, why
        assert res.stderr.count("\n") == 1
    ck.write_bytes(good)
    assert cli(["train", "--out", out, "--resume"]).exit_code == 0


def test_resume_drops_a_torn_last_row_and_names_a_corrupt_middle_one(cli, tmp_path):
    ref = tmp_path / "ref"
    train_batch([_member(ref)])
    out = _interrupted_run(tmp_path)
    (out / "checkpoints" / ".last.npz.x1y2z3w4.tmp").write_bytes(b"partial")
    m = out / "metrics.jsonl"
    m.write_text(m.read_text() + '{"step": 40, "w": 0.1')
    assert cli(["train", "--out", out, "--resume"]).exit_code == 0
    assert m.read_text() == (ref / "metrics.jsonl").read_text()
    assert not list((out / "checkpoints").glob("*.tmp"))
    out2 = _interrupted_run(tmp_path / "x")
    m2 = out2 / "metrics.jsonl"
    lines = m2.read_text().splitlines(keepends=True)
    lines[1] = "garbage\n"
    m2.write_text("".join(lines))
    res = cli(["train", "--out", out2, "--resume"])
    assert res.exit_code == 2 and "line 2" in res.stderr
    assert m2.read_text() == "".join(lines)


def test_resume_refuses_a_symlinked_checkpoints_folder(cli, tmp_path):
    out = _interrupted_run(tmp_path)
    real = tmp_path / "outside"
    (out / "checkpoints").rename(real)
    (out / "checkpoints").symlink_to(real)
    res = cli(["train", "--out", out, "--resume"])
    assert res.exit_code == 2 and "symbolic link" in res.stderr


# -- a full disk ---------------------------------------------------------------------------------


def test_enospc_is_one_line_and_the_run_stays_resumable(cli, tmp_path, monkeypatch):
    ref = tmp_path / "ref"
    train_batch([_member(ref)])
    out = tmp_path / "r"
    real_write = rundir.MetricsWriter.write
    calls = [0]

    def full_disk(self, row):
        calls[0] += 1
        if calls[0] == 3:  # the row of step 40, after the step-20 checkpoint
            self._f.write('{"step": 40, "w"')
            self._f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, row)

    monkeypatch.setattr(rundir.MetricsWriter, "write", full_disk)
    with pytest.raises(RuntimeFailure, match="No space left on device.*--resume"):
        train_batch([_member(out)])
    monkeypatch.setattr(rundir.MetricsWriter, "write", real_write)
    spec = _member(out).spec
    res = cli(["train", "--out", out, "--resume"])
    assert res.exit_code == 0, res.stderr
    assert (out / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()
    assert json.loads((out / "summary.json").read_text())["w"] == \
        json.loads((ref / "summary.json").read_text())["w"]
    assert spec.steps == 60


def test_enospc_on_a_checkpoint_is_exit_1_in_the_cli(cli, tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints, "atomic_write", full)  # the checkpoint writes
    res = cli(["train", "--steps", "20", "--out", tmp_path / "r"])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: cannot write") and res.stderr.count("\n") == 1


def test_sweep_layout_names_are_those_run_sweep_writes(tmp_path, cli):
    out = tmp_path / "s"
    assert cli(["sweep", "--steps", "20", "--seeds", "0", "--workers", "1",
                "--out", out]).exit_code == 0
    assert fsguard.foreign_entry(out, sweepdir.SWEEP_LAYOUT) is None


# -- bad input: one line, exit 2, nothing created --------------------------------------------


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("args, message", [
    (["train", "--lr-d", "inf"], "--lr-d: Input should be a finite number"),
    (["train", "--real-value", "nan"], "--real-value: Input should be a finite number"),
    (["train", "--tolerance", "inf"], "--tolerance"),
    (["train", "--noise-scale", "inf"], "--noise-scale"),
    (["train", "--batch-size", "1000000000"], "--batch-size"),
    (["train", "--steps", "1000000000000"], "--steps"),
    (["train", "--preset", ""], "--preset: unknown preset ''"),
    (["train", "--batch-size", "1000000", "--inner-batch", "4096", "--noise-scale", "1"],
     "MiB available"),
    (["sweep", "--seeds", "\u0663"], "--seeds"),
    (["sweep", "--seeds", "0-10000000"], "more than 1000000 seeds"),
    (["sweep", "--grid", "seed=1,2", "--seeds", "0"], "--grid: seed"),
    (["sweep", "--grid", "lr_d=inf"], "--grid: lr_d='inf' is not a finite number"),
    (["sweep", "--grid", "steps=\u0663"], "--grid: steps"),
    (["train", "--device", "x" * 9_000_000], "..."),
    (["sweep", "--preset", "y" * 100_000], "..."),
])
def test_bad_values_are_one_line_and_create_nothing(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = cli([*args, "--out", "o"])
    assert res.exit_code == 2, res.stderr
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1
    assert message in res.stderr and len(res.stderr) < 400
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["train", "--steps", "20", "--out", ""],
    ["train", "--steps", "20", "--out="],
    ["train", "--steps", "20", "-o", ""],
    ["sweep", "--seeds", "0", "--steps", "20", "--out", ""],
])
def test_an_empty_out_is_one_line_and_creates_nothing(cli, tmp_path, monkeypatch, args):
    """``--out ""`` (an unset shell variable) is a bad value, not the working directory."""
    monkeypatch.chdir(tmp_path)
    res = cli(args)
    assert res.exit_code == 2, res.stderr
    assert res.stderr == "Error: --out: an empty path (name a folder, or leave --out out)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, content, message", [
    ("c.json", b"\x00\x01\xff\xfe binary", "not UTF-8"),
    ("c.json", "{\"steps\": 5}".encode("utf-16"), "not UTF-8"),
    ("c.json", b"[" * 100_000 + b"]" * 100_000, "cannot parse"),
    ("c.toml", b"a = " + b"[" * 100_000 + b"]" * 100_000, "cannot parse"),
    ("c.json", b'{"preset": ["fixed"]}', "preset in"),
    ("c.json", b'{"steps": true}', "steps (in"),
    ("c.json", b'{"lr_d": NaN}', "cannot parse"),
    ("c.json", b'{"lr_d": Infinity}', "cannot parse"),
    ("c.json", b'{"preset": "' + b"x" * 9_000_000 + b'"}', "larger than"),
    ("c.json", b'{"' + b"k" * 500_000 + b'": 1}', "unknown key"),
])
def test_bad_config_files_are_one_line_and_create_nothing(cli, tmp_path, monkeypatch, name,
                                                          content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    for command in ("train", "sweep"):
        res = cli([command, "--config", name, "--out", "o"])
        assert res.exit_code == 2, res.stderr
        assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
        assert len(res.stderr) < 400
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_sweep_config_preset_is_honoured_and_resume_never_rereads_it(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"preset": "fixed", "steps": 40, "snapshot_every": 20,
                               "checkpoint_every": 20}))
    out = tmp_path / "s"
    args = ["sweep", "--config", cfg, "--seeds", "0-1", "--workers", "1", "--out", out]
    assert cli(args).exit_code == 0

    entries = SweepDir(out).index.entries
    assert {e.spec["preset"] for e in entries} == {"fixed"}
    assert {e.spec["noise_scale"] for e in entries} == {1.5}
    # lose every stored batch (as if killed before the first checkpoint), then edit (and
    # finally delete) the config before resuming
    mid = entries[1].id
    want = SweepDir(out).members.metrics(mid)
    for p in (out / "batches").iterdir():
        p.unlink()
    (out / "summary.json").unlink()
    cfg.write_text(json.dumps({"preset": "baseline", "steps": 40, "lr_d": 0.5}))
    cfg.unlink()
    res = cli(["sweep", "--resume", "--workers", "1", "--out", out])
    assert res.exit_code == 0, res.stderr
    assert SweepDir(out).members.metrics(mid) == want
    spec = SweepDir(out).members.load(mid).spec
    assert spec.preset == "fixed" and spec.lr_d == 0.01


def test_every_json_file_is_strict_json(cli, tmp_path):
    out = tmp_path / "s"
    assert cli(["sweep", "--steps", "40", "--seeds", "0-1", "--workers", "1", "--lr-d", "5",
                "--out", out]).exit_code == 0
    files = [p for p in out.rglob("*") if p.suffix in (".json", ".jsonl")]
    assert len(files) >= 2  # sweep.json, summary.json; members live in the batch store
    for p in files:
        for line in p.read_text().splitlines() if p.suffix == ".jsonl" else [p.read_text()]:
            _strict_json(line)
    from pointgan_cli.store import sweepstore

    stored = [sweepstore.read_state(sweepstore.state_path(out, b))[1]["summaries"]
              for b in sweepstore.batch_ids(out)]
    assert stored
    for summaries in stored:  # the members' summaries, as the batch store keeps them
        _strict_json(json.dumps(summaries.all()))
    assert atomic.dumps({"x": float("nan"), "y": [float("inf"), 1.0]}) == \
        '{"x": null, "y": [null, 1.0]}'


def test_json_on_stdout_is_strict_too(capsys):
    from pointgan_cli.cli import console

    console.print_json({"distance": float("inf"), "w": [float("nan")]})
    assert _strict_json(capsys.readouterr().out) == {"distance": None, "w": [None]}


def test_diagnose_never_writes_through_a_symlinked_folder(cli, tmp_path):
    run = tmp_path / "r"
    assert cli(["train", "--steps", "50", "--out", run]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "diagnose").symlink_to(elsewhere)
    res = cli(["diagnose", "loss-landscape", run])
    assert res.exit_code == 2 and "symbolic link" in res.stderr
    assert list(elsewhere.iterdir()) == []


# -- real processes: signals, kill -9, a second writer ------------------------------------------


def _popen(args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen([sys.executable, "-m", "pointgan_cli", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def _survivors(pgid: int) -> list[str]:
    """Live (not zombie) processes of the process group ``pgid``."""
    ps = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines()
            if line.split()[1] == str(pgid) and not line.split()[2].startswith("Z")]


def _survivors_after(pgid: int, seconds: float) -> list[str]:
    """``_survivors(pgid)`` once the group is empty, or after ``seconds``: the same verdict as
    looking once at the end (a group with no live process stays empty, nothing in it is left
    to start one), without waiting out the time when it empties sooner."""
    end = time.monotonic() + seconds
    while (left := _survivors(pgid)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


def _wait(cond, proc, limit=120.0):
    t0 = time.time()
    while not cond():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() - t0 < limit
        time.sleep(0.02)


@pytest.mark.long
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_kill_9_of_a_sweep_during_start_up_leaves_no_process(tmp_path):
    out = tmp_path / "s"
    proc = _popen(["sweep", "--seeds", "0-63", "--steps", "3000", "--workers", "2", "--out", out,
                   "-q"], tmp_path)
    _wait(lambda: (out / "sweep.json").exists(), proc)  # workers are being spawned now
    os.killpg(proc.pid, 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _survivors_after(proc.pid, 2) == []
    # (that --resume then gives the uninterrupted summary: tests/test_sweep.py)


@pytest.mark.long
def test_sigterm_to_a_sweep_checkpoints_every_member_and_exits_143(cli, tmp_path):
    args = ["sweep", "--seeds", "0-1", "--steps", "1500", "--checkpoint-every", "50",
            "--workers", "2", "-q"]
    out = tmp_path / "s"
    proc = _popen([*args, "--out", out], tmp_path)
    _wait(lambda: len(list((out / "batches").glob("*.state.npz"))) >= 2, proc)
    proc.send_signal(signal.SIGTERM)  # the main process only, not its group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and f"pointgan sweep --resume --out {out}" in err
    assert _survivors_after(proc.pid, 0.5) == []
    assert not (out / "summary.json").exists()
    assert len(list((out / "batches").glob("*.state.npz"))) == 2  # one per worker's batch
    # in-process from here (--workers 1): the same numbers, without starting worker processes
    assert cli(["sweep", "--resume", "--out", out, "--workers", "1"]).exit_code == 0
    assert cli([*args, "--workers", "1", "--out", tmp_path / "full"]).exit_code == 0
    assert (out / "summary.json").read_text() == (tmp_path / "full" / "summary.json").read_text()


@pytest.mark.long
def test_a_second_writer_is_refused_and_the_first_run_is_unaffected(cli, tmp_path):
    # the torch engine: 2,000 steps take long enough to meet the run while it holds its lock
    args = ["train", "--steps", "2000", "--seed", "7", "--engine", "torch", "-q"]
    out = tmp_path / "r"
    proc = _popen([*args, "--out", out], tmp_path)
    _wait(lambda: (out / "metrics.jsonl").exists(), proc)
    # paused, the first run still holds its lock however long the second writers take (on a
    # loaded machine it could otherwise finish first, and a second writer rightly succeed)
    proc.send_signal(signal.SIGSTOP)
    try:
        assert proc.poll() is None
        for second in (["train", "--steps", "50", "--out", out, "--force"],
                       ["train", "--out", out, "--resume"],
                       ["sweep", "--seeds", "0", "--out", out, "--force"]):
            res = cli(second)
            assert res.exit_code == 2 and "in use" in res.stderr, res.stderr
    finally:
        proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert cli([*args, "--out", tmp_path / "ref"]).exit_code == 0
    for name in ("metrics.jsonl", "spec.json"):
        assert (out / name).read_text() == (tmp_path / "ref" / name).read_text().replace(
            str(tmp_path / "ref"), str(out))


def test_ctrl_c_before_training_is_one_line_and_exit_130(cli, tmp_path, monkeypatch):
    import pointgan_cli.cli.train as train_cmd

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cmd, "resolve_spec", interrupted)
    res = cli(["train", "--steps", "20", "--out", tmp_path / "r"])
    assert res.exit_code == 130
    assert res.stderr.strip().splitlines()[-1] == "Error: aborted"
    assert not (tmp_path / "r").exists()


def test_a_real_full_disk_is_one_line_and_the_run_resumes_identically(cli, tmp_path):
    """A 64 KB tmpfs fills up mid-run (needs permission to mount; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        args = ["train", "--steps", "2000", "--snapshot-every", "5", "--checkpoint-every", "100",
                "-q"]
        res = cli([*args, "--out", disk / "r"])
        assert res.exit_code == 1
        assert res.stderr.count("\n") == 1 and "No space left on device" in res.stderr
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        assert cli(["train", "--resume", "--out", disk / "r", "-q"]).exit_code == 0
        assert cli([*args, "--out", tmp_path / "ref"]).exit_code == 0
        assert (disk / "r" / "metrics.jsonl").read_text() == \
            (tmp_path / "ref" / "metrics.jsonl").read_text()
        assert not [p for p in (disk / "r").rglob("*.tmp")]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_ctrl_c_while_the_command_tree_loads_is_one_line_and_130(monkeypatch, capsys):
    """A Ctrl-C in the first moments (imports, building the commands) ends like any other:
    one line, exit 130, no traceback."""
    from pointgan_cli.cli import app as app_module

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module, "_APP", None)
    monkeypatch.setattr(app_module, "build", interrupted)
    with pytest.raises(SystemExit) as exc:
        app_module.main(["train", "--steps", "10"])
    assert exc.value.code == 130
    assert capsys.readouterr().err == "Error: aborted\n"


def test_sigterm_before_a_command_handles_signals_is_one_line_and_143(tmp_path):
    """A SIGTERM in the first moments (imports, building the commands, planning, a kernel's
    compile) ends with one line and exit 143, not silently with -15; nothing is made."""
    code = ("import os, signal, sys, time\n"
            "from pointgan_cli.cli import app\n"
            "def build():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    time.sleep(30)\n"
            "app.build = build\n"
            "app.main(['train', '--steps', '10', '--out', sys.argv[1]])\n")
    env = dict(os.environ, MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True,
                         text=True, timeout=60, env=env)
    assert (res.returncode, res.stderr) == (143, "Error: terminated\n")
    assert not (tmp_path / "r").exists()
