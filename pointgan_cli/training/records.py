"""What a run records: its metrics rows and its summary, from the engine's state.

``training`` writes these into a run directory and ``sweep.jobs`` into the batch store; the
summary's verdict (``verdict.judge`` on the success window) is taken here once and read by
every later command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import verdict
from ..games import Game, game_of
from ..naming import overrides
from ..store import rundir

if TYPE_CHECKING:
    from ..engine.trainer import BatchTrainer, Snapshot


def metrics_row(snap: Snapshot, i: int, game: Game, target: float) -> dict[str, Any]:
    """Run i's row of an engine snapshot, in its game's terms (``Game.metrics_row``)."""
    # a row is written from a snapshot taken with its losses
    assert snap.g_loss is not None and snap.d_loss is not None
    assert snap.d_real is not None and snap.d_fake is not None
    return game.metrics_row(snap.step, snap.g[i].tolist(), snap.d[i].tolist(),
                            (float(snap.g_loss[i]), float(snap.d_loss[i]),
                             float(snap.d_real[i]), float(snap.d_fake[i])), target)


@dataclass(frozen=True)
class FinalState:
    """A batch's final parameters and divergence as Python values, copied from the trainer's
    device once: reading a CUDA tensor member by member waits for the device at every read
    (four reads for each of 16,384 members cost seconds)."""

    g: list[list[float]]
    d: list[list[float]]
    alive: list[bool]
    diverged_step: list[int]


def final_state(trainer: BatchTrainer) -> FinalState:
    def host(x):  # a torch tensor (maybe on a GPU) or a numpy array (the fused engine)
        return x.cpu().tolist() if hasattr(x, "cpu") else x.tolist()

    return FinalState(host(trainer.g), host(trainer.d), host(trainer.alive),
                      host(trainer.diverged_step))


def run_summary(trainer: BatchTrainer, i: int, wall: float,
                window: list[tuple[int, float, float]], final: FinalState,
                entered_at: int | None = None) -> dict[str, Any]:
    """The run's summary: final parameters and the one verdict (``verdict.judge``) on its
    success window, computed here once and read by every later command. ``final``: the
    batch's ``final_state``, copied once for all its members; ``entered_at``: the member's
    ``verdict.EntryTracker.at`` over all its snapshots (its ``converged_at``)."""
    from ..engine.fused.support import uses_fused

    spec = trainer.specs[i]
    game = game_of(spec)
    diverged = not final.alive[i]
    diverged_step = int(final.diverged_step[i]) if diverged else None
    steps, xs, ys = zip(*window) if window else ((), (), ())
    v = game.judge(steps, xs, ys, spec, diverged=diverged, diverged_step=diverged_step,
                   entered_at=entered_at)
    fields = game.summary_fields(verdict.summary_fields(v))
    params = game.summary_params(final.g[i], final.d[i], game.target(spec))
    return {
        "status": "diverged" if diverged else "finished",
        **params,
        "tolerance": spec.tolerance,
        **fields,
        "steps": trainer.step,
        "engine": "fused" if uses_fused(spec) else "torch",
        "seed": spec.seed,
        "preset": spec.preset,
        "overrides": overrides(spec),
        "diverged_step": diverged_step,
        "wall_seconds": round(wall, 3),
        "versions": rundir.versions(),
    }

