"""The sweep's start decisions as a library call (``sweep.start``): what --resume and --force
mean for a directory, decided before any training code loads."""

from __future__ import annotations

import pytest

from pointgan_cli.errors import UsageError
from pointgan_cli.sweep.ranges import parse_seeds
from pointgan_cli.sweep.spec import build_sweep_spec, expand
from pointgan_cli.sweep.start import start


def _named(seeds="0-1", preset="fixed"):
    spec = build_sweep_spec([preset], None, {}, parse_seeds(seeds), None, {"steps": 20})
    return spec, expand(spec)


def test_flags_refused_before_anything_is_read(tmp_path):
    spec, members = _named()
    with pytest.raises(UsageError, match="--resume needs --out DIR"):
        start(None, None, None, resume=True)
    with pytest.raises(UsageError, match="cannot be used together"):
        start(tmp_path, spec, members, resume=True, force=True)


def test_a_fresh_sweep_gets_a_directory_and_its_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec, members = _named()
    begun = start(None, spec, members)
    assert begun.out.parent.name == "runs" and begun.out.name.startswith("sweep-")
    assert not begun.resume and not begun.force and begun.members == members
    assert begun.command.startswith("pointgan sweep") and str(begun.out) in begun.command


def test_resume_before_sweep_json_starts_the_named_sweep_there(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    spec, members = _named()
    begun = start(out, spec, members, resume=True)
    assert (begun.resume, begun.force) == (False, True) and begun.members == members


def test_resume_continues_what_sweep_json_recorded_and_refuses_another_sweep(cli, tmp_path):
    out = tmp_path / "s"
    assert cli(["sweep", "--preset", "fixed", "--seeds", "0-1", "--steps", "20",
                "--workers", "1", "-q", "--out", out]).exit_code == 0
    spec, members = _named()
    alone = start(out, None, None, resume=True)
    assert alone.resume and not alone.force and [m[0] for m in alone.members] == [
        m[0] for m in members]
    assert alone.spec.model_dump() == spec.model_dump()
    other, other_members = _named("0-2")
    with pytest.raises(UsageError, match="holds another sweep"):
        start(out, other, other_members, resume=True)
