"""A trainer's randomness: every step's draws, hashed a chunk of ``CHUNK`` steps at a time.

Why chunks: hashing one step's few numbers per run costs more in dispatch than in arithmetic;
64 steps at once amortise it. The chunk lives in buffers allocated once (a CUDA graph replays
on fixed addresses) on the runs' device, so nothing crosses to the host while training. Each
value is a pure function of (seed, stream, step, index) (``rng``): the chunking never changes a
number. ``ChunkedRandomness`` is a part of ``engine.BatchTrainer`` (the Dirac-GAN's trainer
overrides what it draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import rng
from .layout import CHUNK, DTYPE, RNG_SLICE


def clean_x(seeds: torch.Tensor, steps: torch.Tensor, batch: int) -> torch.Tensor:
    """The generator's inputs x of ``steps`` (C,) for runs ``seeds`` (R,): (R, C, batch)
    float32, what the G step trains on and what a snapshot evaluates."""
    return rng.uniform(seeds, rng.STREAM_X, steps, batch, DTYPE) * 2.0 - 1.0


def step_of(chunk: torch.Tensor, c: int | torch.Tensor) -> torch.Tensor:
    """Step ``c`` of a chunk (R, CHUNK, ...): a view for an int, gathered at a device index
    (shape (1,)) for a captured step."""
    return chunk[:, c] if isinstance(c, int) else chunk.index_select(1, c).squeeze(1)


@dataclass
class Draws:
    """One step's randomness: x (R, n_d, Bp), G-noise eps (R, n_d, K, 2), instance noise
    (R, Bp + n_d N), WGAN-GP weights (R, n_d, Bp); None where the batch does not use it."""

    x: torch.Tensor
    eps: torch.Tensor | None
    inst: torch.Tensor | None
    gp: torch.Tensor | None


class ChunkedRandomness:
    """The draws of a ``BatchTrainer``: ``x_at`` loads the chunk holding a step, ``_draws``
    gives one step of it (views, or gathered at a device index for a captured step)."""

    @torch.inference_mode(False)
    def _load_chunk(self, step: int) -> None:
        """Randomness for CHUNK steps, drawn on the runs' device into buffers allocated once (a
        CUDA graph replays on fixed addresses), RNG_SLICE runs at a time (each run's numbers
        do not depend on the slicing). D sub-step 0 shares the G step's x; extra D steps
        (``d_steps`` > 1) draw from streams of their own, counted by step * 64 + sub-step."""
        start = step - step % CHUNK
        if not self._chunks_ready:
            self._alloc_chunks()
        for lo in range(0, self.R, RNG_SLICE):
            self._fill_chunk(start, lo, min(lo + RNG_SLICE, self.R))
        self._chunk_start = start

    def _alloc_chunks(self) -> None:
        R, C, n_d, Bp, dev = self.R, CHUNK, self.n_d, self.Bp, self.device
        self.x_chunk = torch.zeros(R, C, n_d, Bp, dtype=DTYPE, device=dev)  # padding stays 0
        if self.has_noise:
            self.eps_chunk = torch.empty(R, C, n_d, self.K, 2, dtype=DTYPE, device=dev)
        if self.has_inst:  # G step: Bp values; each D sub-step: N values (fakes, then reals)
            self.inst_chunk = torch.empty(R, C, Bp + n_d * self.N, dtype=DTYPE, device=dev)
        if self.has_gp:
            self.gp_chunk = torch.empty(R, C, n_d, Bp, dtype=DTYPE, device=dev)
        self._chunks_ready = True

    def _fill_chunk(self, start: int, lo: int, hi: int) -> None:
        """Runs lo..hi of the chunk starting at step ``start``."""
        C, n_d, B, r, dev = CHUNK, self.n_d, self.B, hi - lo, self.device
        seeds = self.seeds[lo:hi]
        steps = torch.arange(start, start + C, dtype=torch.int64, device=dev)
        extra = (steps[:, None] * 64 + torch.arange(1, n_d, device=dev)[None, :]).reshape(-1)

        def uni(stream: int, counters: torch.Tensor, n: int) -> torch.Tensor:
            return rng.uniform(seeds, stream, counters, n, DTYPE)

        self.x_chunk[lo:hi, :, 0, :B] = clean_x(seeds, steps, B)
        if n_d > 1:
            xe = uni(rng.STREAM_X_EXTRA, extra, B) * 2.0 - 1.0
            self.x_chunk[lo:hi, :, 1:, :B] = xe.view(r, C, n_d - 1, B)
        if self.has_noise:
            scale = self.noise[lo:hi].view(-1, 1, 1, 1)
            eps = rng.normal_pairs(seeds, rng.STREAM_NOISE, steps, self.K, DTYPE)
            self.eps_chunk[lo:hi, :, 0] = eps * scale
            if n_d > 1:
                e2 = rng.normal_pairs(seeds, rng.STREAM_NOISE_EXTRA, extra, self.K, DTYPE)
                self.eps_chunk[lo:hi, :, 1:] = e2.view(r, C, n_d - 1, self.K, 2) * scale[..., None]
        if self.has_inst:
            self._fill_instance_noise(steps, lo, hi)
        if self.has_gp:
            self.gp_chunk[lo:hi] = uni(rng.STREAM_GP, steps, n_d * self.Bp).view(r, C, n_d, self.Bp)

    def _fill_instance_noise(self, steps: torch.Tensor, lo: int, hi: int) -> None:
        """Runs lo..hi of the chunk's instance noise (the G step's values, then each D
        sub-step's), scaled by each run's ``instance_noise``; both games draw it so."""
        n = self.inst_chunk.shape[2]
        z = rng.normal_pairs(self.seeds[lo:hi], rng.STREAM_INSTANCE, steps, -(-n // 2), DTYPE)
        z = z.reshape(hi - lo, CHUNK, -1)[:, :, :n]
        self.inst_chunk[lo:hi] = z * self.inst[lo:hi].view(-1, 1, 1)

    def _draws(self, c: int | torch.Tensor) -> Draws:
        """Step ``c`` of the loaded chunk: views (c an int) or gathered at a device index."""
        return Draws(
            x=step_of(self.x_chunk, c),
            eps=step_of(self.eps_chunk, c) if self.has_noise else None,
            inst=step_of(self.inst_chunk, c) if self.has_inst else None,
            gp=step_of(self.gp_chunk, c) if self.has_gp else None,
        )

    def x_at(self, step: int, sub: int = 0) -> torch.Tensor:
        if not (self._chunk_start <= step < self._chunk_start + CHUNK):
            self._load_chunk(step)
        return self.x_chunk[:, step - self._chunk_start, sub]
