"""What a user types for a sweep's members: ``--seeds`` (lists and ranges of seeds) and
``--grid`` (lists of values, or ranges ``START:STOP:N`` evenly spaced and ``START:STOP:N:log``).

Every error names the flag the user typed, so the CLI prints one line and creates nothing.

A stability map wants an axis of many values; typing 11 log-spaced weight decays by hand is
error-prone and prints badly (0.00031622776601683794). A range's inner values are rounded to
``RANGE_DIGITS`` significant digits, and that rounded value is the one trained, recorded in
``sweep.json`` and printed in member ids and labels, so they all agree. ``format_range`` turns
a list back into the range text that reproduces it exactly (for the recorded command).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import UsageError, short
from ..spec import SPEC_FIELDS, RunSpec

#: Significant digits of a range's inner values: 1e-4:1:9:log gives 0.000316228, not
#: 0.00031622776601683794, in member ids, labels and sweep.json (the value trained is the
#: rounded one, so everything that prints it agrees). The ends are kept as typed.
RANGE_DIGITS = 6
#: Seeds of one sweep, counted before any list is built (``--seeds 0-10000000`` used to fill
#: memory).
MAX_SEEDS = 1_000_000


def parse_range(field: str, text: str) -> list[Any]:
    """``START:STOP:N`` or ``START:STOP:N:log`` for a numeric spec field -> N values."""
    parts = [p.strip() for p in text.split(":")]
    where = f"--grid: {field}={text}"
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "log"):
        raise UsageError(f"{where} is not START:STOP:N or START:STOP:N:log")
    annotation = RunSpec.model_fields[field].annotation
    if annotation not in (int, float):
        raise UsageError(f"{where}: a range needs a numeric field ({field} is not)")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"{where}: START and STOP must be numbers") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise UsageError(f"{where}: START and STOP must be finite")
    if not re.fullmatch(r"\d+", parts[2]):
        raise UsageError(f"{where}: N must be a whole number of points")
    n = int(parts[2])
    if n < 2:
        raise UsageError(f"{where}: N must be at least 2 (got {n})")
    if n > 10_000:
        raise UsageError(f"{where}: N must be at most 10000 (got {n})")
    log = len(parts) == 4
    if log and (start <= 0 or stop <= 0):
        raise UsageError(f"{where}: a log range needs START and STOP above 0")
    integer = annotation is int
    if integer and any(abs(v - round(v)) > 1e-9 for v in (start, stop)):
        raise UsageError(f"{where}: {field} takes integers; START and STOP must be whole")
    values = range_values(start, stop, n, log, integer)
    if len(set(values)) != n:
        raise UsageError(f"{where}: the {n} values are not distinct "
                         f"({', '.join(map(str, values))})")
    return values


def range_values(start: float, stop: float, n: int, log: bool, integer: bool) -> list[Any]:
    """N values from START to STOP (both included), evenly spaced in value or in log10; inner
    values rounded to ``RANGE_DIGITS`` significant digits, or to integers."""
    if log:
        a, b = math.log10(start), math.log10(stop)
        inner = [10 ** (a + (b - a) * i / (n - 1)) for i in range(1, n - 1)]
    else:
        inner = [start + (stop - start) * i / (n - 1) for i in range(1, n - 1)]
    values: list[Any] = [start, *(float(f"{v:.{RANGE_DIGITS}g}") for v in inner), stop]
    return [int(round(v)) for v in values] if integer else values


def format_range(values: list[Any]) -> str | None:
    """The ``START:STOP:N[:log]`` text that ``parse_range`` turns into exactly ``values``, or
    None when they are not such a range (then they print as a list)."""
    if len(values) < 3 or not all(type(v) in (int, float) for v in values):
        return None
    integer = all(type(v) is int for v in values)
    if not integer and not all(type(v) is float for v in values):
        return None
    start, stop, n = values[0], values[-1], len(values)
    for log in (False, True):
        if log and (start <= 0 or stop <= 0):
            continue
        if range_values(float(start), float(stop), n, log, integer) == values:
            return f"{start!r}:{stop!r}:{n}" + (":log" if log else "")
    return None


def parse_seeds(text: str) -> list[int]:
    """``0-99``, ``0,3,7``, ``0-9,20-29`` -> sorted unique seeds (ASCII digits only; at most
    ``MAX_SEEDS``, counted before any list is built)."""
    ranges: list[tuple[int, int]] = []
    if not text.strip():
        raise UsageError("--seeds: empty list")
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part)
        if not m:
            raise UsageError(f"--seeds: {short(part)} is not a seed or a range like 0-99")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UsageError(f"--seeds: range {short(part)} is empty (end before start)")
        if hi >= 2**32:
            raise UsageError(f"--seeds: {short(hi)} is too large (seeds are below 2^32)")
        ranges.append((lo, hi))
    if sum(hi - lo + 1 for lo, hi in ranges) > MAX_SEEDS:
        raise UsageError(f"--seeds: more than {MAX_SEEDS} seeds; split the sweep")
    seeds: set[int] = set()
    for lo, hi in ranges:
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def format_seeds(seeds: list[int]) -> str:
    """Sorted seeds as compact ranges: [0, 1, 2, 5] -> '0-2,5'."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append(str(seeds[i]) if i == j else f"{seeds[i]}-{seeds[j]}")
        i = j + 1
    return ",".join(parts)


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["lr_d=0.01,0.003", "noise_scale=0:2:5", "weight_decay=1e-4:1:5:log"]`` ->
    {field: [values]}: a list, or ``START:STOP:N`` (N evenly spaced values, both ends included)
    or ``START:STOP:N:log`` (N values evenly spaced in log). Values are checked against the
    spec's types here and against its bounds when the members are resolved."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        field, sep, values = item.partition("=")
        field = field.strip().replace("-", "_")
        if not sep or not field:
            raise UsageError(f"--grid: {short(item)} is not FIELD=V1,V2,... or "
                             "FIELD=START:STOP:N")
        if field == "seed":
            raise UsageError("--grid: seed is not a grid field; give the seeds with --seeds")
        if field not in SPEC_FIELDS or field == "preset":
            hint = " (use --preset for presets)" if field == "preset" else ""
            raise UsageError(f"--grid: unknown spec field {short(field)}{hint}")
        if field in grid:
            raise UsageError(f"--grid: {short(field)} given twice")
        if ":" in values:
            grid[field] = parse_range(field, values.strip())
            continue
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise UsageError(f"--grid: {field}= has an empty list of values")
        grid[field] = [_parse_value(field, v) for v in vals]
        if len(set(grid[field])) != len(grid[field]):
            raise UsageError(f"--grid: {field}={values} lists a value twice")
    return grid


def _parse_value(field: str, text: str) -> Any:
    annotation = RunSpec.model_fields[field].annotation
    kind = "an integer" if annotation is int else "a finite number"
    try:
        if annotation is int:
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise ValueError
            return int(text)
        if annotation is float:
            if not text.isascii() or not math.isfinite(value := float(text)):
                raise ValueError
            return value
    except ValueError:
        raise UsageError(f"--grid: {field}={short(text)} is not {kind}") from None
    return text
