"""``pointgan animate``: a run's snapshots (or several sweep members') as GIF/MP4/PNG.

``data`` says what to draw and needs no matplotlib; ``scene`` builds the figure; ``writers``
write the files; ``animation`` drives them (``animate``, ``still``). The heavy modules load
only when a frame is drawn, so importing this package costs nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Renderer", "animate", "still"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import animation

        return getattr(animation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
