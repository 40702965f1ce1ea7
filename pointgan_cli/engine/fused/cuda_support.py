"""Whether a spec's ``--device cuda`` run has a fused CUDA kernel (``fused.cuda``)."""

from __future__ import annotations


def cuda_fused(spec) -> bool:
    """Not yet: CUDA runs train on the torch engine."""
    return False
