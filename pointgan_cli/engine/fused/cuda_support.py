"""Which ``--device cuda`` runs the fused CUDA kernel (``fused.cuda``) trains, and its host side.

Why a module of its own: ``support`` asks it without importing numba.cuda; the kernel loads only
when a CUDA run starts. The streamed GPU step has the study's options, the four losses, both
weight decays, Adam/SGD, the alternating, simultaneous and optimistic updates and extra D
steps; instance noise, the gradient penalties, LeCam and extragradient fall back to the torch
engine.
"""

from __future__ import annotations

from typing import Any


def cuda_fused(spec: Any) -> bool:
    """Whether the fused CUDA kernel runs ``spec`` (the options above)."""
    return (spec.instance_noise == 0 and spec.r1 == 0 and spec.r2 == 0 and spec.gp_weight == 0
            and spec.lecam == 0 and spec.update != "extragradient")


class DeviceKernel:
    """The CUDA kernel's host side: arrays to the device, launches."""

    def __init__(self, device: str):
        from numba import cuda

        if not cuda.is_available():
            from ...errors import UsageError

            raise UsageError(f"--device: {device} requested but CUDA is not available")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        cuda.select_device(index)
        self.cuda = cuda

    def to_device(self, S, alive, seeds, H, IS, Fs) -> tuple:
        to = self.cuda.to_device
        return to(S), to(alive), to(seeds), to(H), to(IS), to(Fs)

    def advance(self, arrays: tuple, t0: int, t1: int) -> None:
        from . import cuda as kernel

        S, alive, seeds, H, IS, Fs = arrays
        kernel.advance(S, alive, seeds, t0, t1, H, IS, Fs)
        self.cuda.synchronize()


def device_kernel(device: str) -> DeviceKernel:
    return DeviceKernel(device)
