"""The ``pointgan`` application: every command registered here, in one place."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__
from . import animate, diagnose, spec_cmd, sweep, train
from .errors import DEBUG

app = typer.Typer(
    name="pointgan",
    help="PointGAN, the simplest GAN possible, as reproducible science: train, sweep, "
    "animate and diagnose.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"pointgan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """PointGAN, the simplest GAN possible, as reproducible science."""
    DEBUG["on"] = debug


app.command("train")(train.train)
app.command("sweep")(sweep.sweep)
app.command("animate")(animate.animate)
app.add_typer(spec_cmd.app, name="spec")
app.add_typer(diagnose.app, name="diagnose")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Parse errors, like domain errors, become one ``Error:`` line
    (click's exceptions are recognised by their public ``format_message``/``exit_code``)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        args = ["--help"]
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="pointgan", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("Error: aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        fmt, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
        if not callable(fmt) or not isinstance(code, int) or DEBUG["on"]:
            raise
        print(f"Error: {fmt()}", file=sys.stderr)
        sys.exit(code)
    sys.exit(rv if isinstance(rv, int) else 0)
