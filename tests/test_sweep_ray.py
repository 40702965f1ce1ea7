"""The Ray executor against a local Ray: same members, same numbers as the local executor."""

import importlib.util
import json
import os

import pytest

if importlib.util.find_spec("ray") is None:  # imported by the executor, not at collection
    pytest.skip("needs ray", allow_module_level=True)


@pytest.mark.long
def test_ray_executor_matches_local(cli, tmp_path):
    args = ["sweep", "--preset", "baseline", "--preset", "noise", "--seeds", "0-2",
            "--steps", "300", "--quiet"]
    assert cli([*args, "--workers", "1", "--out", tmp_path / "local"]).exit_code == 0
    res = cli([*args, "--executor", "ray", "--out", tmp_path / "ray"])
    assert res.exit_code == 0, res.stderr
    local = (tmp_path / "local" / "summary.json").read_text()
    assert (tmp_path / "ray" / "summary.json").read_text() == local
    assert json.loads(local)["n"] == 6

    from pointgan_cli.store.sweepdir import SweepDir

    a = SweepDir(tmp_path / "local").members.metrics("noise-s0002")
    b = SweepDir(tmp_path / "ray").members.metrics("noise-s0002")
    assert a == b and len(a) > 10


def test_unreachable_ray_address_is_one_line(cli, tmp_path):
    res = cli(["sweep", "--seeds", "0", "--steps", "10", "--executor", "ray",
               "--ray-address", "127.0.0.1:1", "--out", tmp_path / "s"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1].startswith("Error: --ray-address")


@pytest.mark.long
def test_sigterm_to_a_ray_sweep_checkpoints_every_running_member_and_exits_143(cli, tmp_path):
    """As with the local executor: one line, exit 143, each started batch saved at the step it
    reached (not only at its last cadence checkpoint), and --resume finishes the sweep (in this
    process, as tests/test_faults.py resumes a signalled local sweep)."""
    import signal
    import time

    from conftest import popen_cli

    from pointgan_cli.store import sweepstore

    out = tmp_path / "s"
    # the torch engine and 20,000 steps: both batches are still running when the signal comes
    # (the signal reaches Ray's workers a second or more later on a loaded machine, and a
    # torch batch of one run did 6,000 steps in that time; the fused one is faster still)
    steps_each = 20_000
    proc = popen_cli(["sweep", "--executor", "ray", "--seeds", "0-1", "--max-batch", "1",
                      "--steps", str(steps_each), "--checkpoint-every", "500", "--engine",
                      "torch", "--out", out, "-q"])
    try:
        deadline = time.monotonic() + 180
        # both batches started: each has written its first checkpoint
        while len(list(out.glob("batches/*.state.npz"))) < 2 and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.skip(f"Ray could not start here: {proc.stderr.read()[-300:]}")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: interrupted") and "sweep --resume" in last
    assert "SIGTERM received" not in err
    steps = [sweepstore.read_progress(sweepstore.state_path(out, b))[1]
             for b in sweepstore.batch_ids(out)]
    assert len(steps) == 2 and all(0 <= s < steps_each for s in steps), steps
    res = cli(["sweep", "--resume", "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    assert (out / "summary.json").is_file()


@pytest.mark.long
def test_kill_9_of_a_ray_sweep_leaves_no_ray_process_behind(tmp_path):
    """Ray stops its GCS and raylet itself, but its agents would stay 60 s trying to report to
    the dead GCS; the sweep's watchdog takes every process the sweep started down in seconds."""
    import signal
    import time
    from pathlib import Path

    from conftest import popen_cli

    from pointgan_cli.sweep import reaper

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc (Linux)")
    out = tmp_path / "s"
    proc = popen_cli(["sweep", "--executor", "ray", "--seeds", "0-1", "--max-batch", "1",
                      "--steps", "200000", "--checkpoint-every", "500", "--engine", "torch",
                      "--out", out, "-q"])
    tree: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("batches/*.state.npz")) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.skip(f"Ray could not start here: {proc.stderr.read()[-300:]}")
        tree = reaper.descendants(proc.pid)
        names = [Path(f"/proc/{p}/cmdline").read_bytes() for p in tree]
        assert any(b"raylet" in n for n in names) and any(b"ray::" in n for n in names)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        alive = list(tree)
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in tree if reaper.same_process(p, tree[p])]
        assert alive == [], [Path(f"/proc/{p}/cmdline").read_bytes()[:60] for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in tree:
            if reaper.same_process(p, tree[p]):
                os.kill(p, signal.SIGKILL)
