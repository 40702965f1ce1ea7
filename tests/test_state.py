"""The training state is named once (``engine.state.TrainingState``) and the trainer is composed
of parts that take it explicitly: what a checkpoint saves and loads, what a diverged run keeps
frozen and what a step updates all follow the dataclass's fields."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import pytest
import torch

from pointgan_cli.engine import state as state_module
from pointgan_cli.engine.dirac import DiracTrainer
from pointgan_cli.engine.state import (
    HEADER,
    STEPPED,
    TrainingState,
    checkpoint,
    load_checkpoints,
    state_field,
    unstack_state,
)
from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec

ALL_PARTS = {"lecam": 0.5, "update": "optimistic"}  # every optional field of the state in use


def _specs(n: int = 3, steps: int = 40, **extra):
    return [resolve_spec("baseline", overrides={"seed": s, "steps": steps, **extra})
            for s in range(n)]


def _leaves(d: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for k, v in d.items():
        out |= _leaves(v, (*prefix, k)) if isinstance(v, dict) else {(*prefix, k)}
    return out


def _keys(cls=TrainingState, parts=("lecam", "optimistic")) -> set[tuple[str, ...]]:
    return {f.metadata["key"] for f in fields(cls) if f.metadata["part"] in (None, *parts)}


@pytest.mark.parametrize("trainer", [BatchTrainer, DiracTrainer])
def test_the_trainers_are_composed_of_parts_not_mixins(trainer):
    """No engine class but the trainers themselves in their MRO, and no part holds the
    trainer (so none can read another part's attributes through it)."""
    engine = [c for c in trainer.__mro__ if c.__module__.startswith("pointgan_cli.engine")]
    assert engine == ([BatchTrainer] if trainer is BatchTrainer else [DiracTrainer, BatchTrainer])
    assert BatchTrainer.__bases__ == (object,)
    specs = _specs(2) if trainer is BatchTrainer else [
        resolve_spec(None, overrides={"game": "dirac", "seed": s, "steps": 20}) for s in (0, 1)]
    tr = trainer(specs)
    assert isinstance(tr.state, TrainingState)
    parts = [tr.cfg, tr.game, tr.state, tr.randomness, tr.optimizer, tr.updates, tr.snapshots]
    for part in parts:
        assert all(v is not tr for v in vars(part).values()), type(part).__name__


def test_a_checkpoint_holds_the_states_fields_and_only_its_header_besides():
    with torch.inference_mode():
        every = BatchTrainer(_specs(2, **ALL_PARTS)).state_for(0)
        plain = BatchTrainer(_specs(2)).state_for(1)
    assert set(every) - set(HEADER) == {k[0] for k in _keys()}
    assert _leaves({k: v for k, v in every.items() if k not in HEADER}) == _keys()
    assert _leaves({k: v for k, v in plain.items() if k not in HEADER}) == _keys(parts=())
    assert every["format"] == state_module.CHECKPOINT_FORMAT and every["rng"]["seed"] == 0


@pytest.mark.parametrize("extra", [ALL_PARTS, {}, {"optimizer": "sgd", "momentum": 0.9}])
def test_saving_then_loading_round_trips_every_field(extra):
    """A batch with a diverged run, saved run by run and loaded into a new trainer: every
    field of the state comes back equal (tensors bit for bit, dtype and shape included)."""
    specs = _specs(3, **extra)
    with torch.inference_mode():
        tr = BatchTrainer(specs)
        for _ in range(23):
            tr.train_step()
        tr.g[1, 0] = math.nan
        tr.snapshot()  # run 1 diverges: alive and diverged_step differ between runs
        for _ in range(5):
            tr.train_step()
        stacked = tr.stacked_state()
        back = BatchTrainer(specs)
        back.load_states([unstack_state(stacked, i) for i in range(3)])
    saved = {f.name for f in state_module.saved_fields(tr.state, tr.parts)}
    assert saved == {f.name for f in fields(TrainingState)
                     if f.metadata["part"] in (None, *tr.parts)}
    for f in fields(TrainingState):
        a, b = getattr(tr.state, f.name), getattr(back.state, f.name)
        if isinstance(a, torch.Tensor):
            assert a.dtype == b.dtype and torch.equal(a, b), f.name
        else:
            assert a == b, f.name
    assert back.state.all_alive is False and back.step == 28


@dataclass(eq=False)
class _Extended(TrainingState):
    """The state with one more field, as a new option would add it."""

    extra: torch.Tensor = state_field("extra_moment", role="moments")


def test_a_field_added_to_the_dataclass_is_saved_loaded_and_frozen():
    """Declaring the field is all it takes: the checkpoint writes it, loading reads it back,
    and a diverged run's copy is frozen through a step and zeroed at its rollback."""
    with torch.inference_mode():
        base = TrainingState.fresh(torch.zeros(2, 2), torch.zeros(2, 7))
        values = {f.name: getattr(base, f.name) for f in fields(TrainingState)}
        s = _Extended(**values, extra=torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        seeds = torch.tensor([5, 6])
        dicts = [checkpoint(s, seeds, frozenset(), lambda t, i=i: t[i].clone(),
                            lambda t, i=i: t[i].item()) for i in range(2)]
        assert _leaves({k: v for k, v in dicts[0].items() if k not in HEADER}) == \
            _keys(_Extended, ())
        assert torch.equal(dicts[1]["extra_moment"], torch.tensor([3.0, 4.0]))
        template = _Extended(**values, extra=torch.zeros(2, 2))
        back = load_checkpoints(dicts, template, frozenset())
        assert isinstance(back, _Extended) and torch.equal(back.extra, s.extra)
        assert len(s.frozen_copies()) == len([f for f in fields(s)
                                              if f.metadata["role"] in STEPPED])
        s.alive[1] = False
        frozen = s.frozen_copies()
        s.extra += 10.0  # a step moves it...
        s.restore_dead(frozen)  # ...but not the dead run's row
        assert s.extra.tolist() == [[11.0, 12.0], [3.0, 4.0]]


def test_a_diverged_run_keeps_every_stepped_field_in_the_captured_step():
    """The tensor step mode (what a CUDA graph replays) freezes a diverged run through the
    same field list: every params and moments tensor of the run stays as the rollback left
    it, while the other runs move."""
    specs = _specs(3, steps=60, **ALL_PARTS)
    with torch.inference_mode():
        tr = BatchTrainer(specs, step_mode="tensor")
        for _ in range(12):
            tr.train_step()
        tr.g[2, 1] = math.inf
        tr.snapshot()
        before = {f.name: getattr(tr.state, f.name).clone() for f in fields(TrainingState)
                  if f.metadata["role"] in STEPPED}
        for _ in range(7):
            tr.train_step()
    assert tr.alive.tolist() == [True, True, False]
    for name, old in before.items():
        new = getattr(tr.state, name)
        assert torch.equal(new[2], old[2]), name
    assert not torch.equal(tr.g[0], before["g"][0])
