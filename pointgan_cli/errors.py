"""The two kinds of failure the CLI distinguishes, each with a fixed exit code.

Library code raises these; the one top-level handler in ``cli.app`` turns them into a single
``Error: ...`` line on stderr. Anything else is a bug and gets a traceback only with ``--debug``.
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
