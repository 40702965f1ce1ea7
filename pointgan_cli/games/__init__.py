"""The games pointgan trains, one ``Game`` each (pure Python, no torch): ``POINT`` (the
study's) and ``DIRAC`` (the Dirac-GAN). Code that differs by game asks the run's ``Game``
(``game_of(spec)``, ``named(summary.get("game"))``) instead of comparing names."""

from __future__ import annotations

from typing import Any

from .base import LOSSES, Game
from .dirac import DIRAC
from .point import POINT

GAMES: dict[str, Game] = {g.name: g for g in (POINT, DIRAC)}


def named(name: str | None) -> Game:
    """The game of that name; None (summaries of the first game do not name it): POINT."""
    return GAMES[name or POINT.name]


def game_of(spec: Any) -> Game:
    """The game a spec (anything with ``.game``) plays."""
    return GAMES[spec.game]


__all__ = ["DIRAC", "GAMES", "LOSSES", "POINT", "Game", "game_of", "named"]
