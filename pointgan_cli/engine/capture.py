"""How a trainer runs a step: eagerly (Python scalars, the reference), or as a CUDA graph holds
it (step-dependent scalars and indices read from device tensors), captured once and replayed,
so the host neither synchronises nor launches kernel by kernel on a GPU.

Why a "tensor" mode on a CPU: it is the captured step's arithmetic run eagerly, which is how
tests on machines without a GPU check what a GPU replays (bit-identical to the eager step).
``CapturedStep`` is given the mode and the device; the step it runs and the state it freezes
are handed to each call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .state import TrainingState

#: The step of a tensor mode: (the step's offset in its chunk, the step), device tensors (1,).
Body = Callable[[torch.Tensor, torch.Tensor], None]


def pick_step_mode(step_mode: str | None, device: torch.device, graphable: bool) -> str:
    """``step_mode`` checked, or for None: "graph" on CUDA where the step can be captured
    (``graphable``: it updates the state in place), else "eager"."""
    if step_mode is None:
        step_mode = "graph" if device.type == "cuda" and graphable else "eager"
    if step_mode not in ("eager", "tensor", "graph") or (
        step_mode == "graph" and device.type != "cuda"
    ):
        raise ValueError(f"step_mode {step_mode!r} on {device}")
    return step_mode


class CapturedStep:
    """The tensor step modes: ``step`` runs one step in ``mode`` ("tensor" or "graph"); the
    step count and chunk offset it reads are device tensors written before each step, so a
    captured graph replays the same kernels at every step. ``error`` says why a capture
    failed (the mode is then "tensor", the same arithmetic)."""

    def __init__(self, mode: str, device: torch.device):
        self.mode, self.device = mode, device
        self.error: str | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warm = False
        self.t_dev = torch.zeros(1, dtype=torch.int64, device=device)  # step being trained
        self.c_dev = torch.zeros(1, dtype=torch.int64, device=device)  # its offset in the chunk

    def reset(self) -> None:
        """The state's tensors were replaced: capture again."""
        self.graph, self.warm = None, False

    def step(self, s: TrainingState, t: int, c: int, body: Body) -> None:
        """Step ``t`` (offset ``c`` in its chunk) of state ``s`` by ``body``."""
        self.c_dev.fill_(c)  # kernel launches, no host synchronisation
        self.t_dev.fill_(t)
        if self.mode == "graph":
            self._graph_step(s, body)
        else:
            self._tensor_step(s, body)

    def _tensor_step(self, s: TrainingState, body: Body) -> None:
        """The step as a CUDA graph holds it: indices and scalars from device tensors, the
        freeze of diverged runs always applied (no host-side 'all alive' test)."""
        frozen = s.frozen_copies()
        body(self.c_dev, self.t_dev)
        s.restore_dead(frozen)

    def _graph_step(self, s: TrainingState, body: Body) -> None:
        """Replay the captured step. The first step runs eagerly on a side stream (warm-up,
        as CUDA graph capture requires), the second is captured; capture only records, so
        it is replayed right after. If capture fails, go on in tensor mode (same arithmetic) and
        keep the reason in ``error``."""
        with torch.cuda.device(self.device):
            if not self.warm:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    self._tensor_step(s, body)
                torch.cuda.current_stream().wait_stream(side)
                self.warm = True
                return
            if self.graph is None:
                graph = torch.cuda.CUDAGraph()
                try:
                    with torch.cuda.graph(graph):
                        self._tensor_step(s, body)
                except RuntimeError as exc:  # pragma: no cover - needs a GPU
                    self.error = str(exc)
                    self.mode = "tensor"
                    self._tensor_step(s, body)
                    return
                self.graph = graph
            self.graph.replay()
