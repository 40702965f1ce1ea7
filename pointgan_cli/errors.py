"""The two kinds of failure the CLI distinguishes, each with a fixed exit code.

Library code raises these; the one handler (``cli/errors.py``) turns them into a single
``Error: ...`` line on stderr. Anything else is a bug and keeps its traceback (``--debug``
re-raises the domain errors too).
"""

from __future__ import annotations


class PointganError(Exception):
    """Base class: a message meant for the user, plus the exit code it maps to."""

    exit_code = 1


class UsageError(PointganError):
    """Bad input from the user (flag, config file, run directory). Exit code 2."""

    exit_code = 2


class RuntimeFailure(PointganError):
    """Something failed while doing valid work (I/O, a missing optional tool). Exit code 1."""

    exit_code = 1


def cap(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters: an error line quotes at most that much of a bad
    value (a 9 MB config string must not become a 9 MB message)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: object, limit: int = 200) -> str:
    """``repr(value)`` for an error line, cut to ``limit`` characters."""
    return cap(repr(value), limit)
