"""The batch store's file formats: lossless to the bit, older files still read, damaged files
are one error line."""

from __future__ import annotations

import io
import json
import math
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pointgan_cli.errors import UsageError
from pointgan_cli.store import floatpack, jsoncols, sweepstore


def _series(s=37, m=5, k=9, seed=0):
    """Float32 series like a batch's snapshots: random walks, some crossing zero, plus the
    special values a diverging run can produce."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((1, m, k)) + np.cumsum(0.05 * rng.standard_normal((s, m, k)), 0))
    x = x.astype(np.float32)
    if s > 5 and m > 2 and k >= 6:
        x[3, 0, :6] = [np.nan, np.inf, -np.inf, -0.0, 1e-45, -3.4e38]
        x[4:, 1, 2] = 0.0
        x[5, 2, 3] = np.float32(np.nan) * -1
    return x


@pytest.mark.parametrize("shape", [(37, 5, 9), (1, 3, 9), (0, 4, 9), (12, 1, 2), (20, 6, 1)])
def test_floatpack_is_lossless_bit_for_bit(shape):
    x = _series(*shape)
    parts = floatpack.pack(x, 2)
    back = floatpack.unpack(parts, 2)
    assert back.dtype == np.float32 and back.shape == x.shape
    assert np.array_equal(back.view(np.uint32), x.view(np.uint32))
    head = floatpack.unpack(parts, 2, head_only=True)
    assert np.array_equal(head.view(np.uint32), x[:, :, :2].view(np.uint32))


def test_floatpack_cuts_long_streams_into_pieces_the_same_on_any_thread_count(monkeypatch):
    """Plane streams longer than one bz2 block are compressed piece by piece (on threads):
    lossless, and the same bytes with one thread or several."""
    monkeypatch.setattr(floatpack, "BZ2_PIECE", 1000)
    x = _series(151, 40, 9, seed=5)  # head planes 24 KB, tail 85 KB: dozens of pieces
    packed = {}
    for threads in (1, 4):
        monkeypatch.setattr(floatpack.os, "sched_getaffinity", lambda pid, n=threads: set(range(n)))
        packed[threads] = floatpack.pack(x, 2)
        back = floatpack.unpack(packed[threads], 2)
        assert np.array_equal(back.view(np.uint32), x.view(np.uint32))
    for key in ("head", "tail", "low", "shape", "head_pieces", "tail_pieces"):
        assert np.array_equal(packed[1][key], packed[4][key])
    assert packed[1]["tail"].tobytes().count(b"BZh9") >= 85  # one stream per piece
    assert len(packed[1]["tail_pieces"]) == 85 and packed[1]["tail_pieces"].sum() == len(
        packed[1]["tail"])
    head = floatpack.unpack(packed[4], 2, head_only=True)  # pieces read on threads
    assert np.array_equal(head.view(np.uint32), x[:, :, :2].view(np.uint32))
    # without the lengths (or with wrong ones) the concatenated streams still read, or fail
    plain = {k: v for k, v in packed[4].items() if not k.endswith("_pieces")}
    assert np.array_equal(floatpack.unpack(plain, 2).view(np.uint32), x.view(np.uint32))
    with pytest.raises(ValueError):
        floatpack.unpack({**packed[4], "tail_pieces": packed[4]["tail_pieces"][:-1]}, 2)
    monkeypatch.setattr(floatpack, "BZ2_PIECE", 900_000)
    assert "tail_pieces" not in floatpack.pack(x, 2)  # one piece: no lengths stored


def test_floatpack_is_smaller_than_the_xor_packing_on_training_like_series():
    x = _series(151, 64, 9, seed=3)
    x[3, 0, :6] = 0.5  # no special values: what a converging batch looks like
    x[5, 2, 3] = 0.5
    ours = sum(v.nbytes for v in floatpack.pack(x, 2).values())
    before = floatpack.pack_xor(x).nbytes
    assert ours < 0.97 * before < x.nbytes
    assert np.array_equal(floatpack.unpack_xor(floatpack.pack_xor(x), np.array(x.shape)), x,
                          equal_nan=True)


def _summaries(n=6):
    out = []
    for i in range(n):
        out.append({"status": "finished", "w": float(np.float32(0.1 * i - 0.2)), "b": 1.0 + i,
                    "converged": i % 2 == 0, "seed": i, "class": "converged",
                    "verdict": {"reason": f"max {0.01 * i:.4f}", "fraction": 0.2,
                                "steps_to_tolerance": None if i == 3 else 10.0 * i,
                                "last_step_outside": i},
                    "overrides": {}, "wall_seconds": 1.25,
                    "versions": {"python": "3.11"}, "neg_zero": -0.0, "big": 2**70})
    return out


def test_summary_columns_round_trip_exactly_and_refuse_other_shapes():
    objs = _summaries()
    parts = jsoncols.encode(objs)
    assert parts is not None
    assert jsoncols.decode(parts) == [json.dumps(o) for o in objs]
    reordered = [dict(reversed(list(objs[0].items())))] + objs[1:]
    assert jsoncols.encode(reordered) is None
    assert jsoncols.encode([*objs, {**objs[0], "extra": 1}]) is None
    assert jsoncols.encode([]) is None
    # a value JSON would change (a tuple reads back as a list) is refused; a column mixing
    # ints and floats that compare equal keeps each one's type
    assert jsoncols.encode([{**o, "pair": (1, 2)} for o in objs]) is None
    assert jsoncols.encode([{**o, "nan": math.nan} for o in objs]) is None  # not JSON
    mixed = [{**o, "n": 1 if i % 2 else 1.0} for i, o in enumerate(objs)]
    parts = jsoncols.encode(mixed)
    assert parts is not None and jsoncols.decode(parts) == [json.dumps(o) for o in mixed]


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                  st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["a", "b"]))
_objects = st.recursive(_leaf, lambda inner: st.dictionaries(st.sampled_from("xyz"), inner,
                                                             max_size=3), max_leaves=6)


def _shape(obj, prefix=()):
    """The paths of an object's fields that are not non-empty objects, depth first in key
    order: two objects with equal shapes store as the same columns."""
    if isinstance(obj, dict) and obj:
        return [p for key, value in obj.items() for p in _shape(value, (*prefix, key))]
    return [prefix]


@settings(max_examples=300, deadline=None)
@given(st.lists(_objects.filter(lambda o: isinstance(o, dict) and o), min_size=1, max_size=4))
def test_summary_columns_refuse_exactly_the_lists_of_different_shapes(objs):
    shapes = {tuple(_shape(o)) for o in objs}
    parts = jsoncols.encode(objs)
    if len(shapes) > 1:
        assert parts is None
    else:
        assert parts is not None and jsoncols.decode(parts) == [json.dumps(o) for o in objs]


def _stacked(m=4, finished=True):
    g = torch.arange(2 * m, dtype=torch.float32).reshape(m, 2)
    d = torch.linspace(-1, 1, 7 * m, dtype=torch.float32).reshape(m, 7)
    state = {"format": "pointgan-batch", "step": 40, "generator": g, "discriminator": d,
             "optim_d": {"exp_avg": d * 0.5, "exp_avg_sq": d * d},
             "alive": torch.ones(m, dtype=torch.bool),
             "last_good": {"generator": g.clone(), "discriminator": d.clone()},
             "wall_seconds": torch.full((m,), 1.5, dtype=torch.float64)}
    if finished:
        state["summaries"] = _summaries(m)
    return state


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _same(a[k], b[k])
        elif isinstance(a[k], torch.Tensor | np.ndarray):
            x, y = np.asarray(a[k]), np.asarray(b[k])
            assert x.dtype == y.dtype and np.array_equal(x, y), k
        else:
            assert a[k] == b[k], k


def test_state_round_trips_with_shared_arrays_stored_once(tmp_path):
    ids = [f"m{i}" for i in range(4)]
    state = _stacked()
    f = tmp_path / "0000.state.npz"
    f.write_bytes(sweepstore.state_to_bytes(state, ids))
    got_ids, got = sweepstore.read_state(f)
    assert got_ids == ids
    assert got.pop("summaries").all() == state.pop("summaries")
    _same(got, state)
    got["last_good"]["generator"][0, 0] = 99.0  # a copy, not the live array
    assert got["generator"][0, 0] == 0.0
    names = np.load(f).files
    assert "last_good/generator" not in names and "@same" in names
    assert sweepstore.read_progress(f) == (ids, 40, True)
    found = sweepstore.read_summaries(f)
    assert found.all() == _summaries(4) and found.get(2) == _summaries(4)[2] and len(found) == 4
    found.get(0)["verdict"]["reason"] = "changed"  # each read is a new dict
    assert found.get(0) == found.all()[0] == _summaries(4)[0]
    unfinished = tmp_path / "0001.state.npz"
    unfinished.write_bytes(sweepstore.state_to_bytes(_stacked(finished=False), ids))
    assert sweepstore.read_progress(unfinished) == (ids, 40, False)
    assert sweepstore.read_summaries(unfinished) is None


def _old_state(state, ids) -> bytes:
    """A state file as sweeps wrote it before: plain npz, plain ids, zlib of a JSON list."""
    state = dict(state)
    arrays = {"@ids": sweepstore._text(json.dumps(ids))}
    arrays["@summaries_z"] = np.frombuffer(
        zlib.compress(json.dumps(state.pop("summaries")).encode()), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays, **sweepstore._flatten(state))
    return buf.getvalue()


def test_files_written_before_still_read(tmp_path):
    ids = ["a", "b", "c"]
    state = _stacked(3)
    f = tmp_path / "0000.state.npz"
    f.write_bytes(_old_state(state, ids))
    assert sweepstore.read_progress(f) == (ids, 40, True)
    assert sweepstore.read_ids(f) == ids
    assert sweepstore.read_summaries(f).all() == _summaries(3)
    got_ids, got = sweepstore.read_state(f)
    assert got.pop("summaries").all() == _summaries(3)
    state.pop("summaries")
    _same(got, state)
    x = _series(31, 3, 9)
    metrics = tmp_path / "0000.metrics.npz"
    buf = io.BytesIO()
    np.savez(buf, ids=sweepstore._text(json.dumps(ids)), step=np.arange(31) * 10,
             params_z=floatpack.pack_xor(x), params_shape=np.array(x.shape))
    metrics.write_bytes(buf.getvalue())
    m = sweepstore.read_metrics(metrics)
    assert m.ids == ids and m.steps == list(range(0, 310, 10))
    assert np.array_equal(np.stack(m.params).view(np.uint32), x.view(np.uint32))
    steps, wb = sweepstore.read_curves(metrics)
    assert steps == m.steps and np.array_equal(wb.view(np.uint32), x[:, :, :2].view(np.uint32))


def test_metrics_round_trip_compressed_or_not(tmp_path):
    x = _series(31, 3, 9)
    m = sweepstore.BatchMetrics(["a", "b", "c"], list(range(0, 310, 10)), list(x))
    for compress in (False, True):
        f = tmp_path / f"{compress}.metrics.npz"
        f.write_bytes(m.to_bytes(compress=compress))
        back = sweepstore.read_metrics(f)
        assert back.ids == m.ids and back.steps == m.steps
        assert np.array_equal(np.stack(back.params).view(np.uint32), x.view(np.uint32))
        steps, wb = sweepstore.read_curves(f)
        assert np.array_equal(wb.view(np.uint32), x[:, :, :2].view(np.uint32))


def test_a_damaged_file_is_one_usage_error(tmp_path):
    x = _series(31, 3, 9)
    data = sweepstore.BatchMetrics(["a", "b", "c"], list(range(0, 310, 10)),
                                   list(x)).to_bytes(compress=True)
    z = dict(np.load(io.BytesIO(data)))
    z["params_tail"] = z["params_tail"][: len(z["params_tail"]) // 2]
    buf = io.BytesIO()
    np.savez(buf, **z)
    f = tmp_path / "0000.metrics.npz"
    f.write_bytes(buf.getvalue())
    with pytest.raises(UsageError, match="corrupt"):
        sweepstore.read_metrics(f)
    s = tmp_path / "0000.state.npz"
    z = dict(np.load(io.BytesIO(sweepstore.state_to_bytes(_stacked(), list("abcd")))))
    z["@summaries_f"] = z["@summaries_f"][:-3]
    buf = io.BytesIO()
    np.savez(buf, **z)
    s.write_bytes(buf.getvalue())
    with pytest.raises(UsageError, match="corrupt"):
        sweepstore.read_summaries(s)
