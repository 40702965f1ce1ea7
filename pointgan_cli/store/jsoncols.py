"""A list of JSON objects of one shape stored as columns: a sweep batch's member summaries.

Why: a finished batch keeps every member's ``summary.json`` document. As text they repeat
their keys and write each float as up to 20 digits; zlib of the JSON list took 157 bytes per
member and bz2 of one line per member 121. As columns (every float field one float64 array,
every int field one int64 array, everything else, e.g. the verdict's sentence, one JSON list
per field) zlib takes 80 bytes per member (256 ``fixed`` members, 1,500 steps).

``encode`` returns None unless every object has the same fields in the same order (nested
objects included) and decoding gives back exactly the JSON text of each object; the caller
then stores the objects another way. ``decode`` gives each object's JSON text
(``json.dumps`` of it), in order.
"""

from __future__ import annotations

import copy
import json
import math
import zlib
from typing import Any

import numpy as np

Path_ = tuple[str, ...]  # the keys leading to one field
_INT64 = (-(2**63), 2**63 - 1)


def encode(objs: list[dict[str, Any]]) -> dict[str, bytes] | None:
    """{"head", "f", "i", "j"}: the field paths and kinds (JSON), the float columns (zlib of
    float64 (F, N)), the int columns (zlib of int64 (I, N)) and the other columns (zlib of a
    JSON list of lists); None when the objects cannot be stored this way exactly. The number
    columns use zlib level 6: level 9 took 8x as long on 16,384 summaries (1.25 s against
    0.16 s) for 1% fewer bytes; the text column keeps level 9 (0.05 s, 7% fewer bytes)."""
    if not objs or not all(isinstance(o, dict) and o for o in objs):
        return None
    found = _columns_of(objs)
    if found is None:
        return None
    paths, cols = found
    kinds = "".join(_kind(col) for col in cols)
    floats = np.array([c for c, k in zip(cols, kinds) if k == "f"], dtype=np.float64)
    ints = np.array([c for c, k in zip(cols, kinds) if k == "i"], dtype=np.int64)
    other = [c for c, k in zip(cols, kinds) if k == "j"]
    out = {"head": json.dumps({"paths": paths, "kinds": kinds}).encode("utf-8"),
           "f": zlib.compress(floats.tobytes(), 6), "i": zlib.compress(ints.tobytes(), 6),
           "j": zlib.compress(json.dumps(other, allow_nan=False).encode("utf-8"), 9)}
    # Decoding must give back exactly these values. The number columns do by construction
    # when finite (float64 and int64 hold Python's floats and int64 ints exactly); a JSON
    # column does when its values are JSON's own types (str, int, bool, None, finite float,
    # lists and objects of them): then checking the types is enough. Otherwise decode and
    # compare, value for value (JSON keeps each value's type, so equal columns give equal texts).
    if np.isfinite(floats).all() and all(_plain(v) for col in other for v in col):
        return out
    return out if columns(out)[1] == cols else None


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Whether JSON text gives back exactly ``value`` (same types, same text when dumped)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _columns_of(objs: list[dict[str, Any]]) -> tuple[list[Path_], list[list[Any]]] | None:
    """(paths, columns): the path of every leaf of ``objs[0]`` (a field that is not a
    non-empty object), depth first in key order, and each leaf's column of values over all the
    objects; None unless every object has the same fields in the same order at every level
    (checked node by node, column by column: a few times faster than walking each object)."""
    nodes: list[tuple[Path_, list[str]]] = []  # every non-empty object and its keys, in order
    paths: list[Path_] = []

    def walk(obj: Any, path: Path_) -> None:
        if isinstance(obj, dict) and obj:
            nodes.append((path, list(obj)))
            for key, value in obj.items():
                walk(value, (*path, key))
        else:
            paths.append(path)

    walk(objs[0], ())
    for path, keys in nodes:
        for node in _column(objs, path):
            if not isinstance(node, dict) or list(node) != keys:
                return None
    cols = [_column(objs, path) for path in paths]
    for col in cols:
        if any(isinstance(v, dict) and v for v in col):  # an object where objs[0] has a leaf
            return None
    return paths, cols


def _column(objs: list[dict[str, Any]], path: Path_) -> list[Any]:
    """The value at ``path`` of every object (each object's nodes on the path checked first)."""
    if not path:
        return list(objs)
    if len(path) == 1:
        (a,) = path
        return [o[a] for o in objs]
    if len(path) == 2:
        a, b = path
        return [o[a][b] for o in objs]
    out = []
    for o in objs:
        for key in path:
            o = o[key]
        out.append(o)
    return out


def _kind(col: list[Any]) -> str:
    """"f": every value a float; "i": every value an int (not a bool) within int64; "j": else."""
    if all(type(v) is float for v in col):
        return "f"
    if all(type(v) is int and _INT64[0] <= v <= _INT64[1] for v in col):
        return "i"
    return "j"


def decode(parts: dict[str, bytes]) -> list[str]:
    """Each object's JSON text, from ``encode``'s parts."""
    return [json.dumps(o) for o in build(*columns(parts))]


#: A column may inflate to at most this many times its compressed size (plus 16 MiB): the
#: summaries' columns compress a few times, a crafted zlib bomb a thousand times.
MAX_RATIO = 200


def _inflate(data: bytes) -> bytes:
    """``zlib.decompress``, refused past ``MAX_RATIO`` (ValueError, as for any damage)."""
    limit = (16 << 20) + MAX_RATIO * len(data)
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError("summary columns: a column inflates implausibly far")
    if not inflater.eof:
        raise ValueError("summary columns: a column is truncated")
    return out


def columns(parts: dict[str, bytes]) -> tuple[list[Path_], list[list[Any]]]:
    """(field paths, one column of values per path) from ``encode``'s parts. ValueError,
    KeyError, TypeError or zlib.error when they do not fit together."""
    head = json.loads(parts["head"].decode("utf-8"))
    paths = [tuple(p) for p in head["paths"]]
    kinds = str(head["kinds"])
    if len(kinds) != len(paths) or not paths:
        raise ValueError("summary columns: kinds and paths differ in length")
    floats = np.frombuffer(_inflate(parts["f"]), dtype=np.float64)
    ints = np.frombuffer(_inflate(parts["i"]), dtype=np.int64)
    other = json.loads(_inflate(parts["j"]).decode("utf-8"))
    nf, ni = kinds.count("f"), kinds.count("i")
    n = len(other[0]) if other else (floats.size // nf if nf else ints.size // max(ni, 1))
    if (floats.size != nf * n or ints.size != ni * n or len(other) != len(kinds) - nf - ni
            or any(len(c) != n for c in other)):
        raise ValueError("summary columns of different lengths")
    fcols, icols = iter(floats.reshape(nf, n).tolist()), iter(ints.reshape(ni, n).tolist())
    ocols = iter(other)
    return paths, [next(fcols) if k == "f" else next(icols) if k == "i" else next(ocols)
                   for k in kinds]


def build(paths: list[Path_], cols: list[list[Any]], rows: range | None = None
          ) -> list[dict[str, Any]]:
    """The objects (``rows`` of them: all by default) as new dicts, fields in their order.
    A value that is a list or an object is copied, so no two results share one."""
    rows = range(len(cols[0])) if rows is None else rows
    objs: list[dict[str, Any]] = [{} for _ in rows]
    for path, col in zip(paths, cols):
        *parents, leaf = path
        for obj, r in zip(objs, rows):
            node = obj
            for key in parents:
                node = node.setdefault(key, {})
            value = col[r]
            node[leaf] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value
    return objs
