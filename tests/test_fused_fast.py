"""The common options' own path (``fused.fast``) against the general step (``fused.step``):
the same trajectories to float32 rounding (only the sums' order differs), and the batches it
takes are exactly those whose options it computes."""

from __future__ import annotations

import numpy as np
import pytest

from pointgan_cli.engine.fused import fast, step
from pointgan_cli.engine.fused.trainer import NO_SNAP, FusedTrainer
from pointgan_cli.spec import resolve_spec


def _specs(preset, **kw):
    return [resolve_spec(preset, overrides={"seed": s, "steps": 60, **kw}) for s in range(3)]


@pytest.mark.parametrize("preset, kw", [
    ("fixed", {}), ("baseline", {}), ("weight-decay", {"weight_decay_mode": "l2"}),
    ("fixed", {"d_steps": 2, "g_loss": "minimax"}),
])
def test_the_common_path_follows_the_general_step(preset, kw):
    sp = _specs(preset, **kw)
    a = FusedTrainer(sp)
    assert fast.is_common(a.IS)
    b = FusedTrainer(sp)
    a.advance(40)
    for r in range(b.R):  # the general step, run by run
        step.run_steps(b.S, r, b.seeds[r], 0, 40, b.H, b.IS, b.Fs, NO_SNAP, 1 << 62)
    assert np.allclose(a.S, b.S, rtol=0, atol=2e-6)
    assert not np.array_equal(a.S[:, :9], FusedTrainer(sp).S[:, :9])  # it trained


@pytest.mark.parametrize("preset, kw", [
    ("r1", {}), ("lsgan", {}), ("instance-noise", {}), ("baseline", {"update": "optimistic"}),
    ("baseline", {"optimizer": "sgd"}), ("baseline", {"lecam": 0.1}),
])
def test_other_options_take_the_general_step(preset, kw):
    assert not fast.is_common(FusedTrainer(_specs(preset, **kw)).IS)
