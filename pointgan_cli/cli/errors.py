"""The one error policy of every command: ``Error: ...`` on stderr, a fixed exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ..errors import PointganError

F = TypeVar("F", bound=Callable[..., Any])

#: Set by the top-level ``--debug`` flag: re-raise with a traceback instead.
DEBUG = {"on": False}


def handles_errors(fn: F) -> F:
    """Wrap a command so domain errors become one line and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PointganError as exc:
            if DEBUG["on"]:
                raise
            print(f"Error: {exc}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
