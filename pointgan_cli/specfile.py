"""Reading a ``--config`` file: the bytes, the format and the one-line errors, before the spec
checks its fields (``spec.read_config``).

Why its own module: what a user may hand ``--config`` (JSON, TOML, or by mistake YAML or a
folder) is a file-format question the spec's fields need not know about, and each mistake
gets a line that says what to give instead. A run directory or ``SWEEP/members/ID`` is read
by the CLI (``memberpath.stored_spec``) before it gets here.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from .errors import UsageError, cap, short

MAX_CONFIG_BYTES = 1_000_000  # a config file is a few hundred bytes of spec fields


def read_fields(path: Path) -> tuple[dict[str, Any], str]:
    """A JSON or TOML config file (a run's spec file too: its ``spec`` object) as a dict,
    and the path as messages quote it; every failure one line."""
    where, kinds = short(str(path)), "a JSON or TOML file of spec fields"
    if path.is_dir():  # a run directory or a sweep's member: the CLI reads its stored spec
        raise UsageError(f"--config: {where} is a folder; give {kinds} (train and spec show "
                         "also take a run directory or SWEEP/members/ID)")
    if path.suffix.lower() in (".yaml", ".yml"):
        raise UsageError(f"--config: {where} is YAML; give {kinds} "
                         "('pointgan spec show' prints one as JSON)")
    if not path.is_file():
        raise UsageError(f"--config: file not found: {where}")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--config: cannot read {where}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(f"--config: {where} is larger than {MAX_CONFIG_BYTES} bytes; a config "
                         "file holds a few spec fields")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--config: {where} is not UTF-8 text") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, tomllib.TOMLDecodeError) as exc:  # JSONDecodeError is a ValueError
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON (read as such: not .toml)"
        raise UsageError(f"--config: cannot parse {where} as {kind}: {cap(str(exc), 120)}"
                         ) from None
    except RecursionError:
        raise UsageError(f"--config: cannot parse {where}: nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("spec"), dict):
        data = data["spec"]  # accept a run's spec.json as a config file
    if not isinstance(data, dict):
        raise UsageError(f"--config: {where} must hold a table/object of spec fields")
    return data, where


def _no_constant(name: str) -> Any:
    """JSON has no NaN or Infinity: refuse them in config files."""
    raise ValueError(f"{name} is not a JSON number (only finite numbers are allowed)")


def _finite_float(text: str) -> float:
    """A JSON number as a float; one too large for a float (``1e400``) is refused, not read as
    infinity."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{cap(text, 40)} is too large for a number")
    return value
