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


def test_bounded_passes_give_the_clamped_passes_bits():
    """Where every pre-activation is bounded below ``INSIDE``, the passes without the clamp
    (G's, D's sigmoid loops) give the clamped passes' bits, sums included."""
    rng = np.random.default_rng(0)
    B, K = 64, 8
    m = K * B + fast.PAD
    seen = 0
    for trial in range(300):
        S = (rng.standard_normal((1, 38)) * rng.choice([0.1, 1.0, 5.0])).astype(np.float32)
        w, b = S[0, 0], S[0, 1]
        A0, A1, B0, B1 = (S[0, 2:6] * 2).astype(np.float32)
        a0, a1 = S[0, 6] * 2, S[0, 7] * 2
        c = (S[0, 8] - S[0, 6]) - S[0, 7]
        vmax = abs(w) + abs(b)
        if max(abs(A0) * vmax + abs(B0), abs(A1) * vmax + abs(B1),
               abs(a0) + abs(a1) + abs(c)) >= fast.INSIDE:
            continue
        seen += 1
        XB = (rng.random(B) * 2 - 1).astype(np.float32)
        one, two = np.zeros(2, np.float32), np.zeros(2, np.float32)
        args = (XB, B, bool(trial % 2), w, b, A0, A1, B0, B1, a0, a1, c)
        fast.g_pass(*args, False, one)
        fast.g_pass(*args, True, two)
        assert one.tobytes() == two.tobytes()
        Z = (rng.standard_normal(3 * m) * 3).astype(np.float32)
        V = (rng.random(K * B) * 2 - 1).astype(np.float32)
        outs = []
        for inside in (False, True):
            Zi, out = Z.copy(), np.zeros(7, np.float32)
            fast.fake_sums(V, K * B, m, a0, a1, c, np.float32(0.01), np.float32(0.0), Zi, out,
                           inside)
            outs.append((Zi.tobytes(), out.tobytes()))
        assert outs[0] == outs[1]
    assert seen > 100


def test_the_common_path_keeps_the_clamp_where_d_is_large():
    """Past the bound (D's weights x 200: pre-activations far past the clamp) the common path
    takes the clamped sigmoids, and still follows the general step."""
    sp = _specs("fixed")
    a, b = FusedTrainer(sp), FusedTrainer(sp)
    for tr in (a, b):
        tr.S[:, 2:9] *= np.float32(200.0)
    a.advance(10)
    for r in range(b.R):
        step.run_steps(b.S, r, b.seeds[r], 0, 10, b.H, b.IS, b.Fs, NO_SNAP, 1 << 62)
    assert np.isfinite(a.S).all()
    assert np.allclose(a.S, b.S, rtol=1e-5, atol=2e-6)
