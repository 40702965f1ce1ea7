"""The root command's own options: ``--version`` and ``--debug``."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__


def _version(value: bool) -> None:
    if value:
        print(f"pointgan {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """PointGAN, the simplest GAN possible, as reproducible science."""
