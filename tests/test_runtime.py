"""A full disk during any write: one line, exit 1, no half-made folder, and a hint that works
(``training.runtime.disk_failure`` and the writers that report through it). A real tmpfs is
mounted; without the permission to mount one the tests skip."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)],
            capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


def _fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` (a file written until ENOSPC)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:  # unbuffered: close has nothing left to flush
        try:
            while True:
                f.write(bytes(4096))
        except OSError:
            pass
    return filler


#: A reading command's progress line, printed once it has run 2 s (a loaded machine gets there).
PROGRESS = re.compile(r"[a-z ]+: .*\d+ s")


def _failed(res) -> str:
    """The one error line (exit 1), after nothing but the command's own progress lines."""
    assert res.exit_code == 1, (res.exit_code, res.stdout, res.stderr)
    *progress, last = res.stderr.splitlines()
    assert all(PROGRESS.fullmatch(line) for line in progress), res.stderr
    assert last.startswith("Error:") and "No space left on device" in last, res.stderr
    return last + "\n"


def _hint(stderr: str) -> list[str]:
    """The command the error line says to run, as arguments after ``pointgan``."""
    words = shlex.split(stderr.split("run: ", 1)[1])
    assert words[0] == "pointgan"
    return words[1:]


def test_a_disk_full_before_the_first_checkpoint_hints_a_command_that_works(cli, disk,
                                                                              tmp_path):
    args = ["train", "--steps", "400", "--snapshot-every", "1", "--checkpoint-every", "400",
            "-q"]
    filler = _fill(disk)
    filler.write_bytes(bytes(200_000))  # about 50 KB left: spec.json fits, the rows do not
    err = _failed(cli([*args, "--out", disk / "r"]))
    assert not list((disk / "r" / "checkpoints").iterdir())  # no checkpoint was written
    filler.unlink()
    res = cli(_hint(err))
    assert res.exit_code == 0, res.stderr
    assert cli([*args, "--out", tmp_path / "ref"]).exit_code == 0
    assert (disk / "r" / "metrics.jsonl").read_text() == \
        (tmp_path / "ref" / "metrics.jsonl").read_text()


def test_a_disk_full_while_writing_sweep_json_hints_a_command_that_works(cli, disk):
    filler = _fill(disk)
    err = _failed(cli(["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "--out",
                       disk / "s", "-q"]))
    assert not (disk / "s" / "sweep.json").exists()
    filler.unlink()
    res = cli(_hint(err))
    assert res.exit_code == 0, res.stderr
    assert (disk / "s" / "summary.json").is_file()


def test_report_animate_and_export_on_a_full_disk_are_one_line(cli, disk, tmp_path):
    run, sweep = disk / "r", disk / "s"
    assert cli(["train", "--steps", "40", "--out", run, "-q"]).exit_code == 0
    assert cli(["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "--out", sweep,
                "-q"]).exit_code == 0
    _fill(disk)
    _failed(cli(["report", run]))
    _failed(cli(["animate", run, "--frames", "3", "--dpi", "30", "-q"]))
    _failed(cli(["sweep", "export", sweep / "members" / "baseline-s0001", "--out", disk / "e"]))
    assert not (disk / "e").exists()  # no half-made run directory
    assert not [p for p in disk.rglob("*") if ".tmp" in p.name]


def test_gc_paused_pauses_collections_and_restores_the_state_it_found():
    import gc

    from pointgan_cli.training.runtime import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it off and leaves it off
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_keep_loaded_freezes_what_the_process_holds():
    import gc

    from pointgan_cli.training.runtime import keep_loaded

    gc.unfreeze()
    held: list = []  # a container, so the collector tracks it
    assert any(o is held for o in gc.get_objects())
    try:
        keep_loaded()
        assert gc.get_freeze_count() > 0
        assert not any(o is held for o in gc.get_objects())  # no collection walks it now
    finally:
        gc.unfreeze()
