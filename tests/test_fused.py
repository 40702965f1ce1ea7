"""The fused engine against the torch engine: the same randomness bit for bit, the same
trajectories to float32 rounding, the same per-run numbers in any batch and with any number of
threads, and the fallbacks it names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pointgan_cli.engine import rng
from pointgan_cli.engine.fused import hashrng, hostrng, native, support
from pointgan_cli.engine.fused.settings import initial_params
from pointgan_cli.engine.fused.trainer import FusedTrainer
from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec


def specs(preset="fixed", n=4, steps=40, **kw):
    return [resolve_spec(preset, None, {"seed": s, "steps": steps, **kw}) for s in range(n)]


def test_uniform_streams_are_the_torch_engines_bit_for_bit():
    seeds = np.array([0, 1, 2**32 - 1, 123456789, 77], np.uint64)
    steps = np.array([0, 5, 2**31 + 7, 4000, 64 * 3 + 1], np.int64)
    for stream in (rng.STREAM_INIT, rng.STREAM_X, rng.STREAM_X_EXTRA, rng.STREAM_GP):
        ours = hashrng.uniform_table(seeds, stream, steps, 70)
        ref = rng.uniform(torch.tensor(seeds.astype(np.int64)), stream, torch.tensor(steps),
                          70, torch.float32).numpy()
        assert np.array_equal(ours, ref)
        assert np.array_equal(hostrng.uniform_table(seeds, stream, steps, 70), ref)


def test_normal_streams_are_the_torch_engines_bit_for_bit():
    """The CPU kernel's vectorised normals and the CUDA kernel's (libm's functions, as
    ``normal_pair`` compiles for the device) are torch's, bit for bit."""
    seeds = np.arange(300, dtype=np.uint64)
    steps = np.arange(64, dtype=np.int64)
    for stream in (rng.STREAM_NOISE, rng.STREAM_INSTANCE):
        ref = rng.normal_pairs(torch.tensor(seeds.astype(np.int64)), stream,
                               torch.tensor(steps), 8, torch.float32).numpy()
        for vectorised in (True, False):
            ours = hashrng.normal_table(seeds, stream, steps, 8, vectorised)
            assert np.array_equal(ours, ref)


def test_initial_parameters_are_the_torch_engines():
    from pointgan_cli.engine.trainer import init_params

    seeds = np.array([0, 3, 99, 2**32 - 1], np.uint64)
    g, d = initial_params(seeds)
    tg, td = init_params(torch.tensor(seeds.astype(np.int64)))
    assert np.array_equal(g, tg.numpy()) and np.array_equal(d, td.numpy())


CASES = [
    ("fixed", {}),
    ("baseline", {"loss": "hinge", "update": "simultaneous"}),
    ("r1", {"instance_noise": 0.2, "d_steps": 2}),
    ("wgan-gp", {"optimizer": "sgd", "momentum": 0.5}),
    ("lsgan", {"lecam": 0.1, "update": "optimistic", "weight_decay_mode": "l2",
               "weight_decay": 0.1}),
    ("r2", {"g_loss": "minimax", "label_easing": 0.1, "fake_weight": 0.5, "batch_size": 50}),
    ("fixed", {"update": "extragradient", "lecam": 0.3, "weight_decay_mode": "l2"}),
    ("baseline", {"update": "extragradient", "optimizer": "sgd", "momentum": 0.9}),
]


@pytest.mark.parametrize(("preset", "kw"), CASES)
def test_trajectories_follow_the_torch_engine_to_float32_rounding(preset, kw):
    """30 steps of each option group: the parameters agree within a few float32 ulps (the
    sums and the sigmoid's exp round differently; nothing else does)."""
    sp = specs(preset, 4, 30, **kw)
    fused, ref = FusedTrainer(sp), BatchTrainer(sp)
    with torch.inference_mode():
        for _ in range(30):
            fused.train_step()
            ref.train_step()
    assert np.allclose(fused.g, ref.g.numpy(), rtol=0, atol=2e-6)
    assert np.allclose(fused.d, ref.d.numpy(), rtol=0, atol=2e-6)
    assert not np.array_equal(np.zeros_like(fused.d), fused.d)


def test_a_run_is_the_same_alone_in_any_batch_and_with_any_threads():
    """40 runs on every thread (the parallel kernel), one alone, five on one thread then on
    three: each run's numbers are the same (numba's kernel: ``test_fused_native``)."""
    sp = specs("fixed", 40, 60)
    whole = FusedTrainer(sp)
    assert whole._kernel.threads == native.default_threads()
    whole.advance(60)
    alone = FusedTrainer(sp[4:5])
    alone.advance(60)
    assert np.array_equal(alone.S[0], whole.S[4])
    part = FusedTrainer(sp[2:7][::-1])
    part._kernel.threads = 1
    part.advance(25)
    part._kernel.threads = 3
    part.advance(60)
    assert np.array_equal(part.S[::-1], whole.S[2:7])


def test_the_general_step_is_the_same_on_numbas_threads_and_alone():
    """A batch off the common path (R1, here) of 40 runs trains on numba's parallel kernel:
    each run's numbers are those of the run alone (the serial kernel), and the same with
    the pool cut to one thread."""
    import numba

    from pointgan_cli.engine.fused.compiled import kernel

    sp = specs("r1", 40, 30)
    whole = FusedTrainer(sp)
    assert whole._kernel is kernel(serial=False) and not isinstance(whole._kernel,
                                                                       native.NativeKernel)
    whole.advance(30)
    alone = FusedTrainer(sp[7:8])
    alone.advance(30)
    assert np.array_equal(alone.S[0], whole.S[7])
    again = FusedTrainer(sp)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        again.advance(12)
    finally:
        numba.set_num_threads(before)
    again.advance(30)
    assert np.array_equal(again.S, whole.S)


@pytest.mark.parametrize(("preset", "kw"), [
    ("fixed", {}),
    ("fixed", {"d_steps": 2, "inner_batch": 3}),
    ("fixed", {"instance_noise": 0.1}),
])
def test_a_run_is_the_same_whatever_calls_advance_it(preset, kw):
    """The G-noise normals are drawn NOISE_STEPS steps at a time and kept between steps of
    one call: calls of any length (1 step, 7, across a block's end) give the same bits."""
    sp = specs(preset, 3, 70, **kw)
    whole = FusedTrainer(sp)
    whole.advance(70)
    pieces = FusedTrainer(sp)
    for upto in (1, 2, 9, 16, 17, 40, 41, 70):
        pieces.advance(upto)
    assert np.array_equal(pieces.S, whole.S)
    assert not np.array_equal(FusedTrainer(sp).S, whole.S)


def test_resume_from_a_checkpoint_gives_the_same_numbers():
    sp = specs("fixed", 3, 50)
    straight = FusedTrainer(sp)
    straight.advance(50)
    first = FusedTrainer(sp)
    first.advance(20)
    states = [first.state_for(i) for i in range(3)]
    second = FusedTrainer(sp)
    second.load_states(states)
    second.advance(50)
    assert np.array_equal(second.S, straight.S)


def test_torch_engine_resumes_a_fused_checkpoint():
    sp = specs("fixed", 2, 20)
    fused = FusedTrainer(sp)
    fused.advance(10)
    ref = BatchTrainer(sp)
    ref.load_states([fused.state_for(i) for i in range(2)])
    assert ref.step == 10 and np.array_equal(ref.g.numpy(), fused.g)


def test_divergence_is_rolled_back_and_frozen_as_in_the_torch_engine():
    sp = specs("baseline", 2, 20)
    fused = FusedTrainer(sp)
    fused.advance(5)
    fused.S[0, 0] = np.nan
    snap = fused.snapshot()
    assert list(snap.alive) == [False, True] and fused.diverged_step[0] == 5
    frozen = fused.S[0].copy()
    fused.advance(10)
    assert np.array_equal(fused.S[0], frozen)


def test_the_fallbacks_are_exactly_these():
    cuda_why = ("--device cuda with --instance-noise, --r1, --r2, --gp-weight, --lecam or "
                "--update extragradient")
    assert set(support.FALLBACKS.values()) == {"--game dirac", "--consensus", cuda_why}
    fused = resolve_spec("baseline", None, {})
    assert support.fallback_reason(fused) is None
    for flags, why in [({"game": "dirac"}, "--game dirac"),
                       ({"consensus": 1.0}, "--consensus"),
                       ({"device": "cuda", "r1": 1.0}, cuda_why),
                       ({"device": "cuda", "lecam": 0.1}, cuda_why),
                       ({"device": "cuda", "update": "extragradient"}, cuda_why)]:
        spec = resolve_spec("baseline", None, flags)
        assert support.fallback_reason(spec) == why
        assert not support.uses_fused(spec)
        line = support.fallback_line([spec, fused])
        assert line.count("\n") == 0 and why in line and "torch engine" in line
    torch_spec = resolve_spec("baseline", None, {"engine": "torch", "game": "dirac"})
    assert support.fallback_reason(torch_spec) is None and not support.uses_fused(torch_spec)
    assert support.fallback_line([fused]) is None
    dirac = resolve_spec("baseline", None, {"game": "dirac"})
    assert support.fallback_line([dirac]).endswith("; that run trains on the torch engine")
    assert support.fallback_line([dirac, dirac]).endswith(
        "; those 2 runs train on the torch engine")
    assert support.uses_fused(resolve_spec("fixed", None, {"device": "cuda"}))


def test_every_preset_and_loss_runs_fused():
    from pointgan_cli.spec import PRESETS

    for preset in PRESETS:
        assert support.uses_fused(resolve_spec(preset, None, {})), preset
    for flags in ({"update": "optimistic"}, {"update": "extragradient"},
                  {"update": "simultaneous"}, {"lecam": 0.5},
                  {"optimizer": "sgd", "momentum": 0.9}, {"d_steps": 3}, {"r2": 1.0},
                  {"weight_decay_mode": "l2", "weight_decay": 0.1}, {"g_loss": "minimax"}):
        assert support.uses_fused(resolve_spec("baseline", None, flags)), flags


CUDASIM = """
import numpy as np
from pointgan_cli.engine.fused.trainer import FusedTrainer
from pointgan_cli.spec import resolve_spec
for preset, kw in [("fixed", {}), ("baseline", {"loss": "hinge", "update": "optimistic",
                   "d_steps": 2, "weight_decay_mode": "l2", "weight_decay": 0.1})]:
    cpu = [resolve_spec(preset, None, {"seed": s, "steps": 6, "batch_size": 8,
                                       "inner_batch": 2, **kw}) for s in range(3)]
    gpu = [s.model_copy(update={"device": "cuda"}) for s in cpu]
    a, b = FusedTrainer(cpu), FusedTrainer(gpu)
    a.advance(3); b.advance(3)
    b.snapshot(False)  # the state comes back from the device, and goes again
    a.advance(6); b.advance(6)
    b.snapshot(False)
    d = np.abs(a.S - b.S).max()
    assert d < 1e-5 and np.abs(a.S).max() > 0, d
    print(preset, d)
"""


def test_the_cuda_kernel_matches_the_cpu_kernel_in_numbas_simulator(tmp_path):
    """The CUDA kernel's logic (``fused.cuda``) on a CPU: numba's CUDA simulator runs it
    thread by thread (a tiny R; the simulator computes the exp in float64, hence the
    tolerance)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", CUDASIM], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "fixed" in res.stdout and "baseline" in res.stdout


def test_kernel_cache_is_the_users_and_says_a_compile_once(monkeypatch, capsys, tmp_path):
    from pointgan_cli.engine.fused import cache

    monkeypatch.setenv("POINTGAN_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("POINTGAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "pointgan"
    assert not cache.is_cached("runs", "train_steps")  # an empty cache holds no kernel
    monkeypatch.setattr(cache, "_said", set())
    cache.say_compiling("fused CPU kernel")
    cache.say_compiling("fused CPU kernel")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compiling the fused CPU kernel once" in err
    assert str(tmp_path / "xdg" / "pointgan") in err
    cache.say_compiling("fused CPU kernel for these options")  # another compile: its own line
    cache.say_compiling("fused CPU kernel")
    assert capsys.readouterr().err.count("compiling the fused CPU kernel for these options") == 1


def test_a_kernel_cached_for_another_checkout_is_not_taken_for_this_ones(monkeypatch, tmp_path):
    """numba keeps one folder per source folder: an index that another checkout of the same
    sources left does not stop the line that says this one compiles, and the real one from
    numba's own locator is found."""
    from numba.core.caching import _CacheLocator

    from pointgan_cli.engine.fused import cache, runs

    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    other = cache.kernel_dir() / "fused_0123456789abcdef0123456789abcdef01234567"
    other.mkdir(parents=True)
    (other / "runs.train_steps-17.py311.nbi").write_bytes(b"")
    assert not cache.is_cached("runs", "train_steps")
    ours = cache.kernel_dir() / _CacheLocator.get_suitable_cache_subpath(runs.__file__)
    assert ours.name == cache.numba_subdir()
    ours.mkdir()
    (ours / "runs.train_steps-17.py311.nbi").write_bytes(b"")
    assert cache.is_cached("runs", "train_steps")
    assert not cache.is_cached("runs", "train_steps_serial")


def test_a_cache_that_cannot_be_written_is_said_so(monkeypatch, capsys, tmp_path):
    """A cache folder that cannot be made (here: below a file) is not claimed as the cache:
    the line says every run compiles again and how to choose a folder."""
    from pointgan_cli.engine.fused import cache

    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv(cache.ENV, str(tmp_path / "afile" / "cache"))
    monkeypatch.setattr(cache, "_said", set())
    cache.say_compiling("fused CPU kernel")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cached in" not in err, err
    assert "cannot cache" in err and f"{cache.ENV} names a folder that cannot be written" in err


def test_processes_on_a_cold_cache_compile_one_at_a_time(tmp_path, monkeypatch):
    """The compile lock is held across processes: a second process that wants it waits until
    the first lets go (then finds the kernel cached and loads it; see ``compile_lock``)."""
    import subprocess
    import sys
    import time

    from pointgan_cli.engine.fused import cache

    monkeypatch.setenv(cache.ENV, str(tmp_path))
    hold = ("import sys, time\n"
            "from pointgan_cli.engine.fused import cache\n"
            "with cache.compile_lock():\n"
            "    print('held', flush=True)\n"
            "    time.sleep(1.5)\n")
    first = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "held\n"
        t0 = time.perf_counter()
        with cache.compile_lock():
            waited = time.perf_counter() - t0
    finally:
        first.wait(timeout=30)
    assert waited >= 1.0 and (tmp_path / "numba").is_dir()


def test_only_a_cold_kernel_load_takes_the_compile_lock(monkeypatch):
    from pointgan_cli.engine.fused import cache, compiled

    taken: list[bool] = []
    real = cache.compile_lock

    def lock():
        taken.append(True)
        return real()

    monkeypatch.setattr(cache, "compile_lock", lock)
    monkeypatch.setattr(compiled, "_kernels", {})
    monkeypatch.setattr(cache, "is_cached", lambda *a: True)
    compiled.kernel(serial=True)
    assert taken == []
    monkeypatch.setattr(compiled, "_kernels", {})
    monkeypatch.setattr(cache, "is_cached", lambda *a: False)
    monkeypatch.setattr(cache, "say_compiling", lambda *a: None)  # another test's line
    compiled.kernel(serial=True)
    assert taken == [True]


def test_the_kernel_cache_is_keyed_by_the_fused_sources(tmp_path, monkeypatch):
    """A kernel compiled from other sources is never loaded: the cache folder names a digest
    of every source file of the fused engine (numba itself checks only the defining file)."""
    from pointgan_cli.engine.fused import cache

    monkeypatch.setenv(cache.ENV, str(tmp_path))
    key = cache.source_key()
    assert len(key) == 16 and cache.kernel_dir() == tmp_path / "numba" / key
    src = tmp_path / "src"
    src.mkdir()
    for f in Path(cache.__file__).parent.glob("*.py"):
        (src / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(cache, "__file__", str(src / "cache.py"))
    assert cache.source_key() == key  # the same sources, wherever they lie
    (src / "trainer.py").write_text((src / "trainer.py").read_text() + "\n# edited\n")
    assert cache.source_key() == key  # host code only: the kernels stay
    (src / "mathops.py").write_text((src / "mathops.py").read_text() + "\n# edited\n")
    assert cache.source_key() != key


def test_host_only_modules_hold_no_compiled_code_and_no_compiled_module_imports_them():
    """The kernel cache's key leaves out ``cache.HOST_ONLY``: safe only while nothing there
    is compiled (no jit decorator, no numba import at module level) and no module with
    compiled code imports one of them (numba would compile what it uses)."""
    import re

    from pointgan_cli.engine.fused import cache

    folder = Path(cache.__file__).parent
    names = {f.name for f in folder.glob("*.py")}
    assert names > cache.HOST_ONLY
    imports = re.compile(r"^from \.(\w*) import (.+)$|^from \.(\w+) import", re.M)
    for f in sorted(folder.glob("*.py")):
        text = f.read_text()
        compiled = bool(re.search(r"@(njit|cfunc|intrinsic|cuda\.jit)|\bnjit\(", text))
        if f.name in cache.HOST_ONLY:
            numba_import = r"^(from numba[\w.]* import \w|import numba[\w.]*$)"
            assert not compiled and not re.search(numba_import, text, re.M), f
            continue
        used = set()
        for m in imports.finditer(text):
            if m.group(1):
                used.add(m.group(1) + ".py")
            elif m.group(2):  # from . import a, b as c
                used.update(n.split(" as ")[0].strip() + ".py" for n in m.group(2).split(","))
            if m.group(3):
                used.add(m.group(3) + ".py")
        assert not used & cache.HOST_ONLY, (f.name, used & cache.HOST_ONLY)


def test_loading_the_kernel_imports_no_scipy_and_leaves_scipy_importable():
    """numba's BLAS check would import scipy.linalg (0.15-0.19 s of every fused command's
    start; numba still imports scipy's top package, 12 ms); the loader keeps it out, and
    scipy.linalg imports as usual afterwards."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from pointgan_cli.engine.fused.compiled import kernel\n"
            "kernel(serial=True)\n"
            "print(sorted(m for m in sys.modules if m.startswith('scipy.linalg')))\n"
            "import scipy.linalg.cython_blas\n"
            "print('scipy.linalg' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["[]", "True"]
