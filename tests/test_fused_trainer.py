"""``FusedTrainer.run`` records every snapshot inside long kernel calls: the same snapshots,
divergence handling and final state as stopping the kernel at each snapshot (the torch
engine's order), for runs that diverge between two snapshots of one call too."""

from __future__ import annotations

import numpy as np

from pointgan_cli.engine.fused import layout as L
from pointgan_cli.engine.fused.trainer import FusedTrainer
from pointgan_cli.spec import resolve_spec


def _trainer(steps=63):
    specs = [resolve_spec("fixed", overrides={"seed": s, "steps": steps, "snapshot_every": 5})
             for s in range(3)]
    tr = FusedTrainer(specs)
    tr.H[1, L.LR_D] = np.float32(3e38)  # run 1 overflows within a few steps
    return tr


def _same(a, b):
    assert a.step == b.step
    assert np.array_equal(a.g, b.g, equal_nan=True) and np.array_equal(a.d, b.d, equal_nan=True)
    assert np.array_equal(a.alive, b.alive)


def test_snapshots_recorded_in_a_call_are_those_of_stopping_at_each():
    ours, calls = [], []
    tr = _trainer()
    seen = []

    def kernel(*args):
        calls.append((args[3], args[4]))
        return seen[0](*args)

    seen.append(tr._kernel)
    tr._kernel = kernel
    assert tr.run(ours.append, with_losses=False)
    assert len(calls) == 1  # one call for all 63 steps and their 13 snapshots
    ref_tr, ref = _trainer(), []
    ref.append(ref_tr.snapshot(False))
    for step in [*range(5, 63, 5), 63]:
        ref_tr.advance(step)
        ref.append(ref_tr.snapshot(False))
    assert [s.step for s in ours] == [s.step for s in ref] == [0, *range(5, 63, 5), 63]
    for a, b in zip(ours, ref):
        _same(a, b)
    assert not ours[-1].alive[1] and ours[-1].alive[0] and ours[-1].alive[2]
    assert tr.diverged_step[1] == ref_tr.diverged_step[1] > 0
    assert np.array_equal(tr.S, ref_tr.S)
    assert np.isfinite(tr.S).all()  # the diverged run was rolled back and frozen
