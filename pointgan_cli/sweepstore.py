"""A sweep's batch store: the members trained as one batch share two files.

Under the sweep directory (``sweepdir`` owns the rest of it)::

    batches/
      0003.metrics.npz   every member's metrics, columnar: ids, step (S,), params
                         (S, M, 9) float32 = w, b and D's seven per snapshot (the losses and
                         D's outputs are recomputed from them on reading, in float64)
      0003.state.npz     every member's training state at the batch's latest checkpoint,
                         stacked along the member axis (``BatchTrainer.stacked_state``), plus
                         wall_seconds (M,); once finished also the members' summaries

Why this shape: a sweep of 1,024 members wrote 6,150 files (41 KB and six fsyncs per member)
and spent more time pickling, encoding JSON and syncing than training. Here a batch of 128
members writes two files per checkpoint, one fsync each.
Why npz (numpy's zip of raw arrays, read with ``allow_pickle=False``, so loading runs no code,
like ``torch.load(weights_only=True)``): for 128 members x 31 snapshots it wrote in 0.5 ms
against 6.4 ms for ``torch.save`` of the same stacked tensors and 13 ms for Parquet (pyarrow,
plus its import), at the same size (docs/performance.md).

The parameters are float32 in the engine, so storing them as float32 loses nothing; ``distance``
is recomputed from them exactly as a run's metrics row computes it. Writes are atomic (temp
file, fsync, rename), metrics first: after a crash the state file is the authority and metrics
rows past its step are dropped, so a resumed batch continues from a consistent point.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import dirac, rundir
from .engine import clean_x, snapshot_losses
from .errors import UsageError
from .models import D_NAMES
from .spec import RunSpec

BATCHES = "batches"
METRICS_SUFFIX = ".metrics.npz"
STATE_SUFFIX = ".state.npz"
PARAMS = ("w", "b", *(f"d_{n}" for n in D_NAMES))
LOSSES = ("g_loss", "d_loss", "d_real", "d_fake")
_BATCH_ID = re.compile(r"\d{4,}")


def batch_name(number: int) -> str:
    return f"{number:04d}"


def metrics_path(sweep: Path, bid: str) -> Path:
    return Path(sweep) / BATCHES / f"{bid}{METRICS_SUFFIX}"


def state_path(sweep: Path, bid: str) -> Path:
    return Path(sweep) / BATCHES / f"{bid}{STATE_SUFFIX}"


def batch_ids(sweep: Path) -> list[str]:
    """Batches with a state file (a batch counts once it has checkpointed), in order."""
    folder = Path(sweep) / BATCHES
    if not folder.is_dir():
        return []
    ids = [p.name[: -len(STATE_SUFFIX)] for p in folder.glob(f"*{STATE_SUFFIX}")]
    return sorted(i for i in ids if _BATCH_ID.fullmatch(i))


def orphan_metrics(sweep: Path) -> list[Path]:
    """Metrics files whose batch never wrote a state (killed before its first checkpoint)."""
    folder = Path(sweep) / BATCHES
    if not folder.is_dir():
        return []
    have = set(batch_ids(sweep))
    return [p for p in folder.glob(f"*{METRICS_SUFFIX}")
            if p.name[: -len(METRICS_SUFFIX)] not in have]


# -- metrics -----------------------------------------------------------------------------------


@dataclass
class BatchMetrics:
    """A batch's snapshots so far: the step and every member's 9 parameters per snapshot.

    A snapshot's losses and D outputs are a pure function of those parameters and the
    member's seed (``engine.snapshot_losses`` on the step's clean x), so they are recomputed
    when a member is read instead of being stored (float64: they agree with the values
    training computed to float64 rounding, about 1e-16; the parameters are exact)."""

    ids: list[str]
    steps: list[int] = field(default_factory=list)
    params: list[np.ndarray] = field(default_factory=list)  # each (M, 9) float32

    def append(self, snap: Any) -> None:
        """Add an engine ``Snapshot`` (float64 tensors holding float32 parameters)."""
        self.steps.append(int(snap.step))
        self.params.append(torch.cat([snap.g, snap.d], dim=1).to(torch.float32).numpy())

    def truncate(self, upto: int) -> None:
        """Keep the snapshots at steps <= ``upto`` (after a checkpoint: what resume keeps)."""
        keep = [k for k, s in enumerate(self.steps) if s <= upto]
        self.steps = [self.steps[k] for k in keep]
        self.params = [self.params[k] for k in keep]

    def rows(self, i: int, spec: RunSpec) -> list[dict[str, Any]]:
        """Member i's metrics rows, as ``metrics.jsonl`` of a run holds them (same keys and
        order; parameters exact, losses to float64 rounding)."""
        if not self.steps:
            return []
        if spec.game == "dirac":
            return self._dirac_rows(i, spec)
        p = np.stack([q[i] for q in self.params])  # (S, 9) float32
        n = len(self.steps)
        g = torch.from_numpy(p[:, :2]).double()
        d = torch.from_numpy(p[:, 2:]).double()
        at = torch.tensor([min(s, spec.steps - 1) for s in self.steps], dtype=torch.int64)
        x = clean_x(torch.tensor([spec.seed]), at, spec.batch_size)[0].double()  # (S, B)
        real = torch.full((n, 1), spec.real_value, dtype=torch.float32).double()
        easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
        fw = torch.full((n,), spec.fake_weight, dtype=torch.float64)
        losses = snapshot_losses(g, d, x, real, spec.loss, spec.g_loss, easing, fw)
        cols = [q.tolist() for q in losses]
        out = []
        for k, step in enumerate(self.steps):
            w, b = float(p[k, 0]), float(p[k, 1])
            row: dict[str, Any] = {"step": step, "w": w, "b": b,
                                   "distance": abs(w) + abs(b - spec.real_value)}
            row.update({name: cols[j][k] for j, name in enumerate(LOSSES)})
            row.update({name: float(p[k, j]) for j, name in enumerate(PARAMS) if j >= 2})
            out.append(row)
        return out

    def _dirac_rows(self, i: int, spec: RunSpec) -> list[dict[str, Any]]:
        """A Dirac-GAN member's rows: its 2 parameters per snapshot are (theta, psi)."""
        p = np.stack([q[i] for q in self.params])  # (S, 2) float32
        n = len(self.steps)
        theta = torch.from_numpy(p[:, 0:1]).double()
        psi = torch.from_numpy(p[:, 1:2]).double()
        easing = torch.full((n, 1), spec.label_easing, dtype=torch.float64)
        fw = torch.full((n, 1), spec.fake_weight, dtype=torch.float64)
        cols = [q.tolist() for q in dirac.snapshot_losses(theta, psi, spec.loss, spec.g_loss,
                                                           easing, fw)]
        out = []
        for k, step in enumerate(self.steps):
            t, s = float(p[k, 0]), float(p[k, 1])
            row: dict[str, Any] = {"step": step, "theta": t, "psi": s,
                                   "distance": dirac.distance(t, s)}
            row.update({name: cols[j][k] for j, name in enumerate(LOSSES)})
            out.append(row)
        return out

    def to_bytes(self, compress: bool = False) -> bytes:
        """npz of ids, step and the parameters (S, M, 9); ``compress``: the parameters as
        zlib of their byte planes after XOR with the previous snapshot (float32 bits barely
        change between snapshots: 28% smaller, 30 ms per 128 members, so only for the final
        file)."""
        m = len(self.ids)
        params = np.stack(self.params) if self.params else np.zeros((0, m, 9), np.float32)
        arrays = {"ids": _text(json.dumps(self.ids)), "step": np.array(self.steps, np.int64)}
        if compress:
            arrays["params_z"] = _pack(params)
            arrays["params_shape"] = np.array(params.shape, np.int64)
        else:
            arrays["params"] = params
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()


def _pack(params: np.ndarray) -> np.ndarray:
    s, m, k = params.shape
    u = np.ascontiguousarray(params.transpose(1, 2, 0)).view(np.uint32)  # (M, 9, S)
    d = u.copy()
    d[..., 1:] = u[..., 1:] ^ u[..., :-1]
    planes = np.ascontiguousarray(d.view(np.uint8).reshape(m, k, s, 4).transpose(3, 0, 1, 2))
    return np.frombuffer(zlib.compress(planes.tobytes(), 1), dtype=np.uint8)


def _unpack(data: np.ndarray, shape: np.ndarray) -> np.ndarray:
    s, m, k = (int(v) for v in shape)
    planes = np.frombuffer(zlib.decompress(data.tobytes()), np.uint8).reshape(4, m, k, s)
    d = np.ascontiguousarray(planes.transpose(1, 2, 3, 0)).view(np.uint32).reshape(m, k, s)
    u = np.bitwise_xor.accumulate(d, axis=-1)
    return np.ascontiguousarray(u.view(np.float32).transpose(2, 0, 1))  # (S, M, 9)


def _text(value: str) -> np.ndarray:
    """A string as UTF-8 bytes (npz would store a str array at 4 bytes per character)."""
    return np.frombuffer(value.encode("utf-8"), dtype=np.uint8)


def _untext(arr: np.ndarray) -> str:
    return arr.tobytes().decode("utf-8")


def read_metrics(path: Path) -> BatchMetrics:
    with _npz(path) as z:
        ids = json.loads(_untext(z["ids"]))
        steps = [int(s) for s in z["step"]]
        if "params_z" in z.files:
            params = _unpack(z["params_z"], z["params_shape"])
        else:
            params = z["params"]
    return BatchMetrics(ids, steps, list(params))


# -- states ------------------------------------------------------------------------------------


def _flatten(state: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat: dict[str, np.ndarray] = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "/"))
        elif isinstance(value, torch.Tensor):
            flat[name] = value.numpy()
        else:
            flat[name] = np.array(value)  # 0-d: the format, the step, the rng kind
    return flat


def state_to_bytes(stacked: dict, ids: list[str]) -> bytes:
    """npz of the stacked state; the ids and (when finished) the members' summaries as UTF-8
    JSON, the summaries zlib-compressed (their keys repeat for every member)."""
    stacked = dict(stacked)
    arrays = {"@ids": _text(json.dumps(ids))}
    summaries = stacked.pop("summaries", None)
    if summaries is not None:
        arrays["@summaries_z"] = np.frombuffer(zlib.compress(summaries.encode("utf-8"), 6),
                                               dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays, **_flatten(stacked))
    return buf.getvalue()


def read_state(path: Path) -> tuple[list[str], dict]:
    """(member ids, stacked state) of a batch: tensors with a leading member axis, 0-d values
    as Python scalars; ``engine.unstack_state`` gives one member's checkpoint dict."""
    with _npz(path) as z:
        ids = json.loads(_untext(z["@ids"]))
        state: dict = {}
        if "@summaries_z" in z.files:
            state["summaries"] = zlib.decompress(z["@summaries_z"].tobytes()).decode("utf-8")
        for name in z.files:
            if name.startswith("@"):
                continue
            arr = z[name]
            value = torch.from_numpy(arr.copy()) if arr.ndim else arr.item()
            node = state
            *parents, leaf = name.split("/")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return ids, state


def read_summaries(path: Path) -> list[str] | None:
    """Each member's summary as its own JSON text (``json.loads`` of one gives that member's
    ``summary.json``), or None while the batch has not finished. A report reads one member at a
    time; parsing a whole batch's summaries for each of them cost O(members x batch size)."""
    with _npz(path) as z:
        if "@summaries_z" not in z.files:
            return None
        text = zlib.decompress(z["@summaries_z"].tobytes()).decode("utf-8")
    return [json.dumps(s) for s in json.loads(text)]


def read_ids(path: Path) -> list[str]:
    with _npz(path) as z:
        return json.loads(_untext(z["@ids"]))


def read_progress(path: Path) -> tuple[list[str], int, bool]:
    """(member ids, step, finished) of a batch state file."""
    with _npz(path) as z:
        return json.loads(_untext(z["@ids"])), int(z["step"]), "@summaries_z" in z.files


def write_batch(sweep: Path, bid: str, metrics: BatchMetrics, stacked: dict) -> None:
    """The batch's metrics, then its state: each atomically, one fsync per file (the final
    write, with the summaries, compresses the metrics)."""
    final = "summaries" in stacked
    rundir.atomic_write_bytes(metrics_path(sweep, bid), metrics.to_bytes(compress=final))
    rundir.atomic_write_bytes(state_path(sweep, bid), state_to_bytes(stacked, metrics.ids))


class _npz:
    """``np.load`` without pickles; any unreadable file is one UsageError line."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self):
        try:
            self._z = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise UsageError(f"cannot read {self.path}: {type(exc).__name__}") from None
        return self

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._z[key]
        except (KeyError, ValueError, OSError, EOFError) as exc:
            raise UsageError(f"{self.path} is corrupt ({type(exc).__name__})") from None

    @property
    def files(self) -> list[str]:
        return list(self._z.files)

    def __exit__(self, *exc: object) -> None:
        self._z.close()
