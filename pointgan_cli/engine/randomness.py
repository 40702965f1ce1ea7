"""A trainer's randomness: every step's draws, hashed a chunk of ``CHUNK`` steps at a time.

Why chunks: hashing one step's few numbers per run costs more in dispatch than in arithmetic;
64 steps at once amortise it. The chunk lives in buffers allocated once (a CUDA graph replays
on fixed addresses) on the runs' device, so nothing crosses to the host while training. Each
value is a pure function of (seed, stream, step, index) (``rng``): the chunking never changes a
number. A ``ChunkedRandomness`` is given the seeds, the shapes and the scales it draws with;
the Dirac-GAN's trainer uses a subclass that draws only instance noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import rng
from .layout import CHUNK, DTYPE, RNG_SLICE

NOT_LOADED = -(10**18)  # chunk_start before the first chunk: no step is in it


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
    """The draws of R runs: ``x_at`` loads the chunk holding a step, ``draws`` gives one step
    of it (views, or gathered at a device index for a captured step).

    ``seeds`` (R,) on the runs' device; per step ``n_d`` D sub-steps of ``B`` samples padded to
    ``Bp``, ``K`` G-noise pairs each, D rows of ``N`` values. ``noise`` and ``inst`` are the
    per-run scales (R, 1) of G-noise and instance noise, None where no run uses them; ``gp``:
    whether WGAN-GP's interpolation weights are drawn. Buffers exist only for what is drawn
    (``x_chunk`` always, ``eps_chunk``, ``inst_chunk``, ``gp_chunk``)."""

    x_chunk: torch.Tensor
    eps_chunk: torch.Tensor
    inst_chunk: torch.Tensor
    gp_chunk: torch.Tensor

    def __init__(self, seeds: torch.Tensor, *, n_d: int, B: int, Bp: int, K: int, N: int,
                 noise: torch.Tensor | None = None, inst: torch.Tensor | None = None,
                 gp: bool = False):
        self.seeds, self.R, self.device = seeds, len(seeds), seeds.device
        self.n_d, self.B, self.Bp, self.K, self.N = n_d, B, Bp, K, N
        self.noise, self.inst, self.gp = noise, inst, gp
        self.chunk_start = NOT_LOADED
        self._allocated = False

    def invalidate(self) -> None:
        """Forget the loaded chunk (the next step reloads it): after the state is replaced."""
        self.chunk_start = NOT_LOADED

    @torch.inference_mode(False)
    def load_chunk(self, step: int) -> None:
        """Randomness for CHUNK steps, drawn on the runs' device into buffers allocated once (a
        CUDA graph replays on fixed addresses), RNG_SLICE runs at a time (each run's numbers
        do not depend on the slicing). D sub-step 0 shares the G step's x; extra D steps
        (``d_steps`` > 1) draw from streams of their own, counted by step * 64 + sub-step."""
        start = step - step % CHUNK
        if not self._allocated:
            self._alloc()
            self._allocated = True
        for lo in range(0, self.R, RNG_SLICE):
            self._fill(start, lo, min(lo + RNG_SLICE, self.R))
        self.chunk_start = start

    def _alloc(self) -> None:
        R, C, n_d, Bp, dev = self.R, CHUNK, self.n_d, self.Bp, self.device
        self.x_chunk = torch.zeros(R, C, n_d, Bp, dtype=DTYPE, device=dev)  # padding stays 0
        if self.noise is not None:
            self.eps_chunk = torch.empty(R, C, n_d, self.K, 2, dtype=DTYPE, device=dev)
        if self.inst is not None:  # G step: Bp values; each D sub-step: N (fakes, then reals)
            self.inst_chunk = torch.empty(R, C, Bp + n_d * self.N, dtype=DTYPE, device=dev)
        if self.gp:
            self.gp_chunk = torch.empty(R, C, n_d, Bp, dtype=DTYPE, device=dev)

    def _fill(self, start: int, lo: int, hi: int) -> None:
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
        if self.noise is not None:
            scale = self.noise[lo:hi].view(-1, 1, 1, 1)
            eps = rng.normal_pairs(seeds, rng.STREAM_NOISE, steps, self.K, DTYPE)
            self.eps_chunk[lo:hi, :, 0] = eps * scale
            if n_d > 1:
                e2 = rng.normal_pairs(seeds, rng.STREAM_NOISE_EXTRA, extra, self.K, DTYPE)
                self.eps_chunk[lo:hi, :, 1:] = e2.view(r, C, n_d - 1, self.K, 2) * scale[..., None]
        if self.inst is not None:
            self._fill_instance_noise(steps, lo, hi)
        if self.gp:
            self.gp_chunk[lo:hi] = uni(rng.STREAM_GP, steps, n_d * self.Bp).view(r, C, n_d, self.Bp)

    def _fill_instance_noise(self, steps: torch.Tensor, lo: int, hi: int) -> None:
        """Runs lo..hi of the chunk's instance noise (the G step's values, then each D
        sub-step's), scaled by each run's ``instance_noise``; both games draw it so."""
        assert self.inst is not None
        n = self.inst_chunk.shape[2]
        z = rng.normal_pairs(self.seeds[lo:hi], rng.STREAM_INSTANCE, steps, -(-n // 2), DTYPE)
        z = z.reshape(hi - lo, CHUNK, -1)[:, :, :n]
        self.inst_chunk[lo:hi] = z * self.inst[lo:hi].view(-1, 1, 1)

    def draws(self, c: int | torch.Tensor) -> Draws:
        """Step ``c`` of the loaded chunk: views (c an int) or gathered at a device index."""
        return Draws(
            x=step_of(self.x_chunk, c),
            eps=step_of(self.eps_chunk, c) if self.noise is not None else None,
            inst=step_of(self.inst_chunk, c) if self.inst is not None else None,
            gp=step_of(self.gp_chunk, c) if self.gp else None,
        )

    def x_at(self, step: int, sub: int = 0) -> torch.Tensor:
        """Step ``step``'s x of D sub-step ``sub`` (R, Bp), loading its chunk if needed."""
        if not (self.chunk_start <= step < self.chunk_start + CHUNK):
            self.load_chunk(step)
        return self.x_chunk[:, step - self.chunk_start, sub]


class InstanceNoiseOnly(ChunkedRandomness):
    """The Dirac-GAN's draws: G has no input (``x_chunk`` is one zero per step and sub-step)
    and WGAN-GP needs no interpolates (D's input gradient is -psi everywhere), so only
    instance noise is drawn, from the same stream as the pointgan game's."""

    def _alloc(self) -> None:
        R, C, n_d, dev = self.R, CHUNK, self.n_d, self.device
        self.x_chunk = torch.zeros(R, C, n_d, 1, dtype=DTYPE, device=dev)
        if self.inst is not None:  # per step Bp values for the G step, then N per D sub-step
            self.inst_chunk = torch.empty(R, C, self.Bp + n_d * self.N, dtype=DTYPE, device=dev)

    def _fill(self, start: int, lo: int, hi: int) -> None:
        if self.inst is not None:
            steps = torch.arange(start, start + CHUNK, dtype=torch.int64, device=self.device)
            self._fill_instance_noise(steps, lo, hi)

    def draws(self, c: int | torch.Tensor) -> Draws:
        inst = step_of(self.inst_chunk, c) if self.inst is not None else None
        return Draws(x=self.x_chunk[:, 0], eps=None, inst=inst, gp=None)
