"""Counter-based random numbers: every value is a pure function of (seed, stream, step, index).

Why not ``torch.Generator``? One generator per run would need a Python loop over runs, and one
shared generator would make a run's numbers depend on which other runs share its batch. A hash of
the counter gives each run its own stream with plain integer tensor ops, so seed ``s`` draws the
same numbers alone or in any batch, on any device, and resuming needs no RNG state beyond the
step. The mixer is the 32-bit "lowbias32" finaliser (good avalanche, two multiplies).

Everything is integer tensor arithmetic on the device the seeds live on, so a GPU run draws its
numbers on the GPU and nothing crosses to the host while it trains. The integer bits are the
same on every device; the float conversions are correctly rounded (uniforms exactly, normals
to within float64 rounding of the transcendental functions before the final float32 rounding).
"""

from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF


def _i32(c: int) -> int:
    """A 32-bit constant as the signed int32 with the same bits."""
    c &= _M32
    return c - (1 << 32) if c >= 1 << 31 else c


#: Stream ids: independent random sequences of one run.
STREAM_INIT = 1
STREAM_X = 2
STREAM_NOISE = 3
STREAM_X_EXTRA = 4  # extra D steps (d_steps > 1)
STREAM_NOISE_EXTRA = 5
STREAM_INSTANCE = 6  # instance noise on the samples D sees
STREAM_GP = 7  # WGAN-GP interpolation weights

_MUL1, _MUL2, _GOLDEN = _i32(0x7FEB352D), _i32(0x846CA68B), _i32(0x9E3779B1)


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int32 tensors, in place on ``x`` (a tensor the caller owns), with one
    scratch buffer. Products wrap modulo 2^32 (two's complement, on CPU and CUDA alike) and
    the right shifts are made logical by masking off the copied sign bits: the same bits as
    the unsigned 32-bit definition. int32 rather than masked int64 halves the memory traffic
    and drops the masks (6x faster on a CPU); working in place saves a third more on the large
    (R, C, n) hashes of a chunk of steps."""
    t = torch.empty_like(x)
    for shift, mask, mul in ((16, 0xFFFF, _MUL1), (15, 0x1FFFF, _MUL2), (16, 0xFFFF, None)):
        torch.bitwise_right_shift(x, shift, out=t)
        t &= mask
        x ^= t
        if mul is not None:
            x *= mul
    return x


def _to_i32(x: torch.Tensor) -> torch.Tensor:
    """Low 32 bits of an integer tensor as int32 (same bits)."""
    x = x.to(torch.int64) & _M32
    return (x - ((x >> 31) << 32)).to(torch.int32)


def _hash32(seeds: torch.Tensor, stream: int, steps: torch.Tensor, n: int) -> torch.Tensor:
    """The hashes of ``hash_bits`` as int32 bit patterns, shape (R, C, n), on seeds' device."""
    dev = seeds.device
    k = _mix32(_to_i32(seeds) ^ _i32(0x9E3779B9))  # (R,)
    k = _mix32(k ^ _i32(stream * 0x632BE5AB))  # (R,)
    k = _mix32(k[:, None] ^ _to_i32(steps.to(dev))[None, :])  # (R, C)
    idx = torch.arange(n, device=dev, dtype=torch.int32) * _GOLDEN  # wraps like the uint32 product
    return _mix32(_mix32(k[:, :, None] + idx))  # (R, C, n)


def hash_bits(seeds: torch.Tensor, stream: int, steps: torch.Tensor, n: int) -> torch.Tensor:
    """32-bit hashes as int64 in [0, 2^32), shape ``(R, C, n)``, for runs ``seeds`` (R,) at
    ``steps`` (C,); computed on ``seeds``' device."""
    return _hash32(seeds, stream, steps, n).to(torch.int64) & _M32


def uniform(
    seeds: torch.Tensor, stream: int, steps: torch.Tensor, n: int, dtype: torch.dtype
) -> torch.Tensor:
    """Uniform [0, 1) values with 24 random bits, shape ``(R, C, n)``, on ``seeds``' device."""
    h = _hash32(seeds, stream, steps, n)
    h >>= 8
    h &= 0xFFFFFF
    return h.to(dtype).mul_(2.0**-24)


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
