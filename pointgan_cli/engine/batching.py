"""Which runs can train in one batch, and how many fit: the engine's batching rules.

``batch_key`` says which specs share shapes, schedule and scalars (so one ``BatchTrainer`` can
train them); ``bytes_per_run`` bounds a run's device memory, from which ``auto_max_batch``
sizes a batch for ``--max-batch auto``. Planning sweeps and checking memory read these; the
engine itself only checks the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import CHUNK, LANE, round_up

if TYPE_CHECKING:
    from ..spec import RunSpec

CPU_BATCH = 256  # runs per batch on a CPU: the fastest measured (1 thread; docs/performance.md)
GPU_MEMORY_FRACTION = 0.5  # share of the free GPU memory that --max-batch auto fills


def batch_key(spec: RunSpec) -> tuple:
    """Specs with equal keys can train in one batch (same shapes, schedule and scalars)."""
    return (
        spec.game,
        spec.steps,
        spec.batch_size,
        spec.effective_inner_batch,
        spec.weight_decay_mode,
        spec.beta1,
        spec.beta2,
        spec.adam_eps,
        spec.snapshot_every,
        spec.checkpoint_every,
        spec.device,
        spec.engine,
        spec.loss,
        spec.g_loss,
        spec.d_steps,
        spec.update,
        spec.optimizer,
        spec.momentum,
        spec.instance_noise > 0,
        spec.r1 > 0,
        spec.r2 > 0,
        spec.gp_weight > 0,
        spec.consensus > 0,
        spec.lecam > 0,
    )


def bytes_per_run(spec: RunSpec) -> int:
    """Upper estimate of one run's device memory while training (bytes): the chunk of
    randomness, the parameters and optimizer state, and the step's temporaries (about a dozen
    (N,)-rows of float32 alive at once in ``grads_d``)."""
    bp = round_up(spec.batch_size, LANE)
    n_d, k = spec.d_steps, spec.effective_inner_batch
    n = k * bp + LANE
    chunk = CHUNK * n_d * bp  # x
    chunk += CHUNK * n_d * k * 2 if spec.noise_scale > 0 else 0
    chunk += CHUNK * (bp + n_d * n) if spec.instance_noise > 0 else 0
    chunk += CHUNK * n_d * bp if spec.gp_weight > 0 else 0
    fixed = 8 * n + 4 * bp + 64  # per-run constant rows (weights, signs, samples), state
    return 4 * (chunk + fixed + 14 * n)


def auto_max_batch(spec: RunSpec) -> int:
    """Runs per batch for ``--max-batch auto``: ``CPU_BATCH`` on a CPU; on a GPU as many as
    fit ``GPU_MEMORY_FRACTION`` of its free memory (at least 1)."""
    if not spec.device.startswith("cuda"):
        return CPU_BATCH
    import torch

    dev = torch.device(spec.device)
    free, _total = torch.cuda.mem_get_info(dev)
    return max(1, int(free * GPU_MEMORY_FRACTION) // bytes_per_run(spec))
