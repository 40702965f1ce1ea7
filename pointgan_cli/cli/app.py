"""The ``pointgan`` application: every command registered here, in one place (``build``).

``pointgan --version`` is answered before the command tree is built, and the tree itself is
built on first use (``app``): a process that only asks for the version loads neither typer
nor pydantic; the command modules load torch, matplotlib and the trackers only inside their
commands (benchmarks/bench_startup.py measures the start-up).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any

# numpy's OpenBLAS would start a thread pool at import; the CLI does no BLAS work in numpy, and
# a process with one thread can fork its sweep workers safely (sweep.executors).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .. import __version__

if TYPE_CHECKING:
    import typer

HELP = ("PointGAN, the simplest GAN possible, as reproducible science: train, sweep, animate "
        "and diagnose.")


def build() -> typer.Typer:
    """The application with every command registered."""
    import typer

    from . import animate, diagnose, spec_cmd, sweep, train
    from . import compare as compare_cmd
    from . import log as log_cmd
    from . import ls as ls_cmd
    from . import report as report_cmd
    from .errors import PointganGroup
    from .helpfmt import HELP_OPTIONS
    from .root import root

    app = typer.Typer(name="pointgan", help=HELP, no_args_is_help=True, add_completion=True,
                      pretty_exceptions_enable=False, cls=PointganGroup,
                      context_settings={"help_option_names": HELP_OPTIONS})
    app.callback()(root)
    app.command("train")(train.train)
    app.add_typer(sweep.app, name="sweep")
    app.command("animate")(animate.animate)
    app.command("log")(log_cmd.log)
    app.command("ls")(ls_cmd.ls)
    app.command("compare")(compare_cmd.compare)
    app.command("report")(report_cmd.report)
    app.add_typer(spec_cmd.app, name="spec")
    app.add_typer(diagnose.app, name="diagnose")
    return app


_APP: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``app``: the application, built once on first use."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = build()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``pointgan`` with no arguments shows the help)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # the one answer that needs no command tree
        print(f"pointgan {__version__}")
        return
    if args[:1] == ["sweep"]:  # its charts' process, started while this one loads
        from ..sweep.drawer import prestart

        prestart(args)
    from .errors import on_sigterm

    signal.signal(signal.SIGTERM, on_sigterm)  # until a command installs its own handlers
    import gc

    gc.disable()  # loading the command tree makes nothing to collect (``_settle``)
    try:
        import typer

        command = typer.main.get_command(__getattr__("app"))
    except KeyboardInterrupt:  # Ctrl-C while the command tree loads: the same one line
        print("Error: aborted", file=sys.stderr)
        sys.exit(130)
    finally:
        _settle()
    try:
        command.main(args=args or ["--help"], prog_name="pointgan")
    finally:
        _quick_exit()


def _settle() -> None:
    """Collect nothing while the command tree loads, then keep what it loaded out of later
    collections (``gc.freeze``) and collect again.

    Why: importing typer, pydantic, numpy and the command modules creates a few hundred
    thousand objects that live as long as the process, and every full collection while they
    load, and after, walks all of them: 0.1 CPU-seconds of a fused sweep's 3.5 went to
    collections before its first step, and a collection during training took 44 ms."""
    import gc

    gc.freeze()
    gc.enable()


def _quick_exit() -> None:
    """Let the interpreter's shutdown skip garbage-collecting what the command loaded.

    With torch imported, the collections at shutdown walk its hundreds of thousands of objects:
    a process that imported torch took 0.45 s to exit here (0.03 s without torch), after every
    command, e.g. 0.7 s of a sweep's 10 s. Frozen objects are left to the operating system;
    files are still closed and ``atexit`` handlers still run (``gc.freeze``)."""
    import gc

    gc.freeze()
