"""What a run records: its metrics rows and its summary, from the engine's state.

``training`` writes these into a run directory and ``sweep.batches`` into the batch store; the
summary's verdict (``verdict.judge`` on the success window) is taken here once and read by
every later command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import verdict
from ..engine import dirac
from ..engine.models import D_NAMES
from ..naming import overrides
from ..store import rundir
from ..verdict import distance

if TYPE_CHECKING:
    from ..engine.trainer import BatchTrainer, Snapshot


def _losses(snap: Snapshot, i: int) -> dict[str, float]:
    """Run i's losses and D outputs (a row is written from a snapshot taken with losses)."""
    assert snap.g_loss is not None and snap.d_loss is not None
    assert snap.d_real is not None and snap.d_fake is not None
    return {"g_loss": float(snap.g_loss[i]), "d_loss": float(snap.d_loss[i]),
            "d_real": float(snap.d_real[i]), "d_fake": float(snap.d_fake[i])}


def dirac_metrics_row(snap: Snapshot, i: int) -> dict[str, Any]:
    """A Dirac-GAN metrics row: theta, psi and their distance to the equilibrium (0, 0)."""
    theta, psi = float(snap.g[i, 0]), float(snap.d[i, 0])
    return {
        "step": snap.step,
        "theta": theta,
        "psi": psi,
        "distance": dirac.distance(theta, psi),
        **_losses(snap, i),
    }


def params_of(row: dict[str, Any]) -> tuple[float, float]:
    """The two numbers the success window judges: (w, b), or the Dirac-GAN's (theta, psi)
    (whose distance |theta| + |psi - 0| is the same formula with real value 0)."""
    if "theta" in row:
        return float(row["theta"]), float(row["psi"])
    return float(row["w"]), float(row["b"])


def metrics_row(snap: Snapshot, i: int, real: float) -> dict[str, Any]:
    if snap.g.shape[1] == 1:
        return dirac_metrics_row(snap, i)
    w, b = float(snap.g[i, 0]), float(snap.g[i, 1])
    row: dict[str, Any] = {
        "step": snap.step,
        "w": w,
        "b": b,
        "distance": distance(w, b, real),
        **_losses(snap, i),
    }
    for j, name in enumerate(D_NAMES):
        row[f"d_{name}"] = float(snap.d[i, j])
    return row


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
    return FinalState(trainer.g.cpu().tolist(), trainer.d.cpu().tolist(),
                      trainer.alive.cpu().tolist(), trainer.diverged_step.cpu().tolist())


def run_summary(trainer: BatchTrainer, i: int, wall: float,
                window: list[tuple[int, float, float]], final: FinalState) -> dict[str, Any]:
    """The run's summary: final parameters and the one verdict (``verdict.judge``) on its
    success window, computed here once and read by every later command. ``final``: the
    batch's ``final_state``, copied once for all its members."""
    spec = trainer.specs[i]
    diverged = not final.alive[i]
    diverged_step = int(final.diverged_step[i]) if diverged else None
    steps, ws, bs = zip(*window) if window else ((), (), ())
    is_dirac = spec.game == "dirac"
    real = 0.0 if is_dirac else spec.real_value  # the Dirac-GAN's target: psi = 0
    v = verdict.judge(steps, ws, bs, real=real, tolerance=spec.tolerance,
                      total_steps=spec.steps, window=spec.success_window, diverged=diverged,
                      diverged_step=diverged_step)
    fields = verdict.summary_fields(v)
    if is_dirac:
        theta, psi = final.g[i][0], final.d[i][0]
        params: dict[str, Any] = {"game": "dirac", "theta": theta, "psi": psi,
                                  "distance": dirac.distance(theta, psi)}
        fields = dirac_fields(fields)
    else:
        w, b = final.g[i][0], final.g[i][1]
        params = {"w": w, "b": b, "distance": distance(w, b, spec.real_value)}
    return {
        "status": "diverged" if diverged else "finished",
        **params,
        "tolerance": spec.tolerance,
        **fields,
        "steps": trainer.step,
        "seed": spec.seed,
        "preset": spec.preset,
        "overrides": overrides(spec),
        "diverged_step": diverged_step,
        "wall_seconds": round(wall, 3),
        "versions": rundir.versions(),
    }


def dirac_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The verdict's fields in the Dirac-GAN's words: the window judged (theta, psi) as
    (w, b) with real value 0, so ``bias_b`` is the mean of psi (``bias_psi``) and the reason
    names theta and psi."""
    out = {("bias_psi" if k == "bias_b" else k): v for k, v in fields.items()}
    v = dict(out["verdict"])
    v["reason"] = (v["reason"].replace("|w| + |b - real|", "|theta| + |psi|")
                   .replace("bias of b", "psi"))
    for a, b in (("time_avg_w", "time_avg_theta"), ("time_avg_b", "time_avg_psi")):
        if a in v:
            v[b] = v.pop(a)
    out["verdict"] = v
    return out
