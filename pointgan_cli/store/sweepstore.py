"""A sweep's batch store: the members trained as one batch share two files.

Under the sweep directory (``sweepdir`` owns the rest of it)::

    batches/
      0003.metrics.npz   every member's metrics, columnar: ids, step (S,), params
                         (S, M, 9) float32 = w, b and D's seven per snapshot (the losses and
                         D's outputs are recomputed from them on reading, in float64)
      0003.state.npz     every member's training state at the batch's latest checkpoint,
                         stacked along the member axis (``BatchTrainer.stacked_state``), plus
                         wall_seconds (M,); once finished also the members' summaries

Why this shape: one run directory per member meant 6,150 files and six fsyncs per member for
1,024 members; here a batch writes two files per checkpoint, one fsync each.
Why npz (numpy's zip of raw arrays, read with ``allow_pickle=False``: loading runs no code):
128 members x 31 snapshots wrote in 0.5 ms against 6.4 ms for ``torch.save`` and 13 ms for
Parquet, at the same size (docs/performance.md).

The parameters are float32 in the engine, so storing them as float32 loses nothing; ``distance``
is recomputed from them exactly as a run's metrics row computes it. Writes are atomic (temp
file, fsync, rename), metrics first: after a crash the state file is the authority and metrics
rows past its step are dropped, so a resumed batch continues from a consistent point.

Size: packed losslessly (``floatpack`` parameters, ``jsoncols`` summaries, compressed npz
state, zlib'd ids): 3.8 KB per member for 151 snapshots, 3.6 KB of it the parameters.
"""

from __future__ import annotations

import bz2
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..games import game_of
from ..spec import RunSpec
from . import atomic, checks, floatpack, jsoncols
from .ckptfile import flatten as _flatten
from .ckptfile import unstack_state  # noqa: F401  (read_state's readers take a member out)

BATCHES = "batches"
METRICS_SUFFIX = ".metrics.npz"
STATE_SUFFIX = ".state.npz"
CURVE = 2  # the leading parameters the sweep's chart draws (w, b), packed as their own stream
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
    member's seed (``snapshots.snapshot_losses`` on the step's clean x), so they are recomputed
    when a member is read instead of being stored (float64: they agree with the values
    training computed to float64 rounding, about 1e-16; the parameters are exact)."""

    ids: list[str]
    steps: list[int] = field(default_factory=list)
    params: list[np.ndarray] = field(default_factory=list)  # each (M, 9) float32

    def append(self, snap: Any) -> None:
        """Add an engine ``Snapshot`` (float64 tensors holding float32 parameters)."""
        self.steps.append(int(snap.step))
        g, d = np.asarray(snap.g), np.asarray(snap.d)
        self.params.append(np.concatenate([g, d], axis=1).astype(np.float32))

    def truncate(self, upto: int) -> None:
        """Keep the snapshots at steps <= ``upto`` (after a checkpoint: what resume keeps)."""
        keep = [k for k, s in enumerate(self.steps) if s <= upto]
        self.steps = [self.steps[k] for k in keep]
        self.params = [self.params[k] for k in keep]

    def rows(self, i: int, spec: RunSpec, losses: bool = True) -> list[dict[str, Any]]:
        """Member i's metrics rows as a run's ``metrics.jsonl`` holds them (``rows_of``)."""
        return self.rows_of(np.stack([q[i] for q in self.params]), spec, losses) \
            if self.steps else []

    def rows_of(self, p: np.ndarray, spec: RunSpec, losses: bool = True) -> list[dict[str, Any]]:
        """Rows of one member's parameters ``p`` (S, P) float32 (a slice of ``array()``: a pass
        over a whole batch stacks it once): same keys and order as a run's rows
        (``Game.metrics_row``), parameters exact, losses to float64 rounding. ``losses`` False:
        parameters and distance only (the losses take the engine, and torch)."""
        if not self.steps:
            return []
        game = game_of(spec)
        ng = len(game.g_names)
        cols: list[list[float]] = []
        if losses:
            from ..engine.replay import stored_losses  # torch: only for the losses

            cols = stored_losses(spec, self.steps, p[:, :ng], p[:, ng:])
        target = game.target(spec)
        values = p.tolist()  # Python floats, as each row's .tolist() gave them
        return [game.metrics_row(step, v[:ng], v[ng:], [c[k] for c in cols], target)
                for k, (step, v) in enumerate(zip(self.steps, values))]

    def array(self) -> np.ndarray:
        """Every snapshot's parameters as one array (S, M, 9) float32 (S may be 0)."""
        m = len(self.ids)
        return np.stack(self.params) if self.params else np.zeros((0, m, 9), np.float32)

    def to_bytes(self, compress: bool = False) -> bytes:
        """npz of ids, step and the parameters (S, M, 9); ``compress``: the parameters packed
        losslessly by ``floatpack`` (a third smaller, about 40 ms per 256 members, so only
        for the final file)."""
        params = self.array()
        arrays = {"ids_z": _zipped(json.dumps(self.ids)), "step": np.array(self.steps, np.int64)}
        if compress:
            arrays.update({f"params_{k}": v for k, v in floatpack.pack(params, CURVE).items()})
        else:
            arrays["params"] = params
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()


def _text(value: str) -> np.ndarray:
    """A string as UTF-8 bytes (npz would store a str array at 4 bytes per character)."""
    return np.frombuffer(value.encode("utf-8"), dtype=np.uint8)


def _untext(arr: np.ndarray) -> str:
    return arr.tobytes().decode("utf-8")


def _zipped(value: str) -> np.ndarray:
    """A string as zlib of its UTF-8 (the ids ``fixed-s0000``, ... shrink eightfold)."""
    return np.frombuffer(zlib.compress(value.encode("utf-8"), 6), dtype=np.uint8)


def _unzipped(arr: np.ndarray) -> str:
    return _bounded(zlib.decompressobj(), arr.tobytes()).decode("utf-8")


def _bounded(inflater: Any, data: bytes) -> bytes:
    """``data`` inflated by ``inflater`` (zlib or bz2), refused past ``checks``' ratio: a
    payload that inflates a thousand times is a bomb, not what pointgan wrote."""
    limit = checks.SLACK + checks.MAX_RATIO * len(data)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValueError("a compressed payload inflates implausibly far")
    if not inflater.eof:
        raise ValueError("a compressed payload is truncated")
    return out


def _ids(z: _npz, key: str) -> list[str]:
    """The member ids under ``key_z`` (zlib of their JSON list)."""
    return json.loads(_unzipped(z[f"{key}_z"]))


def read_metrics(path: Path) -> BatchMetrics:
    with _npz(path) as z:
        ids = _ids(z, "ids")
        steps = [int(s) for s in z["step"]]
        params = floatpack.unpack(_packed(z), CURVE) if "params_low" in z.files else z["params"]
    checks.snapshots(path, steps, params, len(ids))
    return BatchMetrics(ids, steps, list(params))


def read_curves(path: Path) -> tuple[list[int], np.ndarray]:
    """(steps, the first ``CURVE`` parameters (S, M, 2) float32: w and b) of a batch's
    metrics: what the sweep's chart draws, without unpacking D's parameters."""
    with _npz(path) as z:
        if "params_low" in z.files:
            return checks.snapshots(path, [int(s) for s in z["step"]],
                                    floatpack.unpack(_packed(z), CURVE, True))
    metrics = read_metrics(path)
    return metrics.steps, metrics.array()[:, :, :CURVE]


def _packed(z: _npz) -> dict[str, np.ndarray]:
    keys = ["shape", "low", "head", "tail"]
    keys += [k for k in ("head_pieces", "tail_pieces") if f"params_{k}" in z.files]
    return {k: z[f"params_{k}"] for k in keys}


# -- states ------------------------------------------------------------------------------------


def state_to_bytes(stacked: dict, ids: list[str]) -> bytes:
    """Compressed npz of the stacked state: the ids (zlib of JSON) and, once finished, the
    members' summaries as columns (``jsoncols``; summaries of different shapes: bz2 of one
    JSON line each). An array equal to an earlier one bit for bit (``last_good`` of members
    that never diverged) is stored once and named in ``@same``. ``stacked["summaries"]``, once
    finished: the members' summary objects (JSON values only, as ``atomic.finite_json``
    gives)."""
    stacked = dict(stacked)
    arrays = {"@ids_z": _zipped(json.dumps(ids))}
    objs = stacked.pop("summaries", None)
    if objs is not None:
        parts = jsoncols.encode(objs)
        if parts is not None:
            arrays.update({f"@summaries_{k}": _raw(v) for k, v in parts.items()})
        else:  # summaries of different shapes: one JSON line each
            lines = "\n".join(json.dumps(s, allow_nan=False) for s in objs)
            arrays["@summaries_bz2"] = _raw(bz2.compress(lines.encode("utf-8"), 9))
    flat: dict[str, np.ndarray] = {}
    same: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, arr in _flatten(stacked).items():
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.ndim else None
        if key is not None and key in seen:
            same[name] = seen[key]
        else:
            flat[name] = arr
            if key is not None:
                seen[key] = name
    if same:
        arrays["@same"] = _text(json.dumps(same))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, **flat)  # type: ignore[arg-type]
    return buf.getvalue()


def read_state(path: Path) -> tuple[list[str], dict]:
    """(member ids, stacked state) of a batch: tensors with a leading member axis, 0-d values
    as Python scalars, the summaries (when finished) as ``Summaries``, read member by member;
    ``unstack_state`` gives one member's checkpoint dict."""
    with _npz(path) as z:
        ids = _ids(z, "@ids")
        state: dict = {}
        summaries = _summaries(z)
        if summaries is not None:
            state["summaries"] = summaries
        arrays = {name: z[name] for name in z.files if not name.startswith("@")}
        if "@same" in z.files:
            for name, source in json.loads(_untext(z["@same"])).items():
                if source not in arrays:
                    raise UsageError(f"{path} is corrupt (no {source})")
                arrays[name] = arrays[source]
        for name, arr in arrays.items():
            value = arr.copy() if arr.ndim else arr.item()
            node = state
            *parents, leaf = name.split("/")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return ids, state


class Summaries:
    """A finished batch's member summaries, each read a new dict (callers may change theirs):
    kept as columns (``jsoncols``) or, when their shapes differ, as one JSON text each."""

    def __init__(self, texts: list[str] | None = None,
                 columns: tuple[list, list[list]] | None = None):
        self._texts, self._columns = texts, columns

    def _cols(self) -> tuple[list, list[list]]:
        assert self._columns is not None  # one of the two is always given
        return self._columns

    def __len__(self) -> int:
        return len(self._texts) if self._texts is not None else len(self._cols()[1][0])

    def get(self, i: int) -> dict[str, Any]:
        """Member i's ``summary.json`` document."""
        if self._texts is not None:
            return json.loads(self._texts[i])
        paths, cols = self._cols()
        return jsoncols.build(paths, cols, range(i, i + 1))[0]

    def all(self) -> list[dict[str, Any]]:
        if self._texts is not None:
            return [json.loads(t) for t in self._texts]
        return jsoncols.build(*self._cols())


def _summaries(z: _npz) -> Summaries | None:
    """The members' summaries (None: not finished)."""
    if "@summaries_head" in z.files:
        parts = {k: z[f"@summaries_{k}"].tobytes() for k in ("head", "f", "i", "j")}
        return Summaries(columns=jsoncols.columns(parts))
    if "@summaries_bz2" in z.files:
        return Summaries(texts=_unbz2(z["@summaries_bz2"]).split("\n"))
    return None


def read_summaries(path: Path) -> Summaries | None:
    """The members' summaries (as each member's ``summary.json``), or None while the batch has
    not finished. Read once, they give any member's summary without parsing the others' (a
    report that parsed the whole batch for each member took O(members x batch size))."""
    with _npz(path) as z:
        return _summaries(z)


def read_ids(path: Path) -> list[str]:
    with _npz(path) as z:
        return _ids(z, "@ids")


def read_progress(path: Path) -> tuple[list[str], int, bool]:
    """(member ids, step, finished) of a batch state file."""
    with _npz(path) as z:
        finished = any(f"@summaries_{k}" in z.files for k in ("head", "bz2"))
        step = z["step"]
        if step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
            raise checks.bad(path, "step is not a step count")
        return _ids(z, "@ids"), int(step), finished


def _raw(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def _unbz2(arr: np.ndarray) -> str:
    return _bounded(bz2.BZ2Decompressor(), arr.tobytes()).decode("utf-8")


def write_batch(sweep: Path, bid: str, metrics: BatchMetrics, stacked: dict) -> None:
    """The batch's metrics, then its state: each atomically, one fsync per file (the final
    write, with the summaries, compresses the metrics)."""
    final = "summaries" in stacked
    atomic.atomic_write_bytes(metrics_path(sweep, bid), metrics.to_bytes(compress=final))
    atomic.atomic_write_bytes(state_path(sweep, bid), state_to_bytes(stacked, metrics.ids))


class _npz:
    """An npz read without pickles, each array's header checked before it is allocated and
    no member inflating implausibly (``checks``): a FIFO, a zip bomb or a header claiming a
    huge array is one UsageError line, as is any unreadable file."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self):
        sizes = checks.zip_sizes(self.path)
        try:
            self._z = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise UsageError(f"cannot read {self.path}: {type(exc).__name__}") from None
        self._names = {n[:-4]: n for n in sizes if n.endswith(".npy")}
        return self

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return checks.npy_array(self.path, self._z, self._names[key])
        except UsageError:
            raise
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile,
                zlib.error) as exc:
            raise UsageError(f"{self.path} is corrupt ({type(exc).__name__})") from None

    @property
    def files(self) -> list[str]:
        return list(self._names)

    def __exit__(self, typ: type[BaseException] | None, *exc: object) -> None:
        self._z.close()
        if typ is not None and issubclass(typ, _CORRUPT) and not issubclass(typ, UsageError):
            raise UsageError(f"{self.path} is corrupt ({typ.__name__})") from None


#: What unpacking a damaged file raises (bad zlib/bz2 data, sizes that do not fit, bad JSON).
_CORRUPT = (zlib.error, OSError, EOFError, ValueError, KeyError, IndexError, TypeError,
            zipfile.BadZipFile, RecursionError)
