"""Progress of the read-only commands: after WAIT_S a line per 10% of the work on stderr (off a
terminal), a Rich bar on one; nothing for a quick command. WAIT_S is forced to 0 here."""

from __future__ import annotations

import importlib.util
import io
import re

import pytest
from typer.testing import CliRunner

from pointgan_cli.cli import working as w
from pointgan_cli.cli.app import app
from pointgan_cli.results import progress


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("working")
    for name, extra in (("a", []), ("b", ["--lr-d", "0.003"])):
        invoke("sweep", "--seeds", "0-2", "--steps", "60", "--workers", "1", "--out",
               root / name, "-q", *extra)
    return root


@pytest.fixture
def at_once(monkeypatch):
    monkeypatch.setattr(w, "WAIT_S", 0.0)


def lines(res) -> list[str]:
    return res.stderr.splitlines()


@pytest.mark.parametrize("args, label", [
    (["report", "{a}"], r"report: diagnose 3 members: 3/3 \(100%\)"),
    (["diagnose", "run", "{a}"], r"diagnose run: diagnose 3 members: 3/3 \(100%\)"),
    (["ls", "{root}"], r"ls: read 2 runs and sweeps: 2/2 \(100%\)"),
    (["compare", "{a}", "{b}"], r"compare: read both sweeps: 2/2 \(100%\)"),
    (["sweep", "export", "{a}", "baseline-s0001", "--out", "{root}/x"],
     r"sweep export: export baseline-s0001: 1/1 \(100%\)"),
])
def test_read_only_commands_print_plain_progress_off_a_terminal(sweeps, at_once, args, label):
    res = invoke(*[a.format(a=sweeps / "a", b=sweeps / "b", root=sweeps) for a in args])
    got = lines(res)
    assert any(re.match(label, line) for line in got), got
    assert all(" s" in line for line in got)  # each says how long it has worked
    assert res.stdout and not re.search(label, res.stdout)  # progress never on stdout


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="needs mlflow")
def test_log_of_a_sweep_shows_reading_and_logging(sweeps, at_once, tmp_path):
    # a file store: the progress lines are the same for every mlflow store, and a new
    # sqlite database costs seconds of schema migrations (test_trackers logs to one)
    res = invoke("log", sweeps / "a", "--tracker", "mlflow", "--tracking-uri",
                 (tmp_path / "store").as_uri())
    text = res.stderr
    assert "log: read 3 members: 3/3 (100%)" in text and "log: log 3 members: 3/3 (100%)" in text


def test_a_quick_command_prints_no_progress(sweeps):
    assert w.WAIT_S == 2.0
    assert invoke("ls", sweeps).stderr == ""


def test_nested_tasks_count_toward_the_outer_one_and_nothing_without_a_reporter():
    seen: list[tuple] = []

    class Spy:
        def start(self, total, what):
            seen.append(("start", total, what))

        def advance(self, n=1):
            seen.append(("advance", n))

    assert list(progress.each([1, 2], "alone")) == [1, 2]  # no reporter: nothing happens
    with progress.reporting(Spy()):
        for _ in progress.each("ab", "outer"):
            assert list(progress.each([1, 2, 3], "inner")) == [1, 2, 3]
    assert seen == [("start", 2, "outer"), ("advance", 1), ("advance", 1)]


def test_a_terminal_gets_a_rich_bar(monkeypatch, at_once):
    from rich.console import Console

    buf = io.StringIO()
    monkeypatch.setattr(w, "interactive", lambda: True)
    monkeypatch.setattr(w, "err_console",
                        lambda: Console(file=buf, force_terminal=True, width=100))
    with w.working("report") as shown:
        with progress.task(4, "diagnose 4 members"):
            for _ in range(4):
                progress.advance()
        assert shown is not None and shown._bar is not None
        task = shown._bar.tasks[0]
        assert (task.completed, task.total) == (4, 4)
        assert task.description == "report: diagnose 4 members"
    assert "report: diagnose 4 members" in buf.getvalue()


def test_task_names_count_in_words():
    assert progress.count(1, "member", "diagnose") == "diagnose 1 member"
    assert progress.count(128, "member", "diagnose") == "diagnose 128 members"
    assert progress.count(2, "run or sweep", "read", "runs and sweeps") == "read 2 runs and sweeps"
