"""pointgan: the PointGAN study ("the simplest GAN possible") as reproducible science."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # `from pointgan_cli import rundir` as the recorded golden runs' test reads them (written
    # before the run directory moved to store/); looked up on first use: no torch at startup.
    if name == "rundir":
        from .store import rundir

        return rundir
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
