"""``sweep.summaries.write_summaries``: the charts, ``summary.csv`` and ``summary.json`` are
written in that order on a thread of their own, ``summary.json`` last, each chart drawn while
the file before it reaches the disk."""

from __future__ import annotations

import threading
import time


def test_the_report_files_are_written_in_order_on_another_thread_summary_last(
        cli, tmp_path, monkeypatch):
    from pointgan_cli.store.sweepdir import SweepDir
    from pointgan_cli.sweep import charts

    written: list[tuple[str, str]] = []
    real_file, real_summary, real_convergence = (SweepDir.write_file, SweepDir.write_summary,
                                                 charts.plot_convergence)
    drawn_while_writing: list[bool] = []
    busy = threading.Event()

    def write_file(self, name, data):
        busy.set()
        time.sleep(0.2)  # a slow disk
        real_file(self, name, data)
        written.append((name, threading.current_thread().name))
        busy.clear()

    def write_summary(self, summary):
        real_summary(self, summary)
        written.append(("summary.json", threading.current_thread().name))

    def plot_convergence(summary):
        drawn_while_writing.append(busy.is_set())  # success.png is still being written
        return real_convergence(summary)

    monkeypatch.setattr(SweepDir, "write_file", write_file)
    monkeypatch.setattr(SweepDir, "write_summary", write_summary)
    monkeypatch.setattr(charts, "plot_convergence", plot_convergence)
    res = cli(["sweep", "--seeds", "0-1", "--steps", "40", "--workers", "1",
               "--out", tmp_path / "s", "-q"])
    assert res.exit_code == 0, res.stderr
    report = [(n, t) for n, t in written if not n.startswith("batches")]
    assert [n for n, _ in report] == ["weights.png", "success.png", "convergence.png",
                                      "summary.csv", "summary.json"]
    assert threading.current_thread().name not in {t for _, t in report}
    assert drawn_while_writing == [True]
    assert (tmp_path / "s" / "summary.json").is_file()
