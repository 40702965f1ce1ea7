"""The watchdog that takes a local Ray down with its sweep: after ``kill -9`` of the driver,
nothing the driver started outlives it by more than a few seconds (Ray's own agents would stay
60 s); after a normal end the watchdog leaves everything alone."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pointgan_cli.sweep import reaper

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
ROOT = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent("""
    import subprocess, sys, time
    from pointgan_cli.sweep.reaper import Reaper
    r = Reaper()
    r.start()
    # a child whose own child will be reparented when the child dies: like raylet's agents
    subprocess.Popen(["sh", "-c", "sleep 300 & exec sleep 300"])
    time.sleep(1.5)  # the watchdog records the tree every half second
    print("ready", flush=True)
    if sys.argv[1] == "done":
        r.done()
        print("done", flush=True)
    time.sleep(300)
""")


def _driver(mode: str) -> tuple[subprocess.Popen, dict[int, int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, mode], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if mode == "done":
        assert proc.stdout.readline().strip() == "done"
    tree = reaper.descendants(proc.pid)
    return proc, tree


def test_kill_9_of_the_driver_takes_everything_it_started_down():
    proc, tree = _driver("kill")
    sleeps = [pid for pid in tree if "sleep" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(sleeps) == 2
    watchdogs = [pid for pid in tree if "reaper" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(watchdogs) == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(reaper.same_process(p, tree[p]) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in tree if reaper.same_process(p, tree[p])]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == []


def test_after_a_normal_end_the_watchdog_leaves_everything_alone():
    proc, tree = _driver("done")
    try:
        assert not any("reaper" in Path(f"/proc/{p}/cmdline").read_text() for p in tree)
        sleeps = [p for p in tree if "sleep" in Path(f"/proc/{p}/cmdline").read_text()]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(1.2)  # longer than the watchdog's interval, were it still watching
        assert len(sleeps) == 2 and all(reaper.same_process(p, tree[p]) for p in sleeps)
    finally:
        for p in tree:
            if reaper.same_process(p, tree[p]):
                os.kill(p, signal.SIGKILL)


def test_a_reused_pid_is_not_killed():
    """Only the process recorded (pid and start time) is killed, never a newcomer on its pid."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        st = reaper._stat(child.pid)
        assert st is not None
        assert reaper.kill_recorded({child.pid: st[1] + 1}) == []
        assert child.poll() is None
        assert reaper.kill_recorded({child.pid: st[1]}) == [child.pid]
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
