"""A whole sweep's edges (``sweep.run``): a signal while the report is written, the Ray address
checked before anything is written, long flag values cut short in the error line."""

from __future__ import annotations

import importlib.util
import os
import signal
import time

import pytest

ARGS = ["sweep", "--steps", "20", "--seeds", "0-1", "--workers", "1", "-q"]


def test_sigterm_while_the_report_is_written_is_one_line_143_and_resume_finishes(
        cli, tmp_path, monkeypatch):
    from pointgan_cli.sweep import summaries

    write = summaries.write_summaries

    def signalled(*args, **kw):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the report phase, before a write
        return write(*args, **kw)

    monkeypatch.setattr(summaries, "write_summaries", signalled)
    res = cli([*ARGS, "--out", tmp_path / "s"])
    assert res.exit_code == 143, (res.exit_code, res.stderr)
    assert res.stderr.count("\n") == 1 and "sweep --resume" in res.stderr
    assert not (tmp_path / "s" / "summary.json").exists()
    monkeypatch.setattr(summaries, "write_summaries", write)
    assert cli(["sweep", "--resume", "--out", tmp_path / "s", "-q"]).exit_code == 0
    assert cli([*ARGS, "--out", tmp_path / "ref"]).exit_code == 0
    assert (tmp_path / "s" / "summary.json").read_bytes() == \
        (tmp_path / "ref" / "summary.json").read_bytes()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray")
def test_a_bad_ray_address_is_found_before_anything_is_written(cli, tmp_path):
    res = cli([*ARGS, "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out",
               tmp_path / "s"])
    assert res.exit_code == 1 and res.stderr.startswith("Error: --ray-address")
    assert not (tmp_path / "s").exists()


def test_a_huge_max_batch_value_is_not_echoed_whole(cli, tmp_path):
    res = cli([*ARGS, "--max-batch", "9" * 100_000 + "x", "--out", tmp_path / "s"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert len(res.stderr) < 300 and not (tmp_path / "s").exists()


def test_the_charts_libraries_load_while_the_last_batch_is_written(cli, tmp_path, monkeypatch):
    """A sweep that trains in its own process hands its last batch's files to the writes'
    thread and imports the charts' libraries meanwhile; the summaries start once the files
    are on disk."""
    from pointgan_cli.store import sweepstore
    from pointgan_cli.sweep import charts, summaries

    real_write, real_import, real_summaries = (sweepstore.write_batch, charts.import_libraries,
                                               summaries.write_summaries)
    events: list[str] = []

    def slow_write(sweep, bid, metrics, stacked):
        time.sleep(0.3)
        real_write(sweep, bid, metrics, stacked)
        events.append(f"wrote {bid}@{metrics.steps[-1]}")

    def load():
        events.append("import")
        real_import()

    def summarise(*args, **kw):
        events.append("summaries")
        return real_summaries(*args, **kw)

    monkeypatch.setattr(sweepstore, "write_batch", slow_write)
    monkeypatch.setattr(charts, "import_libraries", load)
    monkeypatch.setattr(summaries, "write_summaries", summarise)
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0-1", "--steps", "40", "--workers", "1",
               "--out", tmp_path / "s", "-q"])
    assert res.exit_code == 0, res.stderr
    assert events == ["import", "wrote 0000@40", "summaries"]
