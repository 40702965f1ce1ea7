"""The ``pointgan`` application: every command registered here, in one place."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__
from . import animate, diagnose, spec_cmd, sweep, train
from . import compare as compare_cmd
from . import log as log_cmd
from . import ls as ls_cmd
from . import report as report_cmd
from .errors import PointganGroup

app = typer.Typer(
    name="pointgan",
    help="PointGAN, the simplest GAN possible, as reproducible science: train, sweep, "
    "animate and diagnose.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=PointganGroup,
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


app.command("train")(train.train)
app.add_typer(sweep.app, name="sweep")
app.command("animate")(animate.animate)
app.command("log")(log_cmd.log)
app.command("ls")(ls_cmd.ls)
app.command("compare")(compare_cmd.compare)
app.command("report")(report_cmd.report)
app.add_typer(spec_cmd.app, name="spec")
app.add_typer(diagnose.app, name="diagnose")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``pointgan`` with no arguments shows the help)."""
    args = sys.argv[1:] if argv is None else argv
    typer.main.get_command(app).main(args=args or ["--help"], prog_name="pointgan")
