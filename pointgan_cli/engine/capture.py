"""How a ``BatchTrainer`` runs a step: eagerly (Python scalars, the reference), or as a CUDA
graph holds it (step-dependent scalars and indices read from device tensors), captured once and
replayed, so the host neither synchronises nor launches kernel by kernel on a GPU.

Why a "tensor" mode on a CPU: it is the captured step's arithmetic run eagerly, which is how
tests on machines without a GPU check what a GPU replays (bit-identical to the eager step).
``CapturedStep`` is a part of ``engine.BatchTrainer``.
"""

from __future__ import annotations

import torch

from .layout import DTYPE


class CapturedStep:
    """The step modes: ``_init_step_mode`` picks one and builds its tables; ``_tensor_step`` and
    ``_graph_step`` run a step in it; diverged runs stay frozen through a mask."""

    def _init_step_mode(self, step_mode: str | None) -> None:
        """``step_mode`` (None: "graph" on CUDA where the scheme allows, else "eager"), and
        for the tensor modes the device tables a captured step reads."""
        dev = self.device
        if step_mode is None:
            # Captured steps must update state in place: the schemes that rebind state
            # tensors (optimistic, LeCam's anchors) and consensus' autograd step eagerly.
            graphable = (self.scheme in ("alternating", "simultaneous") and not self.has_cons
                         and not self.has_lecam)
            step_mode = "graph" if dev.type == "cuda" and graphable else "eager"
        if step_mode not in ("eager", "tensor", "graph") or (
            step_mode == "graph" and dev.type != "cuda"
        ):
            raise ValueError(f"step_mode {step_mode!r} on {dev}")
        self.step_mode = step_mode
        self._graph = None
        self._warm = False
        self.graph_error: str | None = None
        if step_mode != "eager":
            # Adam's bias corrections per optimizer step k: [1 - b1^k, sqrt(1 - b2^k)] (row 0
            # unused), computed in float64 as the eager step does.  (steps * d_steps + 1, 2)
            k = torch.arange(self.steps * self.n_d + 1, dtype=torch.float64)
            table = torch.stack([1.0 - self.beta1**k, torch.sqrt(1.0 - self.beta2**k)], dim=1)
            self._adam_table = table.to(dev, DTYPE)
            self._t_dev = torch.zeros(1, dtype=torch.int64, device=dev)  # step being trained
            self._c_dev = torch.zeros(1, dtype=torch.int64, device=dev)  # its offset in the chunk

    def _tensor_step(self) -> None:
        """The step as a CUDA graph holds it: indices and scalars from device tensors, the
        freeze of diverged runs always applied (no host-side 'all alive' test)."""
        frozen = self._freeze_copies()
        with torch.inference_mode(False):  # normal tensors, as the chunks: consensus' autograd
            self._dr = self._draws(self._c_dev)
        self._step(self._t_dev)
        self._restore_frozen(frozen)

    def _graph_step(self) -> None:
        """Replay the captured step. The first step runs eagerly on a side stream (warm-up,
        as CUDA graph capture requires), the second is captured; capture only records, so
        it is replayed right after. If capture fails, go on in tensor mode (same arithmetic) and
        keep the reason in ``graph_error``."""
        with torch.cuda.device(self.device):
            if not self._warm:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    self._tensor_step()
                torch.cuda.current_stream().wait_stream(side)
                self._warm = True
                return
            if self._graph is None:
                graph = torch.cuda.CUDAGraph()
                try:
                    with torch.cuda.graph(graph):
                        self._tensor_step()
                except RuntimeError as exc:  # pragma: no cover - needs a GPU
                    self.graph_error = str(exc)
                    self.step_mode = "tensor"
                    self._tensor_step()
                    return
                self._graph = graph
            self._graph.replay()


    def _state_tensors(self) -> list[torch.Tensor]:
        return [self.g, self.d, self.mg, self.vg, self.md, self.vd,
                self.lc_ema, self.ug_prev, self.ud_prev]

    def _freeze_copies(self):
        return [t.clone() for t in self._state_tensors()]

    def _restore_frozen(self, frozen) -> None:
        dead = ~self.alive.unsqueeze(1)
        for cur, old in zip(self._state_tensors(), frozen):
            cur.copy_(torch.where(dead, old, cur))
