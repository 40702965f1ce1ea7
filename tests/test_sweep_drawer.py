"""``sweep.drawer``: a sweep's charts drawn in a process of their own where a core is free.

The suite turns the drawer off (conftest); these tests turn it on. What they hold it to: the
same PNG bytes as the charts drawn in the sweep's own process; every chart still written when
the drawer fails in any way; no drawer left behind (a finished sweep, a Ctrl-C, a ``kill -9``);
and a sweep that trains in its own process with the drawer never imports matplotlib.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from pointgan_cli.sweep import drawer as drawer_mod
from pointgan_cli.sweep.run import wants_drawer_at_start, wants_preload

CHARTS = ("weights.png", "success.png", "convergence.png")
SWEEP = ["sweep", "--preset", "fixed", "--preset", "baseline", "--seeds", "0-5", "--steps", "60",
         "-q"]


@pytest.fixture
def drawing(monkeypatch):
    """The drawer on, on a machine said to have two cores; the drawers started, in a list
    (each with its process id as ``pid``)."""
    monkeypatch.setenv("POINTGAN_CHART_PROCESS", "1")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    started: list[drawer_mod.Drawer] = []
    real = drawer_mod.Drawer.start

    def start(self):
        real(self)
        if self.started and self not in started:
            self.pid = self._proc.pid
            started.append(self)

    monkeypatch.setattr(drawer_mod.Drawer, "start", start)
    return started


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(d))
    return found


def test_the_drawer_writes_the_same_bytes_as_drawing_in_process(cli, tmp_path, drawing,
                                                                 monkeypatch):
    res = cli([*SWEEP, "--out", tmp_path / "drawn"])
    assert res.exit_code == 0, res.stderr
    assert len(drawing) == 1 and not drawing[0].started  # closed when the sweep returned
    monkeypatch.setenv("POINTGAN_CHART_PROCESS", "0")
    res = cli([*SWEEP, "--out", tmp_path / "here"])
    assert res.exit_code == 0, res.stderr
    assert len(drawing) == 1
    for name in (*CHARTS, "summary.json", "summary.csv"):
        assert ((tmp_path / "drawn" / name).read_bytes()
                == (tmp_path / "here" / name).read_bytes()), name


def test_a_map_is_drawn_by_the_drawer_with_the_same_bytes(cli, tmp_path, drawing, monkeypatch):
    args = ["sweep", "--preset", "fixed", "--grid", "noise_scale=0.5,1.5",
            "--grid", "weight_decay=0.01,0.1", "--seeds", "0-1", "--steps", "40", "-q"]
    assert cli([*args, "--out", tmp_path / "drawn"]).exit_code == 0
    assert len(drawing) == 1
    monkeypatch.setenv("POINTGAN_CHART_PROCESS", "0")
    assert cli([*args, "--out", tmp_path / "here"]).exit_code == 0
    for name in (*CHARTS, "map.png", "map.json", "map.csv", "summary.json"):
        assert ((tmp_path / "drawn" / name).read_bytes()
                == (tmp_path / "here" / name).read_bytes()), name


def test_a_drawer_that_dies_leaves_the_charts_to_the_sweep(cli, tmp_path, drawing,
                                                           monkeypatch):
    """The drawer is killed just before it is handed the charts: the sweep draws them itself
    and succeeds, every file in place."""
    real = drawer_mod.Drawer.submit

    def submit(self, sweep_path, jobs, shared):
        self._proc.kill()
        self._proc.wait()
        return real(self, sweep_path, jobs, shared)

    monkeypatch.setattr(drawer_mod.Drawer, "submit", submit)
    res = cli([*SWEEP, "--out", tmp_path / "s"])
    assert res.exit_code == 0, res.stderr
    assert len(drawing) == 1
    for name in CHARTS:
        assert (tmp_path / "s" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_drawer_that_reports_an_error_leaves_the_charts_to_the_sweep(cli, tmp_path, drawing,
                                                                      monkeypatch):
    """A drawing the drawer cannot make (here: an unknown chart kind it is sent instead of
    the real jobs) is an error line back; the sweep then draws the real charts itself."""
    real = drawer_mod.Drawer.submit
    replies: list[bool] = []

    def submit(self, sweep_path, jobs, shared):
        return real(self, sweep_path, [("weights.png", "no-such-chart", {})], shared)

    real_wait = drawer_mod.Drawer.wait

    def wait(self):
        replies.append(real_wait(self))
        return replies[-1]

    monkeypatch.setattr(drawer_mod.Drawer, "submit", submit)
    monkeypatch.setattr(drawer_mod.Drawer, "wait", wait)
    res = cli([*SWEEP, "--out", tmp_path / "s"])
    assert res.exit_code == 0, res.stderr
    assert replies == [False]
    monkeypatch.setenv("POINTGAN_CHART_PROCESS", "0")
    assert cli([*SWEEP, "--out", tmp_path / "here"]).exit_code == 0
    for name in CHARTS:
        assert ((tmp_path / "s" / name).read_bytes()
                == (tmp_path / "here" / name).read_bytes()), name


def test_a_chart_the_disk_refuses_is_the_same_error_with_or_without_the_drawer(
        cli, tmp_path, drawing, monkeypatch):
    """``success.png`` cannot be written (a folder of that name is in the way): the sweep
    fails with the one line it gives without a drawer, exit 1, and no ``summary.json``."""
    results = []
    for on in ("1", "0"):
        monkeypatch.setenv("POINTGAN_CHART_PROCESS", on)
        out = tmp_path / f"s{on}"
        res = cli([*SWEEP, "--out", out])
        assert res.exit_code == 0, res.stderr
        (out / "summary.json").unlink()
        (out / "success.png").unlink()
        (out / "success.png").mkdir()
        res = cli(["sweep", "--resume", "--out", out, "-q"])
        results.append((res.exit_code, res.stderr.replace(str(out), "OUT")))
        assert not (out / "summary.json").exists()
    assert len(drawing) == 2  # the first sweep's and its resume's
    assert results[0] == results[1]
    assert results[0][0] == 1 and results[0][1].count("\n") == 1, results


def test_charts_are_drawn_elsewhere_only_where_a_core_is_free():
    assert wants_drawer_at_start("local", 1, 4, 2)  # trains in this process
    assert wants_drawer_at_start("local", 2, 1, 2)  # one job: no pool either
    assert not wants_drawer_at_start("local", 1, 4, 1)  # one core: nothing is free
    assert not wants_drawer_at_start("local", 2, 4, 2)  # both cores train in workers
    assert not wants_drawer_at_start("ray", 1, 4, 2)
    # with workers, once they exist, where they leave a core free
    assert not wants_preload("local", 2, 4, 2, None)  # both cores train
    assert wants_preload("local", 2, 4, 4, None)
    assert wants_preload("local", 4, 2, 4, None)  # two jobs use two of the four cores
    assert not wants_preload("local", 1, 4, 4, None)  # trains in this process
    assert not wants_preload("local", 2, 1, 4, None)  # one job: no pool
    assert not wants_preload("ray", 2, 4, 4, None)  # a local Ray uses every core
    assert wants_preload("ray", 2, 4, 2, "10.0.0.1:6379")


def test_a_drawer_started_beside_workers_draws_and_is_gone_when_the_sweep_returns(
        cli, tmp_path, drawing, monkeypatch):
    """Two workers on four cores: the drawer starts once they exist (not before the fork),
    draws the charts, and is stopped when the sweep returns."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0-3", "--steps", "40", "--max-batch",
               "2", "--workers", "2", "--out", tmp_path / "s", "-q"])
    assert res.exit_code == 0, res.stderr
    assert len(drawing) == 1 and not drawing[0].started
    assert _gone(drawing[0].pid, 0.0)
    for name in CHARTS:
        assert (tmp_path / "s" / name).is_file()


@pytest.mark.parametrize("args, starts", [
    (["sweep", "--seeds", "0-3"], True),
    (["sweep", "--engine", "fused", "--workers", "1"], True),
    (["sweep", "--help"], False),
    (["sweep", "export", "runs/x"], False),
    (["sweep", "--engine", "torch"], False),
    (["sweep", "--engine=torch"], False),
    (["sweep", "--workers", "2"], False),
    (["sweep", "--executor", "ray"], False),
    (["train"], False),
])
def test_a_drawer_is_started_with_the_command_only_for_a_sweep_that_may_train_here(
        args, starts, drawing):
    drawer_mod.prestart(args)
    try:
        assert bool(drawing) == starts
    finally:
        drawer_mod.take().close()
    assert drawer_mod.take().started is False  # taken once


def _sweep_process(out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, POINTGAN_CHART_PROCESS="1", MPLBACKEND="Agg")
    return subprocess.Popen([sys.executable, "-m", "pointgan_cli", "sweep", "--preset", "fixed",
                             "--seeds", "0-63", "--steps", "200000", "--checkpoint-every",
                             "1000", "--out", str(out), "-q", *extra],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)


def _wait_for_training(proc: subprocess.Popen, out: Path) -> list[int]:
    """Until the sweep has a checkpoint on disk; its child processes then (the drawer)."""
    t0 = time.time()
    while not list((out / "batches").glob("*.state.npz")):
        assert proc.poll() is None and time.time() - t0 < 120
        time.sleep(0.02)
    return _children(proc.pid)


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` has exited (or is a zombie) now or within ``within`` s."""
    t0 = time.time()
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        if time.time() - t0 > within:
            return False
        time.sleep(0.02)


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="the drawer needs a free core; its parent-death signal is Linux's")
def test_kill_9_of_the_sweep_leaves_no_drawer(tmp_path):
    proc = _sweep_process(tmp_path / "s")
    try:
        drawers = _wait_for_training(proc, tmp_path / "s")
        assert len(drawers) == 1, drawers
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _gone(drawers[0])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the drawer needs a free core")
def test_ctrl_c_stops_the_sweep_at_a_checkpoint_and_its_drawer(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C: the drawer ignores it, the
    sweep saves a checkpoint, exits 130 with its one line and stops the drawer."""
    proc = _sweep_process(tmp_path / "s")
    drawers = _wait_for_training(proc, tmp_path / "s")
    assert len(drawers) == 1, drawers
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and "--resume" in err, err
    assert _gone(drawers[0])


def test_a_sweep_with_a_drawer_never_imports_matplotlib(tmp_path):
    """The sweep's own process (training here, the drawer drawing) imports neither
    matplotlib nor PIL, and the charts are written."""
    code = ("import os, sys\n"
            "os.cpu_count = lambda: 2\n"
            "from pointgan_cli.cli.app import main\n"
            "try:\n"
            "    main(sys.argv[1:])\n"
            "finally:\n"
            "    print(sorted(m for m in ('matplotlib', 'PIL') if m in sys.modules))\n")
    env = dict(os.environ, POINTGAN_CHART_PROCESS="1", MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, "-c", code, *SWEEP, "--out", str(tmp_path / "s")],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"
    for name in CHARTS:
        assert (tmp_path / "s" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_drawer_runs_this_process_own_package_whatever_its_path_finds_first(
        cli, tmp_path, drawing, monkeypatch):
    """A ``pointgan_cli`` earlier on the drawer's path (here one that cannot even import) is
    not the one it runs: it loads the sweep's own package and draws."""
    fake = tmp_path / "elsewhere" / "pointgan_cli"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not this one')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    monkeypatch.chdir(tmp_path)  # not a checkout's folder, which would come first
    answers: list[bool] = []
    real_wait = drawer_mod.Drawer.wait

    def wait(self):
        answers.append(real_wait(self))
        return answers[-1]

    monkeypatch.setattr(drawer_mod.Drawer, "wait", wait)
    res = cli([*SWEEP, "--out", tmp_path / "s"])
    assert res.exit_code == 0, res.stderr
    assert answers == [True]


def test_a_drawer_stopped_while_it_draws_leaves_through_its_clean_up(cli, tmp_path,
                                                                      monkeypatch):
    """A sweep interrupted while its drawer draws stops the drawer with SIGTERM, which it
    leaves by ``SystemExit`` (an atomic write in progress removes its temp file), not by a
    kill; no temp file is left beside the charts."""
    import json

    assert cli([*SWEEP, "--out", tmp_path / "s"]).exit_code == 0
    monkeypatch.setenv("POINTGAN_CHART_PROCESS", "1")
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    chart = tmp_path / "s" / "weights.png"
    before = chart.stat().st_mtime_ns
    drawer = drawer_mod.Drawer()
    drawer.start()
    proc = drawer._proc
    assert drawer.submit(tmp_path / "s", [("weights.png", "weights", {})] * 200,
                         {"summary": summary, "real": 1.0})
    t0 = time.time()
    while chart.stat().st_mtime_ns == before:  # drawing and writing, over and over
        assert time.time() - t0 < 60 and proc.poll() is None
        time.sleep(0.01)
    drawer.close()
    assert proc.returncode == 128 + signal.SIGTERM
    assert not list((tmp_path / "s").glob(".*.tmp"))


def test_a_request_carries_the_summary_once_whatever_the_charts():
    """Every chart is drawn from the same summary (a dense map's is 7 MB of JSON): it is
    sent once beside the jobs, which carry only what differs."""
    import io
    import json

    class Proc:
        stdin = io.BytesIO()

        def poll(self):
            return None

    drawer = drawer_mod.Drawer()
    drawer._proc = Proc()  # type: ignore[assignment]
    summary = {"groups": [{"group": "fixed", "members": ["0000"]}]}
    jobs = [("weights.png", "weights", {}), ("success.png", "success", {}),
            ("map.png", "map", {"doc": {"cells": []}})]
    assert drawer.submit(Path("/s"), jobs, {"summary": summary, "real": 1.0})
    line = Proc.stdin.getvalue().decode()
    assert line.endswith("\n") and line.count('"groups"') == 1
    request = json.loads(line)
    assert request["shared"] == {"summary": summary, "real": 1.0}
    assert [tuple(j[:2]) for j in request["jobs"]] == [(n, k) for n, k, _ in jobs]
    drawer._proc = None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the split forks on Linux")
def test_the_drawer_splits_its_charts_with_a_child_and_reports_either_ones_error(cli, tmp_path,
                                                                               monkeypatch):
    """The first chart is drawn in the drawer, the others at once in a forked child: the
    same bytes; an error in the child's share or in the drawer's own is raised in the drawer,
    and no child is left behind either way."""
    import json

    from pointgan_cli.store.sweepdir import SweepDir

    assert cli([*SWEEP, "--out", tmp_path / "s"]).exit_code == 0
    sweep = SweepDir(tmp_path / "s")
    shared = {"summary": json.loads((tmp_path / "s" / "summary.json").read_text()), "real": 1.0}
    before = {n: (tmp_path / "s" / n).read_bytes() for n in CHARTS}
    for n in CHARTS:
        (tmp_path / "s" / n).unlink()
    jobs = [(n, n.split(".")[0], {}) for n in CHARTS]
    forks: list[int] = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    drawer_mod._draw_all(sweep, jobs, shared)
    assert len(forks) == 1
    assert {n: (tmp_path / "s" / n).read_bytes() for n in CHARTS} == before
    with pytest.raises(RuntimeError, match="unknown chart kind 'nope'"):
        drawer_mod._draw_all(sweep, [jobs[0], ("x.png", "nope", {})], shared)
    with pytest.raises(ValueError, match="unknown chart kind 'nope'"):
        drawer_mod._draw_all(sweep, [("x.png", "nope", {}), *jobs[1:]], shared)
    assert len(forks) == 3
    for pid in forks:  # every child has ended and been reaped (not left running or a zombie)
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert not (tmp_path / "s" / "x.png").exists()
