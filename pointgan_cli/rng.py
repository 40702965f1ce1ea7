"""Counter-based random numbers: every value is a pure function of (seed, stream, step, index).

Why not ``torch.Generator``? One generator per run would need a Python loop over runs, and one
shared generator would make a run's numbers depend on which other runs share its batch. A hash of
the counter gives each run its own stream with plain integer tensor ops, so seed ``s`` draws the
same numbers alone or in any batch, on any device, and resuming needs no RNG state beyond the
step. The mixer is the 32-bit "lowbias32" finaliser (good avalanche, two multiplies).
"""

from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF

#: Stream ids: independent random sequences of one run.
STREAM_INIT = 1
STREAM_X = 2
STREAM_NOISE = 3
STREAM_X_EXTRA = 4  # extra D steps (d_steps > 1)
STREAM_NOISE_EXTRA = 5
STREAM_INSTANCE = 6  # instance noise on the samples D sees
STREAM_GP = 7  # WGAN-GP interpolation weights


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int64 tensors holding 32-bit values (products wrap; we keep the low bits)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def hash_bits(seeds: torch.Tensor, stream: int, steps: torch.Tensor, n: int) -> torch.Tensor:
    """32-bit hashes, shape ``(R, C, n)``, for runs ``seeds`` (R,) at ``steps`` (C,)."""
    dev = seeds.device
    k = _mix32((seeds.to(torch.int64) ^ 0x9E3779B9) & _M32)  # (R,)
    k = _mix32(k ^ (stream * 0x632BE5AB & _M32))  # (R,)
    k = _mix32(k[:, None] ^ (steps.to(dev, torch.int64)[None, :] & _M32))  # (R, C)
    idx = torch.arange(n, device=dev, dtype=torch.int64)
    return _mix32(_mix32((k[:, :, None] + idx * 0x9E3779B1) & _M32))  # (R, C, n)


def uniform(
    seeds: torch.Tensor, stream: int, steps: torch.Tensor, n: int, dtype: torch.dtype
) -> torch.Tensor:
    """Uniform [0, 1) values with 24 random bits, shape ``(R, C, n)``."""
    return (hash_bits(seeds, stream, steps, n) >> 8).to(dtype) * (2.0**-24)


def normal_pairs(
    seeds: torch.Tensor, stream: int, steps: torch.Tensor, n_pairs: int, dtype: torch.dtype
) -> torch.Tensor:
    """Standard normal pairs by Box-Muller, shape ``(R, C, n_pairs, 2)``.

    Computed in float64 and rounded once, so the result does not hinge on which SIMD path
    evaluated the transcendental functions.
    """
    u = uniform(seeds, stream, steps, 2 * n_pairs, torch.float64).view(
        seeds.shape[0], steps.shape[0], n_pairs, 2
    )
    r = torch.sqrt(-2.0 * torch.log1p(-u[..., 0]))  # 1 - u in (0, 1]: log is finite
    theta = (2.0 * math.pi) * u[..., 1]
    return torch.stack((r * torch.cos(theta), r * torch.sin(theta)), dim=-1).to(dtype)
