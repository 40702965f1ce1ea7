"""Training runs into their directories: the stoppable training loop (`train`), what the process
and machine give it (`runtime`), what a run records (`records`) and a sweep worker's first code
(`worker_boot`, which must run before torch is imported: this package imports nothing itself).

``Member`` and ``train_batch`` are looked up on first use, so importing the package (as a sweep
worker does for `worker_boot`) does not import torch."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("Member", "train_batch"):
        from . import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
