"""A sweep's members are the sweep's: every command that takes a run takes ``SWEEP/members/ID``,
writes derived files into the member's real folder under the sweep's lock, and no write
escapes the sweep or replaces a member's results (``outputs``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pointgan_cli.store import fsguard, outputs
from pointgan_cli.store.memberpath import member_address
from pointgan_cli.store.sweepdir import SweepDir


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from typer.testing import CliRunner

    from pointgan_cli.cli.app import app

    root = tmp_path_factory.mktemp("members")
    res = CliRunner().invoke(app, ["sweep", "--preset", "fixed", "--seeds", "0-3", "--steps",
                                   "60", "--workers", "1", "--out", str(root / "sw"), "-q"])
    assert res.exit_code == 0, res.output
    return root / "sw"


@pytest.fixture
def sweep(made, tmp_path):
    """A fresh copy of the module's sweep, to change."""
    shutil.copytree(made, tmp_path / "sw")
    return tmp_path / "sw"


# -- case 1: no write escapes the sweep through a symbolic link -----------------------------------

WRITERS = [
    ["train", "--resume", "--out", "{m}"],
    ["animate", "{m}", "--frames", "2", "--dpi", "20", "-q"],
    ["animate", "{m}", "--still", "0", "--dpi", "20"],
    ["report", "{m}"],
    ["diagnose", "loss-landscape", "{m}"],
    ["diagnose", "stability", "{m}"],
]


@pytest.mark.parametrize("linked", ["member", "members"])
def test_writes_never_escape_through_a_symlinked_member_or_members_folder(cli, sweep, tmp_path,
                                                                           linked):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "metrics.jsonl").write_text("precious\n")
    mid = "fixed-s0001"
    if linked == "member":
        (sweep / "members" / mid).symlink_to(victim, target_is_directory=True)
    else:
        (sweep / "members").rmdir()
        (victim / mid).mkdir()
        (sweep / "members").symlink_to(victim, target_is_directory=True)
    before = _tree(victim)
    for args in WRITERS:
        res = cli([a.format(m=sweep / "members" / mid) for a in args])
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert res.stderr.count("\n") == 1, res.stderr
        assert _tree(victim) == before, args
    assert not (victim / "spec.json").exists() and not (victim / mid / "animation.gif").exists()


def test_every_writing_command_refuses_an_out_inside_a_sweep(cli, sweep, tmp_path):
    """Case 2: nothing written into SWEEP/members/ID can pass for the member's results."""
    before = _tree(sweep)
    summary = (sweep / "summary.json").read_text()
    m2, m3 = sweep / "members" / "fixed-s0002", sweep / "members" / "fixed-s0003"
    for args in (["train", "--preset", "fixed", "--seed", "123", "--steps", "40", "--out", m3],
                 ["train", "--resume", "--out", m3],
                 ["train", "--steps", "40", "--out", sweep / "members" / "new"],
                 ["train", "--steps", "40", "--out", sweep / "batches" / "x"],
                 ["sweep", "export", sweep, "fixed-s0001", "--out", m2],
                 ["sweep", "--steps", "20", "--seeds", "0", "--out", sweep / "members" / "x"]):
        res = cli(args)
        assert res.exit_code == 2 and "inside the sweep" in res.stderr, (args, res.stderr)
        assert res.stderr.count("\n") == 1
    assert _tree(sweep) == before and sorted(os.listdir(sweep / "members")) == []
    # a link elsewhere that leads into the sweep is refused the same way
    (tmp_path / "link").symlink_to(sweep / "members", target_is_directory=True)
    res = cli(["train", "--steps", "40", "--out", tmp_path / "link" / "fixed-s0003"])
    assert res.exit_code == 2 and "inside the sweep" in res.stderr
    assert (sweep / "summary.json").read_text() == summary


def test_the_refusals_hint_names_only_a_member_the_sweep_has(cli, sweep):
    """The `sweep export` the refusal suggests works when copied: a real member id, else ID."""
    for name, mid in (("fixed-s0002", "fixed-s0002"), ("new", "ID")):
        res = cli(["train", "--steps", "40", "--out", sweep / "members" / name])
        assert res.exit_code == 2, res.stderr
        assert f"sweep export {sweep} {mid} --out DIR" in res.stderr, res.stderr


def test_a_run_writer_pointed_at_a_sweep_itself_says_so(cli, sweep, made):
    """train, train --force, train --resume and sweep export with --out SWEEP: one line that
    names the sweep and a hint that works (not --force or --resume, which both fail there)."""
    before = _tree(sweep)
    for args in (["train", "--steps", "20", "--out", sweep],
                 ["train", "--steps", "20", "--out", sweep, "--force"],
                 ["train", "--resume", "--out", sweep],
                 ["sweep", "export", made, "fixed-s0001", "--out", sweep]):
        res = cli(args)
        assert res.exit_code == 2 and res.stderr.count("\n") == 1, (args, res.stderr)
        assert "is a sweep directory" in res.stderr and "sweep --resume" in res.stderr, (
            args, res.stderr)
    assert _tree(sweep) == before


def test_the_library_refuses_to_train_into_a_sweep(sweep):
    from pointgan_cli.errors import UsageError
    from pointgan_cli.spec import resolve_spec
    from pointgan_cli.training.train import Member, train_batch

    spec = resolve_spec("fixed", None, {"steps": 20})
    with pytest.raises(UsageError, match="inside the sweep"):
        train_batch([Member(spec=spec, out=sweep / "members" / "fixed-s0000")])
    assert os.listdir(sweep / "members") == []


# -- issue 22: every command that takes a run takes SWEEP/members/ID ------------------------------


def test_every_command_that_takes_a_run_takes_a_member_path(cli, sweep, tmp_path):
    member = sweep / "members" / "fixed-s0003"
    store = _tree(sweep / "batches")
    res = cli(["animate", member])  # no other flag
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == str(member / "animation.gif")
    assert (member / "animation.gif").stat().st_size > 0 and not member.is_symlink()
    res = cli(["diagnose", "run", member, "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["class"] == SweepDir(sweep).members.summary("fixed-s0003")[
        "class"]
    res = cli(["diagnose", "stability", member, "--json"])
    assert res.exit_code == 0, res.stderr
    assert (member / "diagnose" / "stability.json").is_file()
    res = cli(["report", member])
    assert res.exit_code == 0, res.stderr
    assert "fixed-s0003" in (member / "report.html").read_text()
    res = cli(["log", member, "--tracking-uri", tmp_path / "mlruns", "--json"])
    assert res.exit_code == 0, res.stderr
    res = cli(["compare", member, sweep / "members" / "fixed-s0002", "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["kind"] == "run"
    res = cli(["sweep", "export", member, "--out", tmp_path / "e", "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads((tmp_path / "e" / "spec.json").read_text())["spec"]["seed"] == 3
    res = cli(["spec", "show", "--config", member / "spec.json"])  # case 11
    assert res.exit_code == 0, res.stderr
    assert _tree(sweep / "batches") == store  # the sweep's record is untouched
    # what a member's folder holds is the sweep's: --force replaces the sweep as a whole
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0-1", "--steps", "20", "--workers",
               "1", "--out", sweep, "--force", "-q"])
    assert res.exit_code == 0, res.stderr
    assert os.listdir(sweep / "members") == []


def test_a_member_named_from_inside_members_is_the_member(cli, sweep, monkeypatch):
    """``cd SWEEP/members && pointgan animate ID`` names the member as ``SWEEP/members/ID``
    does (the path is read as the place it names, not as the letters typed)."""
    monkeypatch.chdir(sweep / "members")
    sweep_dir, mid = member_address("fixed-s0001")
    assert (sweep_dir.path, mid) == (sweep, "fixed-s0001")
    for name in ("fixed-s0001", "./fixed-s0001"):
        res = cli(["diagnose", "run", name, "--json"])
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["class"] == SweepDir(sweep).members.summary(
            "fixed-s0001")["class"]
    res = cli(["animate", "fixed-s0001", "--frames", "2", "--dpi", "20", "-q"])
    assert res.exit_code == 0, res.stderr
    assert (sweep / "members" / "fixed-s0001" / "animation.gif").stat().st_size > 0
    monkeypatch.chdir(sweep)
    assert member_address("fixed-s0001") is None


def test_derived_writes_wait_for_the_writer_holding_the_lock(cli, sweep, tmp_path):
    """Case 11: animate, report and diagnose never write into a folder a train or sweep is
    writing: one line, exit 2, nothing made."""
    member = sweep / "members" / "fixed-s0000"
    run = tmp_path / "r"
    assert cli(["sweep", "export", member, "--out", run]).exit_code == 0
    for owner, target in ((sweep, member), (run, run)):
        before = _tree(owner)
        with fsguard.DirLock(owner):
            for args in (["animate", target, "--frames", "2", "--dpi", "20", "-q"],
                         ["report", target], ["diagnose", "loss-landscape", target]):
                res = cli(args)
                assert res.exit_code == 2 and "in use" in res.stderr, (args, res.stderr)
        assert _tree(owner) == before
    assert not member.exists()


def test_a_member_folder_is_made_real_and_inside_the_sweep(sweep):
    folder = outputs.member_folder(SweepDir(sweep), "fixed-s0002")
    assert folder == sweep / "members" / "fixed-s0002" and folder.is_dir()
    assert outputs.enclosing_sweep(folder / "x") == sweep
    assert outputs.enclosing_sweep(sweep) is None
