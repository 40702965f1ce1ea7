"""The fused engine through the CLI: no torch anywhere in a fused sweep or train (main process
and workers), and the same verdicts as the torch engine on a small sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

#: Imported by every Python process started with it on PYTHONPATH (workers too, spawned or
#: forked): an import of torch or numba leaves a file named after it and the process.
SITECUSTOMIZE = textwrap.dedent('''
    import os, sys

    class _Watch:
        def find_spec(self, name, path=None, target=None):
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_name != "_find_and_load":
                frame = frame.f_back  # an import, not a lookup (importlib.util.find_spec)
            if name in ("torch", "numba") and frame is not None:
                open(os.path.join(os.environ["TORCH_MARKS"], f"{name}-{os.getpid()}"),
                     "w").close()
            return None

    sys.meta_path.insert(0, _Watch())
''')


def _run(args, tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, MPLBACKEND="Agg", TORCH_MARKS=str(marks),
               PYTHONPATH=os.pathsep.join([str(hook), root]))
    res = subprocess.run([sys.executable, "-m", "pointgan_cli", *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return sorted(os.listdir(marks)), res


@pytest.mark.long
def test_a_fused_sweep_and_train_never_import_torch(tmp_path):
    """Nor numba, on the common path: its code loads without it (``fused.native``)."""
    marks, res = _run(["sweep", "--preset", "fixed", "--seeds", "0-5", "--steps", "60",
                       "--max-batch", "2", "--workers", "2", "--out", tmp_path / "s"],
                      tmp_path)
    assert marks == [], "torch or numba was imported by a sweep process"
    assert "compiling" not in res.stderr and "torch engine" not in res.stderr  # warm, fused
    marks, _ = _run(["sweep", "export", tmp_path / "s", "fixed-s0001", "--out", tmp_path / "x"],
                    tmp_path)
    assert marks == []  # a fused member's losses are recomputed by the fused engine's numpy
    marks, _ = _run(["sweep", "--preset", "fixed", "--seeds", "0-40", "--steps", "30",
                     "--out", tmp_path / "s1"], tmp_path)
    assert marks == []  # one process, a thread per core
    marks, _ = _run(["train", "--steps", "60", "--out", tmp_path / "r", "--quiet"], tmp_path)
    assert marks == []
    marks, _ = _run(["train", "--preset", "r1", "--steps", "20", "--out", tmp_path / "g",
                     "--quiet"], tmp_path)
    assert [m.split("-")[0] for m in marks] == ["numba"]  # the general step: numba's kernel
    marks, _ = _run(["train", "--engine", "torch", "--steps", "20", "--out", tmp_path / "t",
                     "--quiet"], tmp_path)
    assert "torch" in {m.split("-")[0] for m in marks}  # the hook sees torch when imported


def test_fallback_is_one_line_and_trains_on_torch(cli, tmp_path):
    res = cli(["train", "--game", "dirac", "--steps", "20", "--out", tmp_path / "d", "--json"])
    assert res.exit_code == 0, res.stderr
    assert res.stderr.count("\n") == 1 and "--game dirac" in res.stderr
    assert json.loads(res.stdout)["engine"] == "torch"  # what trained it, in its summary
    assert json.loads((tmp_path / "d" / "spec.json").read_text())["spec"]["engine"] == "fused"
    res = cli(["train", "--steps", "20", "--out", tmp_path / "f", "--json"])
    assert json.loads(res.stdout)["engine"] == "fused"


@pytest.mark.long
def test_verdicts_agree_with_the_torch_engine_on_a_small_sweep(cli, tmp_path):
    """16 fixed members x 1,500 steps: the engines round a few operations differently
    (docs/performance.md), so a run at the tolerance's edge may flip; here none does. One
    process each (the numbers do not depend on it): a torch sweep's default two workers would
    be spawned here (a test process runs other threads), 4 s of start-up for 0.1 s of work."""

    out = {}
    for engine in ("fused", "torch"):
        out[engine] = tmp_path / engine
        res = cli(["sweep", "--preset", "fixed", "--seeds", "0-15", "--steps", "1500",
                   "--engine", engine, "--workers", "1", "--out", out[engine], "--quiet"])
        assert res.exit_code == 0, res.stderr
    from pointgan_cli.store.sweepdir import SweepDir

    ids = SweepDir(out["fused"]).ids
    a = SweepDir(out["fused"]).members.summaries(ids)
    b = SweepDir(out["torch"]).members.summaries(ids)
    assert [x["converged"] for x in a] == [y["converged"] for y in b]
    assert sum(x["converged"] for x in a) >= 4
    assert json.loads(json.dumps(a[0]))["steps"] == 1500
