"""The common path loaded without numba (``fused.native``): the numba kernel's numbers bit for
bit, on any threads; no numba in a fused command's process; and every way it can be missing
or broken falls back to the numba kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pointgan_cli.engine.fused import cache, compiled, native
from pointgan_cli.engine.fused import layout as L
from pointgan_cli.engine.fused.trainer import FusedTrainer
from pointgan_cli.spec import resolve_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _specs(preset="fixed", n=7, steps=70, **kw):
    return [resolve_spec(preset, overrides={"seed": s, "steps": steps, **kw}) for s in range(n)]


def _native(threads=2):
    k = compiled.native_kernel()
    assert k is not None, "the native kernel did not load here"
    k.threads = threads
    return k


@pytest.mark.parametrize("preset, kw", [
    ("fixed", {}),
    ("baseline", {}),
    ("weight-decay", {"weight_decay_mode": "l2"}),
    ("fixed", {"d_steps": 3, "inner_batch": 3, "g_loss": "minimax", "batch_size": 37}),
    ("fixed", {"noise_scale": 0.7, "weight_decay": 0.3, "lr_d": 0.05}),
])
def test_the_native_code_gives_the_numba_kernels_numbers_bit_for_bit(preset, kw):
    """Snapshots recorded in a call, a continued call (t0 > 0), a frozen run and 1-3 threads:
    state and snapshots equal the numba kernel's to the bit."""
    sp = _specs(preset, **kw)
    ref = FusedTrainer(sp)
    assert L.is_common(ref.IS)
    numba_kernel = compiled.kernel(serial=False)
    out = {}
    for name, kern in (("numba", numba_kernel), ("t1", _native(1)), ("t2", _native(2)),
                       ("t3", _native(3))):
        tr = FusedTrainer(sp)
        tr.alive[2] = False
        snaps = np.zeros((tr.R, 4, 9), np.float32)
        kern(tr.S, tr.alive, tr.seeds, 0, 23, tr.H, tr.IS, tr.Fs, snaps, 5)
        kern(tr.S, tr.alive, tr.seeds, 23, 70, tr.H, tr.IS, tr.Fs, np.zeros((0, 0, 9),
             np.float32), 1 << 62)
        out[name] = (tr.S.copy(), snaps)
    S, snaps = out["numba"]
    assert not np.array_equal(S[:, :9], ref.S[:, :9]) and np.array_equal(S[2], ref.S[2])
    assert snaps[:, 3].any()
    for name in ("t1", "t2", "t3"):
        assert np.array_equal(out[name][0], S), name
        assert np.array_equal(out[name][1], snaps), name


def test_a_common_batch_trains_natively_and_others_through_numba():
    assert isinstance(FusedTrainer(_specs(n=40))._kernel, native.NativeKernel)
    assert FusedTrainer(_specs(n=40))._kernel.threads == native.default_threads()
    assert FusedTrainer(_specs(n=3))._kernel.threads == 1  # few runs: one thread
    assert not isinstance(FusedTrainer(_specs("r1", n=3))._kernel, native.NativeKernel)


def test_the_native_kernel_refuses_what_it_does_not_compute():
    tr = FusedTrainer(_specs("fixed", n=2))
    k = _native(1)
    with pytest.raises(ValueError, match="dtypes"):
        k(tr.S.astype(np.float64), tr.alive, tr.seeds, 0, 5, tr.H, tr.IS, tr.Fs,
          np.zeros((0, 0, 9), np.float32), 1 << 62)
    other = FusedTrainer(_specs("r1", n=2))
    with pytest.raises(ValueError, match="common path"):
        k(other.S, other.alive, other.seeds, 0, 5, other.H, other.IS, other.Fs,
          np.zeros((0, 0, 9), np.float32), 1 << 62)


def test_the_code_checks_its_buffers():
    """A buffer shorter than the batch's scratch: the code returns 1 without a step."""
    tr = FusedTrainer(_specs("fixed", n=2))
    k = _native(1)
    floats, room = L.common_scratch(64, 8, 1)[-2:]
    S0 = tr.S.copy()
    for short_floats, short_room, rows in ((floats - 1, room, 5), (floats, room - 16, 5),
                                           (floats, room, 4)):
        W = np.zeros(floats, np.float32)
        KEYS, IDX = np.zeros(room, np.uint64), np.zeros(room + 1, np.int64)
        U, BC = np.zeros(2 * room), np.zeros((5, 2), np.float32)
        snap = np.zeros((0, 0, 9), np.float32)
        status = k.fn(tr.S.ctypes.data, 2, tr.S.shape[1], tr.alive.ctypes.data,
                      tr.seeds.ctypes.data, 0, 5, tr.H.ctypes.data, tr.H.shape[1],
                      tr.IS.ctypes.data, L.NI, tr.Fs.ctypes.data, L.NF, snap.ctypes.data, 0,
                      0, 1 << 62, 0, 2, W.ctypes.data, short_floats, KEYS.ctypes.data,
                      IDX.ctypes.data, U.ctypes.data, short_room, BC.ctypes.data, rows, 1)
        assert status == 1
    assert np.array_equal(tr.S, S0)


def _fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    monkeypatch.setattr(cache, "say_compiling", lambda *a: None)
    monkeypatch.setattr(native, "_loaded", {})
    return cache.kernel_dir() / "native"


def test_a_failed_build_is_noted_once_and_numba_trains(monkeypatch, tmp_path):
    folder = _fresh_cache(monkeypatch, tmp_path)
    native.write_failure(folder, "RuntimeError: numba moved")
    assert native.is_built(folder) and native.load(folder) is None
    assert compiled.native_kernel() is None
    IS = FusedTrainer(_specs(n=2)).IS
    assert compiled.cpu_kernel(IS) is compiled.kernel(serial=False)


def test_object_code_that_cannot_be_linked_leaves_numba_to_train(monkeypatch, tmp_path):
    """Damaged code (its digest no longer matches) and code naming a function this process
    lacks are refused before llvmlite sees them; numba's run-time names are not refused."""
    folder = _fresh_cache(monkeypatch, tmp_path)
    meta = native.paths(folder)[1]
    native.write(folder, b"\x7fELF damaged", "train_range", [])
    desc = json.loads(meta.read_text())
    desc["sha256"] = "0" * 64
    meta.write_text(json.dumps(desc))
    assert native.load(folder) is None
    monkeypatch.setattr(native, "_loaded", {})
    native.write(folder, b"x", "train_range", ["a_function_nobody_has"])
    assert native.load(folder) is None
    assert native.link(b"x", {"symbol": "s", "undefined": ["NRT_Free"], "sha256": "1"}) is None


def test_an_object_file_removed_by_hand_is_built_again(monkeypatch, tmp_path):
    folder = _fresh_cache(monkeypatch, tmp_path)
    native.write(folder, b"code", "train_range", [])
    assert native.is_built(folder)
    native.paths(folder)[0].unlink()
    assert not native.is_built(folder)  # native_kernel would build it (tested cold below)
    native.write_failure(folder, "RuntimeError: numba moved")
    assert native.is_built(folder)  # a failure note stands for the object: not retried


def test_the_env_turns_the_native_kernel_off(monkeypatch):
    IS = FusedTrainer(_specs(n=2)).IS
    assert isinstance(compiled.cpu_kernel(IS), native.NativeKernel)
    monkeypatch.setenv(native.ENV, "0")
    assert compiled.cpu_kernel(IS) is compiled.kernel(serial=False)


def test_the_object_code_is_keyed_by_the_toolchain(monkeypatch):
    key = native.toolchain_key()
    monkeypatch.setenv("NUMBA_OPT", "1")
    assert native.toolchain_key() != key
    monkeypatch.delenv("NUMBA_OPT")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # not a code setting
    assert native.toolchain_key() == key


def _python(code, env_extra, cwd=ROOT):
    env = dict(os.environ, MPLBACKEND="Agg", **env_extra)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=cwd, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_a_cold_cache_builds_the_native_code_once_and_then_loads_it_without_numba(tmp_path):
    """A cache without the native code: the first process compiles it (one line) and writes
    the object code; the next loads it without importing numba, trains, and says nothing."""
    code = ("import sys\n"
            "from pointgan_cli.cli import app\n"
            "try:\n"
            "    app.main(sys.argv[1:] if len(sys.argv) > 1 else\n"
            f"             ['train', '--steps', '40', '--out', {str(tmp_path / 'r')!r},\n"
            "              '--quiet', '--force'])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('numba' in sys.modules)\n")
    env = {cache.ENV: str(tmp_path / "cache")}
    # numba's cache of the functions the native code calls, as the suite's warm-up left it:
    # the first process compiles only the native code (1-2 s instead of 7-8 s cold; CI's
    # wheel check builds it from nothing)
    here = cache.kernel_dir() / cache.numba_subdir()
    there = tmp_path / "cache" / "numba" / cache.kernel_dir().name / cache.numba_subdir()
    shutil.copytree(here, there)
    first = _python(code, env)
    assert first.stderr.count("compiling the fused CPU kernel once (about ten seconds)") == 1, \
        first.stderr
    objects = list((tmp_path / "cache").rglob("native/train_range-*.o"))
    assert len(objects) == 1 and objects[0].stat().st_size > 1000
    desc = json.loads(objects[0].with_suffix(".json").read_text())
    assert desc["symbol"].startswith("cfunc.") and "failed" not in desc
    second = _python(code, env)
    assert second.stderr == "" and second.stdout.splitlines()[-1] == "False"
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["steps"] == 40


def test_numba_loaded_after_the_native_code_keeps_its_own_run_time():
    """In a fresh process the native code is linked before numba is loaded (its run-time
    names then point at ``abort``); numba's kernel trained afterwards allocates and frees
    arrays through its own run-time (registered over those), and the native code still
    gives the same numbers."""
    code = ("import sys\n"
            "import numpy as np\n"
            "from pointgan_cli.spec import resolve_spec\n"
            "from pointgan_cli.engine.fused.trainer import FusedTrainer\n"
            "from pointgan_cli.engine.fused.native import NativeKernel\n"
            "def batch(preset):\n"
            "    return FusedTrainer([resolve_spec(preset, overrides={'seed': s, 'steps': 30})\n"
            "                         for s in range(40)])\n"
            "a = batch('fixed')\n"
            "assert isinstance(a._kernel, NativeKernel) and 'numba' not in sys.modules\n"
            "a.advance(30)\n"
            "b = batch('r1')\n"
            "assert not isinstance(b._kernel, NativeKernel) and 'numba' in sys.modules\n"
            "b.advance(30)\n"
            "c = batch('fixed')\n"
            "c.advance(30)\n"
            "assert np.array_equal(a.S, c.S) and not np.array_equal(b.S, batch('r1').S)\n"
            "print('ok')\n")
    res = _python(code, {})
    assert res.stdout.strip() == "ok"
