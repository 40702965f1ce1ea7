"""``pointgan log --tracker wandb`` against a server nobody answers at fails in seconds, in one
line (W&B itself retries for 90 s)."""

from __future__ import annotations

import importlib.util
import time

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="needs wandb")


def test_an_unreachable_wandb_server_is_one_line_within_seconds(cli, tmp_path, monkeypatch):
    assert cli(["train", "--steps", "20", "--out", tmp_path / "r", "-q"]).exit_code == 0
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    t0 = time.monotonic()
    res = cli(["log", tmp_path / "r", "--tracker", "wandb", "--tracking-uri",
               "http://127.0.0.1:1"])
    assert res.exit_code == 1 and res.stderr.count("\n") == 1, res.stderr
    assert "cannot reach http://127.0.0.1:1" in res.stderr
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "r" / "wandb").exists()
