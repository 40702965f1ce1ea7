"""Interrupt and resume give an uninterrupted run's rows, at step 0 and at every phase
boundary (a plain step, a snapshot, a checkpoint, the last step), for one run and for a
sweep batch (``training.train_batch``, ``sweep.jobs.train_store_batch``)."""

from __future__ import annotations

import json

import pytest

from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import sweepstore
from pointgan_cli.sweep.jobs import train_store_batch
from pointgan_cli.sweep.spec import SweepMember
from pointgan_cli.training.runtime import Interrupted
from pointgan_cli.training.train import Member, train_batch

STEPS, SNAP, CKPT = 60, 10, 20
#: step 0 (before any step), a plain step, a snapshot, a checkpoint, the last step
STOPS = (0, 3, SNAP, CKPT, STEPS - 1)
#: (engine, how many times ``should_stop`` answers no first): the torch engine asks before
#: every step, the fused one between its kernel calls, which record the snapshots inside and
#: end at the checkpoints here (steps 0, 20 and 40: every place it can stop)
CASES = [("torch", s) for s in STOPS] + [("fused", k) for k in (0, 1, 2)]


def _spec(preset: str = "baseline", seed: int = 0, engine: str = "torch"):
    return resolve_spec(preset, None, {"steps": STEPS, "snapshot_every": SNAP, "engine": engine,
                                       "checkpoint_every": CKPT, "seed": seed})


def _stop_at(step: int):
    """``should_stop`` that stops once ``step`` steps are done (it is asked before each)."""
    asked = [0]

    def stop() -> bool:
        asked[0] += 1
        return asked[0] > step

    return stop


def _summary(path):
    doc = json.loads(path.read_text())
    doc.pop("wall_seconds")
    return doc


@pytest.mark.parametrize(("engine", "stop"), CASES)
def test_a_run_resumed_at_any_boundary_has_the_uninterrupted_rows(tmp_path, engine, stop):
    ref, out = tmp_path / "ref", tmp_path / "out"
    spec = _spec(engine=engine)
    train_batch([Member(spec, ref, "pointgan train")], handle_signals=False)
    with pytest.raises(Interrupted):
        train_batch([Member(spec, out, "pointgan train")], handle_signals=False,
                    should_stop=_stop_at(stop))
    train_batch([Member(spec, out, "pointgan train", resume=True)], handle_signals=False)
    rows = (out / "metrics.jsonl").read_text()
    assert rows == (ref / "metrics.jsonl").read_text()
    assert [json.loads(r)["step"] for r in rows.splitlines()] == list(range(0, STEPS + 1, SNAP))
    assert _summary(out / "summary.json") == _summary(ref / "summary.json")


def _batch(sweep, engine="torch"):
    return [SweepMember(f"baseline-s{seed}", "baseline", _spec("baseline", seed, engine))
            for seed in (0, 1, 2)]


@pytest.mark.parametrize(("engine", "stop"), CASES)
def test_a_sweep_batch_resumed_at_any_boundary_has_the_uninterrupted_rows(tmp_path, engine,
                                                                          stop):
    ref, out = tmp_path / "ref", tmp_path / "out"
    for d in (ref, out):
        (d / "batches").mkdir(parents=True)
    members = _batch(ref, engine=engine)
    train_store_batch(ref, "0000", members, handle_signals=False)
    with pytest.raises(Interrupted):
        train_store_batch(out, "0000", _batch(out, engine=engine), handle_signals=False,
                          should_stop=_stop_at(stop))
    train_store_batch(out, "0000", _batch(out, engine=engine), handle_signals=False,
                      resume=True)
    a = sweepstore.read_metrics(sweepstore.metrics_path(out, "0000"))
    b = sweepstore.read_metrics(sweepstore.metrics_path(ref, "0000"))
    assert a.steps == b.steps == list(range(0, STEPS + 1, SNAP))
    for i, m in enumerate(members):
        assert a.rows(i, m.spec) == b.rows(i, m.spec)
    sa = sweepstore.read_summaries(sweepstore.state_path(out, "0000"))
    sb = sweepstore.read_summaries(sweepstore.state_path(ref, "0000"))
    for i in range(len(members)):
        assert dict(sa.get(i), wall_seconds=0) == dict(sb.get(i), wall_seconds=0)


# -- the acceptance: real SIGTERMs at step 0 over a sweep's first second, then --resume -----------

DRIVER = r"""
import contextlib, io, os, signal, sys, time
from pathlib import Path
from pointgan_cli.cli import app as cliapp
import matplotlib.pyplot  # what every child needs, imported once before any fork
import pointgan_cli.engine, pointgan_cli.sweep.charts, pointgan_cli.sweep.run
from pointgan_cli.store import sweepstore
from pointgan_cli.engine.fused.compiled import warm
from pointgan_cli.sweep import jobs
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
    cliapp.main(["sweep", "--help"])
warm(serial=True)  # numba's start-up and the shared kernels, once; it starts no thread
root, kills, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def at_step_0_of(k, t0):
    # Batch k's trainer gets a real SIGTERM from this process just as it starts to run:
    # the signal handler is installed, the step-0 snapshot not yet taken.
    real, seen, first = jobs.train_to_end, [0], []

    def wrapped(trainer, *a, **kw):
        first.append(time.monotonic())
        if seen[0] == k:
            run = trainer.run

            def signalled(*ra, **rk):
                print(f"kill {k}: SIGTERM {time.monotonic() - first[0]:.3f} s after the first "
                      f"batch started ({first[0] - t0:.2f} s of start-up)", file=sys.__stderr__,
                      flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return run(*ra, **rk)

            trainer.run = signalled
        seen[0] += 1
        return real(trainer, *a, **kw)

    jobs.train_to_end = wrapped

def child(argv, k=None):
    pid = os.fork()  # one thread here: the child starts with everything imported
    if pid == 0:
        t0 = time.monotonic()
        err = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)
        sys.__stderr__ = os.fdopen(err, "w")
        if k is not None:
            at_step_0_of(k, t0)
        code = 0
        try:
            cliapp.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            code = 99
        os._exit(code)
    return pid

def status(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

print("ref", status(child(args + ["--out", f"{root}/ref"])), flush=True)
for k in range(kills):
    out = f"{root}/k{k}"
    killed = status(child(args + ["--out", out], k))
    states = [sweepstore.read_progress(p)[1:]
              for p in sorted(Path(out).glob("batches/*.state.npz"))]
    print(f"kill {k}: exit {killed}, batches (step, finished): {states}", file=sys.stderr,
          flush=True)
    print(k, killed, repr(states).replace(" ", ""),
          status(child(args + ["--resume", "--out", out])), flush=True)
"""


@pytest.mark.long
def test_ten_sigterms_at_step_0_over_a_sweeps_first_second_then_resume_match(tmp_path):
    """A real SIGTERM at step 0 of each of a sweep's ten batches in turn (the kills fall
    through its first second of training), then ``sweep --resume``: ``summary.json``
    byte-identical and every member's metrics rows identical to an uninterrupted sweep's.
    Each sweep is a fork of one process that imported everything once, so the ten cost
    seconds, not a minute."""
    import subprocess
    import sys


    args = ["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-4",
            "--max-batch", "1", "--workers", "1", "--steps", "100", "--checkpoint-every", "25",
            "-q"]
    res = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path), "10", *args],
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr
    print(res.stderr)  # when each kill came and where it left the batches (-s shows it)
    lines = [line.split() for line in res.stdout.splitlines()]
    assert lines[0] == ["ref", "0"] and len(lines) == 11, res.stdout
    for k, (_, killed, states, resumed) in enumerate(lines[1:]):
        # batches before k finished, batch k checkpointed at step 0, the others not started
        want = [(100, True)] * k + [(0, False)]
        assert (killed, states, resumed) == ("143", repr(want).replace(" ", ""), "0"), k
    from pointgan_cli.store.sweepdir import SweepDir

    ref = tmp_path / "ref"
    ids = SweepDir(ref).ids
    want = [SweepDir(ref).members.metrics(m) for m in ids]
    assert all(len({r["step"] for r in rows}) == len(rows) for rows in want)
    for k in range(10):
        out = tmp_path / f"k{k}"
        assert (out / "summary.json").read_bytes() == (ref / "summary.json").read_bytes()
        assert [SweepDir(out).members.metrics(m) for m in ids] == want, k
