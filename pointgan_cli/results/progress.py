"""How far a long read is: the loops of ``report``, ``diagnose run``, ``log``, ``ls``,
``compare`` and ``sweep export`` say what they are doing, and the command shows it.

Why a hub rather than a callback argument: the loops sit several calls below the command (a
report diagnoses every member of a sweep, a tracker logs each member), and threading a
callback through every signature in between would change them all for a display concern.
Library code calls ``each``/``task``/``advance``; they do nothing unless a command has set a
``Reporter`` with ``reporting`` (``cli.console.working`` does, on stderr). Nested tasks count
toward the outermost one only, so a report's "diagnose 2,304 members" is not reset by the
per-member reads inside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Reporter(Protocol):
    def start(self, total: int, what: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _State:
    """The command's reporter and how deep in nested tasks the work is (a command runs its
    loops in one thread; sweep workers never report here)."""

    reporter: Reporter | None = None
    depth = 0


_STATE = _State()


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Send the tasks started inside the block to ``reporter``."""
    before = _STATE.reporter, _STATE.depth
    _STATE.reporter, _STATE.depth = reporter, 0
    try:
        yield reporter
    finally:
        _STATE.reporter, _STATE.depth = before


@contextlib.contextmanager
def task(total: int, what: str) -> Iterator[None]:
    """A piece of work of ``total`` steps (``advance`` counts them), named ``what``."""
    if _STATE.reporter is not None and _STATE.depth == 0:
        _STATE.reporter.start(total, what)
    _STATE.depth += 1
    try:
        yield
    finally:
        _STATE.depth -= 1


def advance(n: int = 1) -> None:
    """``n`` more steps of the outermost task done."""
    if _STATE.reporter is not None and _STATE.depth == 1:
        _STATE.reporter.advance(n)


def count(n: int, one: str, verb: str, many: str | None = None) -> str:
    """A task's name: ``diagnose 1 member``, ``diagnose 128 members``."""
    return f"{verb} {n} {one if n == 1 else (many or one + 's')}"


def each(items: Iterable[T], what: str) -> Iterator[T]:
    """``items`` one by one, as a task of ``len(items)`` steps (the step counts once the
    caller is done with the item)."""
    items = list(items)
    with task(len(items), what):
        for item in items:
            yield item
            advance()
