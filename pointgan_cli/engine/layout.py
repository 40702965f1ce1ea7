"""The engine's tensor layout: constants every engine module shares.

Why a lane (bitwise batch invariance: seed s gives the same numbers alone or in any batch):
every large tensor has rows whose length is a multiple of ``LANE`` floats, so each element goes
through the same SIMD code path whatever the number of runs R is (scalar tail loops can round
transcendental functions differently). See ``engine`` for the other rules.
"""

from __future__ import annotations

LANE = 64  # row lengths are padded to a multiple of this many elements
CHUNK = 64  # steps of randomness generated at once: each run's rows are multiples of LANE
RNG_SLICE = 16384  # runs whose randomness is hashed at once: bounds the hash's temporaries


def round_up(n: int, m: int) -> int:
    """The smallest multiple of ``m`` that is at least ``n``."""
    return -(-n // m) * m


def __getattr__(name: str):
    """``DTYPE`` (torch.float32) on first use: the fused engine and the sweep's planning read
    this module's constants without importing torch."""
    if name == "DTYPE":
        import torch

        return torch.float32
    raise AttributeError(name)
