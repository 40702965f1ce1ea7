"""Atomic writes (``atomic``): a file is complete or absent, with a file's usual permissions."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pointgan_cli.store import atomic


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a" / "x.json"
    atomic.atomic_write_json(p, {"v": 1})
    atomic.atomic_write_json(p, {"v": 2})
    assert json.loads(p.read_text()) == {"v": 2}
    assert os.listdir(p.parent) == ["x.json"]
    assert stat.S_IMODE(p.stat().st_mode) & 0o044  # readable like any file, not 0600


def test_a_writer_that_fails_halfway_keeps_the_old_file_and_no_temp(tmp_path):
    p = tmp_path / "data.bin"
    atomic.atomic_write_bytes(p, b"old contents")

    def half(f):
        f.write(b"new con")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic.atomic_write(p, half)
    assert p.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_dumps_is_strict_json():
    text = atomic.dumps({"a": float("nan"), "b": [1.5, float("inf")], "c": "x"})
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": "x"}
    assert "NaN" not in text and "Infinity" not in text
