"""The local executor without a pool: one signal flag for every job, so a signal that arrives
between two jobs (or after a job's last check) stops the sweep instead of being lost."""

from __future__ import annotations

import os
import signal

ARGS = ["sweep", "--steps", "20", "--seeds", "0-2", "--max-batch", "1", "--workers", "1", "-q"]


def test_a_signal_between_two_jobs_stops_the_sweep_and_resume_finishes(cli, tmp_path,
                                                                       monkeypatch):
    from pointgan_cli.store import sweepstore
    from pointgan_cli.sweep import executors

    real, calls = executors.train_job, []

    def then_signalled(job, *args, **kw):
        real(job, *args, **kw)
        calls.append(job)
        if len(calls) == 1:  # the first job is done; the signal comes before the second
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(executors, "train_job", then_signalled)
    out = tmp_path / "s"
    res = cli([*ARGS, "--out", out])
    assert res.exit_code == 143, (res.exit_code, res.stderr)
    assert res.stderr.count("\n") == 1 and "sweep --resume" in res.stderr
    assert len(calls) == 1 and not (out / "summary.json").exists()
    assert [sweepstore.read_progress(p)[1:] for p in sorted(out.glob("batches/*.state.npz"))] \
        == [(20, True)]
    monkeypatch.setattr(executors, "train_job", real)
    assert cli(["sweep", "--resume", "--out", out, "-q"]).exit_code == 0
    assert cli([*ARGS, "--out", tmp_path / "ref"]).exit_code == 0
    assert (out / "summary.json").read_bytes() == (tmp_path / "ref" / "summary.json").read_bytes()
