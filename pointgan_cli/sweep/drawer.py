"""The sweep's charts drawn in a process of their own, on a core that would otherwise idle.

Why: a sweep that trains in its own process (the fused engine's default) keeps one core busy
with start-up (imports, ``sweep.json``, the kernel) while the other waits, and after training
it used to import matplotlib (~0.3 s) and draw its charts (~0.4 s for 1,024 members) while
the other core waited again. The drawer starts at the sweep's start, imports matplotlib on the
idle core during start-up, sleeps through training (it reads a pipe), and draws the PNGs while
this process writes the tables. This process never imports matplotlib (~50 MB less).

It draws exactly what ``summaries`` would draw in-process (the same functions on the same
summary: ``tests/test_sweep_drawer.py`` compares the bytes), and it is only a shortcut: a
drawer that cannot start, dies or reports any error leaves the drawing to this process, which
draws as before, so a full disk or a broken matplotlib is reported as it always was.

Protocol, one JSON line each way: ``{"sweep": PATH, "shared": ARGS, "jobs": [[FILE, KIND,
ARGS], ...]}`` in (``shared``: the arguments every job takes, such as the summary, sent once),
``{"ok": true}`` or ``{"error": TEXT}`` out once every file is written (atomically, through
``SweepDir``); end of input: the drawer exits. It ignores SIGINT (a Ctrl-C reaches the whole
process group; the sweep stops it) and, on Linux, dies with this process (``kill -9``).

``pointgan sweep`` starts the drawer before it even loads its command tree (``prestart``,
from ``cli.app.main``: 0.2 s earlier, so its imports are done before the kernel takes every
core); ``run_sweep`` takes it (``take``) and keeps it where a core is free, else stops it.
``POINTGAN_CHART_PROCESS=0`` draws in the sweep's own process always.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

#: A chart to draw: (file name in the sweep directory, drawing kind, its arguments).
Job = tuple[str, str, dict[str, Any]]


def enabled() -> bool:
    """Whether the chart process may be used (``POINTGAN_CHART_PROCESS=0``: never)."""
    return os.environ.get("POINTGAN_CHART_PROCESS", "1") != "0"


def draw(sweep_dir, kind: str, args: dict[str, Any]) -> bytes:
    """One chart's PNG bytes, in whichever process draws it."""
    if kind == "weights":
        from .charts import plot_weights

        return plot_weights(sweep_dir, args["summary"], args["real"])
    if kind == "success":
        from .successplot import plot_success

        return plot_success(args["summary"])
    if kind == "convergence":
        from .charts import plot_convergence

        return plot_convergence(args["summary"])
    if kind == "map":
        from . import mapplot

        return mapplot.draw(args["doc"])
    raise ValueError(f"unknown chart kind {kind!r}")


#: The drawer's command: this process's own ``pointgan_cli`` package (its folder, argv[1]), loaded
#: from that folder whatever ``sys.path`` would find first (a checkout beside an installed
#: copy), and nothing added to ``sys.path``.
_BOOT = ("import importlib.util, os, sys\n"
         "spec = importlib.util.spec_from_file_location('pointgan_cli', os.path.join("
         "sys.argv[1], '__init__.py'), submodule_search_locations=[sys.argv[1]])\n"
         "sys.modules['pointgan_cli'] = module = importlib.util.module_from_spec(spec)\n"
         "spec.loader.exec_module(module)\n"
         "from pointgan_cli.sweep.drawer import serve\n"
         "serve()\n")

_early: Drawer | None = None


def prestart(args: list[str]) -> None:
    """Start a drawer now for a ``pointgan sweep`` command line (not ``sweep export``, not
    ``--help``), on a machine with a core to spare; ``take`` hands it over, and one nobody
    takes is stopped when the process exits."""
    global _early
    if (not args or args[0] != "sweep" or (len(args) > 1 and args[1] == "export")
            or (os.cpu_count() or 1) < 2 or not _may_train_here(args[1:])):
        return
    _early = Drawer()
    _early.start()
    if _early.started:
        import atexit

        atexit.register(_early.close)


def _may_train_here(args: list[str]) -> bool:
    """False for a command line that asks for help or names what makes a sweep train in
    other processes (``--engine torch``, more than one ``--workers``, ``--executor ray``):
    ``run_sweep`` would stop that drawer at once. Anything else (a ``--config`` file may say
    the same) is left to ``run_sweep``."""
    pairs = dict(zip(args, args[1:]))
    for a in args:
        if a.startswith("--") and "=" in a:
            key, value = a.split("=", 1)
            pairs[key] = value
    return not (any(a in ("--help", "-h") for a in args) or pairs.get("--engine") == "torch"
                or pairs.get("--executor") == "ray"
                or pairs.get("--workers", "1") not in ("0", "1"))


def take() -> Drawer:
    """The drawer ``prestart`` started (once), else a new one not yet started."""
    global _early
    drawer, _early = _early, None
    return drawer if drawer is not None else Drawer()


class Drawer:
    """The parent's end: ``start`` (at most once), ``submit`` the jobs, ``wait`` for them
    (True: every file is written), ``close`` (stops the process if still running)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending = False

    @property
    def started(self) -> bool:
        return self._proc is not None

    def start(self) -> None:
        if self._proc is not None or not enabled():
            return
        package = str(Path(__file__).resolve().parents[1])  # this process's pointgan_cli
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, package],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=dict(os.environ, MPLBACKEND="Agg"), close_fds=True)
        except OSError:
            self._proc = None

    def submit(self, sweep_path: Path, jobs: list[Job], shared: dict[str, Any]) -> bool:
        """Hand ``jobs`` over, each to be drawn with ``shared`` and its own arguments (the
        summary is sent once, not once per chart: a dense map's is 7 MB of JSON); False
        (nothing handed over) when there is no working drawer."""
        if self._proc is None or self._proc.stdin is None or self._proc.poll() is not None:
            return False
        try:
            line = json.dumps({"sweep": str(sweep_path), "shared": shared, "jobs": jobs}) + "\n"
            self._proc.stdin.write(line.encode("utf-8"))
            self._proc.stdin.flush()
        except (OSError, TypeError, ValueError):
            self.close()
            return False
        self._pending = True
        return True

    def wait(self) -> bool:
        """Whether the drawer wrote every file of the last ``submit``."""
        if not self._pending or self._proc is None or self._proc.stdout is None:
            return False
        try:
            reply = json.loads(self._proc.stdout.readline() or b"null")
        except (OSError, ValueError):
            reply = None
        self._pending = False  # (still set if a signal interrupted the wait: see ``close``)
        if isinstance(reply, dict) and reply.get("ok") is True:
            return True
        self.close()
        return False

    def close(self) -> None:
        """Stop the drawer. An idle one is killed at once; one still drawing (the sweep was
        interrupted meanwhile) is asked to stop (SIGTERM), so the file it is writing is
        removed as the sweep's own writes would be, and killed if it has not within 2 s."""
        proc, self._proc = self._proc, None
        drawing, self._pending = self._pending, False
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        if proc.poll() is None:
            if drawing:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
            if proc.poll() is None:
                proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Linux: send this process ``signum`` when its parent dies (a ``kill -9`` of the sweep
    leaves no drawer behind, even mid-import)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG


def _draw_all(sweep_dir: Any, jobs: list[Job], shared: dict[str, Any]) -> None:
    """Draw and write every job. Two or more on Linux: the first (the weights chart, the
    longest) here and the rest at once in a forked child, which has matplotlib imported
    already (for 1,024 members the three charts take 0.30 s instead of 0.42 s, while the
    sweep's core would wait). The child dies with this process through SIGTERM, so a chart
    it is writing is cleaned up as here; an error in either is raised here."""
    def run(part: list[Job]) -> None:
        for name, kind, args in part:
            sweep_dir.write_file(name, draw(sweep_dir, kind, {**shared, **args}))

    if len(jobs) < 2 or not sys.platform.startswith("linux"):
        run(jobs)
        return
    parent = os.getpid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its jobs, then out without the parent's clean-up
        os.close(r)
        code, text = 0, ""
        try:
            _die_with_parent(signal.SIGTERM)
            if os.getppid() != parent:
                raise SystemExit(128 + signal.SIGTERM)
            run(jobs[1:])
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
            code, text = 1, f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(OSError):
                os.write(w, text.encode("utf-8")[:4000])
            os._exit(code)
    os.close(w)
    try:
        run(jobs[:1])
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        os.close(r)
        raise
    with os.fdopen(r, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(text or f"the chart process's child ended with status {status}")


def _stop(signum: int, frame: object) -> None:
    """SIGTERM: leave at once, through the atomic write's clean-up (its temp file removed)."""
    raise SystemExit(128 + signum)


def serve() -> None:
    """The drawer's main: import what the charts need, then answer requests until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    _die_with_parent()
    if os.getppid() == 1:  # the parent died before the line above took effect
        return
    from ..store.sweepdir import SweepDir
    from . import charts, mapplot, successplot  # noqa: F401  (imported now, drawn later)

    charts.import_libraries()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    for line in inp:
        try:
            request = json.loads(line)
            _draw_all(SweepDir(Path(request["sweep"])), request["jobs"], request["shared"])
            reply: dict[str, Any] = {"ok": True}
        except Exception as exc:  # noqa: BLE001  (the sweep draws again and reports it)
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write((json.dumps(reply) + "\n").encode("utf-8"))
        out.flush()
