"""The one error policy of every command: ``Error: ...`` on stderr, a fixed exit code.

Every way a command can end goes through ``PointganGroup.main``, the entry of both the console
script and ``typer.testing.CliRunner``: domain errors (``PointganError``: 2 for bad input, 1 for
failures, 130 for an interrupted run), click's parse errors (2) and Ctrl-C (130) become one
line; anything else is a bug and keeps its traceback. ``--debug`` (the root option, before
the command) re-raises everything.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import PointganError
from .helpfmt import polish


def on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM before a command installs its own handlers (imports, planning, a kernel's
    compile): one line and exit 143, where the default ended the process silently (-15). It
    exits at once, as the default did: an exception raised here can be swallowed (Python
    ignores it inside a ctypes callback, which numba runs while it loads a kernel) and the
    command would then run on."""
    os.write(2, b"Error: terminated\n")
    os._exit(143)


def _fail(message: str, code: int) -> None:
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(code)


class PointganGroup(TyperGroup):
    """The root command group: runs a command and turns its failure into one line. Its
    command tree's help follows ``helpfmt`` (defaults shown, flags as flags, text wrapped)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        polish(self)

    def get_params(self, ctx: Any) -> Any:
        polish(self)  # typer adds --install-completion/--show-completion after __init__
        return super().get_params(ctx)

    def main(self, args: Any = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:
        args = sys.argv[1:] if args is None else list(args)
        if _empty_out(args):  # Path("") is the working directory: an unset $VAR wrote there
            _fail("--out: an empty path (name a folder, or leave --out out)", 2)
        try:
            rv = super().main(args, prog_name or "pointgan", complete_var,
                              standalone_mode=False, **extra)
        except PointganError as exc:
            if _debug_flag(args):
                raise
            _fail(str(exc), exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            _fail("aborted", 130)
        except Exception as exc:
            # click's parse errors (typer may vendor its own click), recognised by their public
            # ``format_message``/``exit_code``; anything else is a bug: keep its traceback.
            fmt, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
            if not callable(fmt) or not isinstance(code, int) or _debug_flag(args):
                raise
            _fail(fmt(), code)
        if rv == 130 and not isinstance(rv, bool):  # typer turns Ctrl-C into Exit(130), silently
            _fail("aborted", 130)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _empty_out(args: list[Any]) -> bool:
    """Whether ``--out ""``, ``-o ""`` or ``--out=`` is given (before any ``--``)."""
    for i, a in enumerate(args):
        if a == "--":
            return False
        if a == "--out=" or (a in ("--out", "-o") and i + 1 < len(args) and args[i + 1] == ""):
            return True
    return False


def _debug_flag(args: Any) -> bool:
    """``--debug`` before the command name (the root option), even when parsing failed."""
    for a in list(args or []):
        if a == "--debug":
            return True
        if not a.startswith("-"):
            return False
    return False
