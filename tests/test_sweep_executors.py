"""The executors: failure messages in one line that names the fix (no Ray needed here), and
the pool-less local path's one signal flag for every job, so a signal that arrives between two
jobs (or after a job's last check) stops the sweep instead of being lost."""

from __future__ import annotations

import os
import signal

from pointgan_cli.sweep.executors import RAY_TOKEN_FIX, ray_start_error


class AuthenticationError(Exception):
    pass


def test_joining_a_cluster_without_token_mode_names_the_fix():
    exc = ConnectionError("Failed to connect to GCS at 10.0.0.5:6379. Timed out after 60 s.")
    msg = ray_start_error(exc, "10.0.0.5:6379", {})
    assert "\n" not in msg and "RAY_AUTH_MODE=token" in msg and RAY_TOKEN_FIX in msg
    assert msg.startswith("--ray-address: cannot start or reach Ray: Failed to connect")
    assert "Timed out" not in msg  # Ray's first sentence only


def test_token_mode_set_leaves_the_hint_out_unless_ray_says_auth():
    exc = ConnectionError("Failed to connect to GCS")
    assert "RAY_AUTH_MODE" not in ray_start_error(exc, "h:1", {"RAY_AUTH_MODE": "token"})
    assert "RAY_AUTH_MODE" not in ray_start_error(exc, None, {})  # a local Ray of our own
    auth = AuthenticationError("Authentication failed: invalid token.\nEnsure that...")
    assert RAY_TOKEN_FIX in ray_start_error(auth, None, {})
    assert "\n" not in ray_start_error(auth, None, {})


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


def test_an_interrupted_sweep_whose_last_checkpoint_finds_the_disk_full_says_so(
        cli, tmp_path, monkeypatch):
    """SIGTERM stops a one-process sweep at a checkpoint that is written on the writes'
    thread; when that write finds the disk full, the one error line is the disk's (exit 1,
    with the command that resumes), not an interruption that claims every member's
    checkpoint; the sweep then resumes to the uninterrupted summary."""
    import errno

    from pointgan_cli.store import sweepstore

    real, calls = sweepstore.write_batch, []

    def interrupted_then_full(*args):
        calls.append(args[1])
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # training stops at its next step
            return real(*args)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sweepstore, "write_batch", interrupted_then_full)
    args = ["sweep", "--seeds", "0-1", "--steps", "400", "--checkpoint-every", "100",
            "--workers", "1", "-q"]
    out = tmp_path / "s"
    res = cli([*args, "--out", out])
    assert res.exit_code == 1, (res.exit_code, res.stderr)
    assert res.stderr.count("\n") == 1 and "No space left on device" in res.stderr
    assert "sweep --resume" in res.stderr
    monkeypatch.setattr(sweepstore, "write_batch", real)
    assert cli(["sweep", "--resume", "--out", out, "-q"]).exit_code == 0
    assert cli([*args, "--out", tmp_path / "ref"]).exit_code == 0
    assert (out / "summary.json").read_bytes() == (tmp_path / "ref" / "summary.json").read_bytes()
