import json
import signal
import time

import pytest
from conftest import popen_cli, run_cli

from pointgan_cli.store import ckptfile


def _files(d):
    return sorted(p.relative_to(d).as_posix() for p in d.rglob("*"))


def test_train_writes_the_run_directory(cli, tmp_path):
    out = tmp_path / "r"
    res = cli(["train", "--steps", "1000", "--out", out, "--quiet"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == str(out)  # --quiet: the path alone
    files = _files(out)
    for name in ("spec.json", "metrics.jsonl", "summary.json", "checkpoints/last.npz",
                 "checkpoints/step-000500.npz", "checkpoints/step-001000.npz"):
        assert name in files
    assert not [f for f in files if f.endswith(".tmp")]
    spec = json.loads((out / "spec.json").read_text())
    assert spec["command"].startswith("pointgan train --preset baseline --seed 0 --steps 1000")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    # auto cadence: the last 20% (200 steps) holds 20 snapshots
    assert [r["step"] for r in rows] == list(range(0, 1001, 10))
    assert {"step", "w", "b", "g_loss", "d_loss", "d_real", "d_fake", "d_W1_0", "d_c2"} <= set(
        rows[0]
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 1000 and summary["w"] == rows[-1]["w"]
    ck = ckptfile.load(out / "checkpoints" / "last.npz")
    assert ck["step"] == 1000 and ck["generator"].shape == (2,)
    assert {"optim_g", "optim_d", "rng", "discriminator"} <= set(ck)


def test_rerun_command_reproduces_the_run(cli, tmp_path):
    out = tmp_path / "a"
    res = cli(["train", "--preset", "fixed", "--steps", "300", "--seed", "4", "--out", out])
    assert res.exit_code == 0
    cmd = json.loads((out / "spec.json").read_text())["command"].split()
    assert cmd[:2] == ["pointgan", "train"]
    i = cmd.index("--out")
    cmd[i + 1] = str(tmp_path / "b")
    assert cli(cmd[1:]).exit_code == 0
    assert (out / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()


@pytest.mark.long
def test_train_json_fixed_converges(cli, tmp_path):
    res = cli(["train", "--noise-scale", "1.5", "--weight-decay", "0.1", "--json",
               "--out", tmp_path / "x"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["converged"] is True and doc["run_dir"] == str(tmp_path / "x")


def test_same_spec_and_seed_give_identical_metrics(cli, tmp_path):
    for name in ("a", "b"):
        res = cli(["train", "--preset", "noise", "--steps", "500", "--out", tmp_path / name])
        assert res.exit_code == 0
    a, b = (tmp_path / n / "metrics.jsonl" for n in "ab")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--lr-d", "-0.1"], "--lr-d"),
        (["--lr-g", "0"], "--lr-g"),
        (["--steps", "0"], "--steps"),
        (["--preset", "nope"], "--preset"),
        (["--label-easing", "0.5"], "--label-easing"),
        (["--config", "missing.toml"], "--config"),
        (["--config", "bad.json"], "--config"),
        (["--config", "unknown.toml"], "'bogus'"),
        (["--resume"], "--resume"),
        (["--steps", "ten"], "--steps"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(cli, tmp_path, monkeypatch, args,
                                                          needle):
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "unknown.toml").write_text("bogus = 1\n")
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    res = cli(["train", *args, "--out", "out"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert _files(tmp_path) == before


def test_bad_input_from_the_real_console_script(tmp_path):
    """The same rule through a real process: one line on stderr, exit 2, nothing created."""
    res = run_cli(["train", "--steps", "ten", "--out", "out"], cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--steps" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_is_refused_without_force(cli, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = cli(["train", "--steps", "50", "--out", out])
    assert res.exit_code == 2 and "--force" in res.stderr
    assert (out / "keep.txt").read_text() == "mine"
    res = cli(["train", "--steps", "50", "--out", out, "--force"])  # not pointgan's: refused
    assert res.exit_code == 2 and "keep.txt" in res.stderr
    assert _files(out) == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert cli(["train", "--steps", "50", "--seed", "1", "--out", out]).exit_code == 0
    assert cli(["train", "--steps", "50", "--out", out, "--force"]).exit_code == 0  # a run: ok
    assert json.loads((out / "summary.json").read_text())["seed"] == 0


def test_resume_without_checkpoint_changes_nothing(cli, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "spec.json").write_text("{}")
    res = cli(["train", "--resume", "--out", out])
    assert res.exit_code == 2 and "no complete checkpoint" in res.stderr
    assert _files(out) == ["spec.json"]


def _wait_for(path, proc, timeout=60):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < timeout
        time.sleep(0.02)


def _without_wall(summary):
    return {k: v for k, v in summary.items() if k != "wall_seconds"}


@pytest.mark.long
def test_kill_9_then_resume_equals_uninterrupted(cli, tmp_path):
    """A real training process killed with -9 after its second checkpoint; the resume (run
    in-process) ends with the summary and metrics of the uninterrupted run."""
    args = ["train", "--preset", "fixed", "--steps", "3000", "--checkpoint-every", "200",
            "--seed", "5"]
    assert cli([*args, "--out", tmp_path / "full"]).exit_code == 0
    out = tmp_path / "killed"
    proc = popen_cli([*args, "--out", out])
    _wait_for(out / "checkpoints" / "step-000400.npz", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    res = cli(["train", "--resume", "--out", out])
    assert res.exit_code == 0, res.stderr
    full = json.loads((tmp_path / "full" / "summary.json").read_text())
    resumed = json.loads((out / "summary.json").read_text())
    assert _without_wall(resumed) == _without_wall(full)
    assert (out / "metrics.jsonl").read_text() == (tmp_path / "full" / "metrics.jsonl").read_text()


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "r"
    proc = popen_cli(["train", "--steps", "200000", "--out", out])
    _wait_for(out / "metrics.jsonl", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err
    ck = ckptfile.load(out / "checkpoints" / "last.npz")
    assert 0 < ck["step"] < 200000
    assert not (out / "summary.json").exists()


def test_resume_of_a_finished_run_says_so_and_keeps_its_summary(cli, tmp_path):
    out = tmp_path / "r"
    assert cli(["train", "--steps", "60", "--out", out, "--quiet"]).exit_code == 0
    before = (out / "summary.json").read_bytes()
    metrics = (out / "metrics.jsonl").read_bytes()
    time.sleep(0.05)
    res = cli(["train", "--resume", "--out", out, "--json"])
    assert res.exit_code == 0, res.output
    assert "is finished (60 steps): nothing to resume" in res.stderr
    assert (out / "summary.json").read_bytes() == before  # wall time not rewritten
    assert (out / "metrics.jsonl").read_bytes() == metrics
    assert json.loads(res.stdout)["wall_seconds"] == json.loads(before)["wall_seconds"]
