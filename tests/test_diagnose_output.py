"""The diagnose commands' PNG + JSON pair (``diagnose.output``): a write that fails (a full
disk) leaves no folder it made behind."""

from __future__ import annotations

import errno
import os

import pytest

from pointgan_cli.diagnose import output
from pointgan_cli.errors import RuntimeFailure
from pointgan_cli.store import atomic


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("fails", ["atomic_write_bytes", "atomic_write_json"])
def test_a_full_disk_leaves_no_folder_it_made(tmp_path, monkeypatch, fails):
    monkeypatch.setattr(atomic, fails, _full)
    out = tmp_path / "new" / "d"
    with pytest.raises(RuntimeFailure, match="No space left"):
        output.write_pair(out, "stability", {"a": 1}, b"png")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_in_a_folder_that_was_there_keeps_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "atomic_write_json", _full)
    (tmp_path / "mine.txt").write_text("kept")
    with pytest.raises(RuntimeFailure):
        output.write_pair(tmp_path, "stability", {"a": 1}, b"png")
    assert sorted(os.listdir(tmp_path)) == ["mine.txt", "stability.png"]
