"""Grid axes as ranges: ``START:STOP:N`` (evenly spaced) and ``START:STOP:N:log``.

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

from ..errors import UsageError
from ..spec import RunSpec

#: Significant digits of a range's inner values: 1e-4:1:9:log gives 0.000316228, not
#: 0.00031622776601683794, in member ids, labels and sweep.json (the value trained is the
#: rounded one, so everything that prints it agrees). The ends are kept as typed.
RANGE_DIGITS = 6


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
