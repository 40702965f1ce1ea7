"""Shared test helpers: a CLI runner and a way to run the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromium
import pytest
from typer.testing import CliRunner

os.environ.setdefault("MPLBACKEND", "Agg")
# A sweep draws its charts in a process of its own where a core is free (``sweep.drawer``):
# a second interpreter per sweep, 0.5 CPU-seconds that the suite's hundreds of small sweeps
# would pay on a machine whose cores the test workers already use. The tests draw in-process
# unless they test the drawer (tests/test_sweep_drawer.py turns it on).
os.environ["POINTGAN_CHART_PROCESS"] = "0"

import typer.testing  # noqa: E402

from pointgan_cli.cli.app import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _build_once(build):
    """typer's ``CliRunner.invoke`` turns the app into its click command on every call (about
    20 ms; the suite invokes the CLI over a thousand times). The app never changes while the
    tests run, and a click command keeps nothing between invocations (each gets a new
    context), so pointgan's is built once per process; any other app is built as before."""
    built = []

    def get_command(typer_app):
        if typer_app is not app:
            return build(typer_app)
        if not built:
            built.append(build(typer_app))
        return built[0]

    return get_command


typer.testing._get_command = _build_once(typer.testing._get_command)  # type: ignore[attr-defined]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long: takes several seconds on its own (real processes, a local Ray, "
        "1,000 animation frames); run before the others, see pytest_collection_modifyitems")


def pytest_collection_modifyitems(items):
    """Tests marked ``long`` first, every other order kept (a stable sort). With ``-n auto
    --dist worksteal`` an idle worker takes queued tests from the busy one; long tests at the
    start leave the many short ones to be shared at the end, instead of one worker finishing
    a long test alone while the other waits. (Marked tests use no module-scoped fixture that
    other tests share, so moving them sets nothing up twice.)"""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture
def cli():
    """Invoke the typer app in-process: ``cli(["train", ...])`` -> click Result."""
    runner = CliRunner()

    def invoke(args):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def load_script(name):
    """A script of ``benchmarks/`` imported as a module (``benchmarks/NAME.py``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_cli(args, cwd=None, timeout=300, **kw):
    """Run ``python -m pointgan_cli`` as a real process (exit codes, signals, stderr)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "pointgan_cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw,
    )


def popen_cli(args, cwd=None):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen(
        [sys.executable, "-m", "pointgan_cli", *map(str, args)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def assert_text_inside(fig, slack: float = 1.0) -> None:
    """Every visible, non-empty text of ``fig`` (titles, labels, tick labels, legends) lies
    inside the figure: nothing is cut at an edge."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    undrawn = set()  # labels of ticks outside their axis' view (matplotlib does not draw them)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    undrawn.update({id(tick.label1), id(tick.label2)})
    for t in fig.findobj(Text):
        if (not t.get_visible() or not t.get_text().strip() or t.figure is None
                or id(t) in undrawn):
            continue
        e = t.get_window_extent(renderer)
        assert (e.x0 >= box.x0 - slack and e.x1 <= box.x1 + slack and e.y0 >= box.y0 - slack
                and e.y1 <= box.y1 + slack), (t.get_text(), e.bounds, box.bounds)


@pytest.fixture(scope="session", autouse=True)
def fused_kernel_warm():
    """Load (or, in a cold cache, compile once) the fused kernel before any test: subprocesses
    of the CLI then find it in the user's cache and print no compile line (tests count
    stderr lines)."""
    from pointgan_cli.engine.fused.compiled import warm

    warm(serial=True)  # the sweeps' workers' kernel; it starts no thread (forking stays safe)


def make_sweep(out, members, max_batch=None):
    """A real sweep directory of chosen members, as ``pointgan sweep`` writes it (sweep.json,
    the batch store, summary.json and its charts): ``members`` is a list of
    ``(id, group, spec)``. Members sharing a batch key train as one batch (``max_batch``
    caps it), in one process."""
    from pointgan_cli.sweep.run import run_sweep
    from pointgan_cli.sweep.spec import SweepMember, build_sweep_spec

    chosen = [SweepMember(*m) for m in members]
    presets = list(dict.fromkeys(m.spec.preset for m in chosen))
    seeds = sorted({m.spec.seed for m in chosen})
    sweep = build_sweep_spec(presets, None, {}, seeds, None, {})
    run_sweep(Path(out), sweep, "pointgan sweep", resume=False, max_batch=max_batch, workers=1,
              members=chosen)
    return Path(out)


#: Skips a test where no chromium binary is installed (the report page's browser tests).
needs_chromium = pytest.mark.skipif(chromium.binary() is None,
                                    reason="no chromium binary (apt-get install chromium)")


def invoke(*args):
    """The CLI in this process; the command must succeed."""
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.stderr
    return res
