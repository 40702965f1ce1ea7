"""A sweep's member list as its index file stores it: every distinct resolved spec once.

Why: the index listed each member's whole resolved spec, about 1,090 bytes per member (1.1 MB
for 1,024 seeds of one preset, a fifth of that sweep's disk), although the members of a
statistics group differ only in their seed. Schema 2 keeps each group's spec once and, per
member, only the fields that differ from it::

    "groups":  ["fixed", ...]                       group names, in sweep order
    "bases":   [{resolved spec}, ...]               each distinct group spec, once
    "members": [["fixed-s0000", 0, 0, {"seed": 0}], ...]
               [id, group index, base index, the fields that differ from that base]
               base index null: the last item is the member's whole spec

Decoding gives every member's spec back exactly: the same keys in the same order, the same
values with the same JSON types (1 and 1.0, 0.0 and -0.0 are told apart). Schema 1 (older
sweeps) lists ``{"id", "group", "spec"}`` per member and is read as before. Only ``sweepdir``
reads and writes the file; this module only turns member lists into JSON values and back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Member = tuple[str, str, dict[str, Any]]  # (id, group, resolved spec as JSON)
_SCALARS = (str, int, bool, type(None))


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are written as the same JSON text (types included)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, _SCALARS):
        return a == b
    if isinstance(a, float):
        return repr(a) == repr(b)
    return json.dumps(a) == json.dumps(b)


def _copy(value: Any) -> Any:
    """A base's value for one member (lists and dicts copied: members never share them)."""
    return copy.deepcopy(value) if isinstance(value, (list, dict)) else value


def encode(members: list[Member]) -> dict[str, Any]:
    """{"groups", "bases", "members"} of schema 2 for ``members`` (their order kept)."""
    groups: dict[str, int] = {}
    bases: list[dict[str, Any]] = []
    known: dict[str, int] = {}  # a base's JSON text -> its index
    base_of: dict[str, int] = {}  # group -> the base its members are written against
    rows: list[list[Any]] = []
    for mid, group, spec in members:
        gi = groups.setdefault(group, len(groups))
        bi = base_of.get(group)
        if bi is None:
            bi = known.setdefault(json.dumps(spec), len(bases))
            if bi == len(bases):
                bases.append(spec)
            base_of[group] = bi
        base = bases[bi]
        if list(spec) != list(base):  # other fields or another order: written whole
            rows.append([mid, gi, None, spec])
        else:
            rows.append([mid, gi, bi, {k: v for k, v in spec.items() if not _same(v, base[k])}])
    return {"groups": list(groups), "bases": bases, "members": rows}


def decode(doc: dict[str, Any]) -> list[Member]:
    """The members of an index document of either schema. Malformed: KeyError, TypeError,
    ValueError or IndexError (the caller reports the file as corrupt)."""
    if "bases" not in doc:  # schema 1
        return [(str(m["id"]), str(m.get("group") or m["id"]), dict(m.get("spec") or {}))
                for m in doc["members"]]
    groups, bases = list(doc["groups"]), list(doc["bases"])
    out: list[Member] = []
    for row in doc["members"]:
        mid, gi, bi, fields = row
        if not isinstance(fields, dict) or type(gi) is not int or gi < 0:
            raise ValueError("malformed member row")
        if bi is None:
            spec = dict(fields)
        else:
            if type(bi) is not int or bi < 0:
                raise ValueError("malformed base index")
            base = bases[bi]
            spec = {k: fields[k] if k in fields else _copy(base[k]) for k in base}
            spec.update((k, v) for k, v in fields.items() if k not in base)
        out.append((str(mid), str(groups[gi]), spec))
    return out
