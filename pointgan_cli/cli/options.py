"""Options shared by several commands, defined once (typer ``Annotated`` aliases).

Every RunSpec field gets a flag through ``with_spec_flags``; defaults are ``None`` so that only
flags the user actually typed override the preset and config file (``spec.resolve_spec`` does
the layering), and the help says the spec's default in words. Help texts come from the field
descriptions in ``spec``; choices (presets, studies, devices, Literal fields) complete on TAB.
Help strings are plain text: ``cli.helpfmt`` escapes them for Rich.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, get_args, get_origin

import typer

from ..spec import PRESETS, SPEC_FIELDS, RunSpec, flag_name

SPEC_PANEL = "Run spec"

#: Devices offered on TAB (any cuda:N is accepted).
DEVICES = ("cpu", "cuda", "cuda:0", "cuda:1")


def starting(choices: Any, incomplete: str) -> list[str]:
    """The choices that start with what was typed (the completion protocol's filter)."""
    return [c for c in choices if c.startswith(incomplete)]


def complete_preset(incomplete: str) -> list[str]:
    return starting(PRESETS, incomplete)


def choices(field: str) -> tuple[str, ...]:
    """The allowed values of a spec field, where the spec names them (Literal, device)."""
    if field == "device":
        return DEVICES
    ann = RunSpec.model_fields[field].annotation
    return tuple(str(a) for a in get_args(ann)) if get_origin(ann) is Literal else ()


def _help(field: str) -> str:
    info = RunSpec.model_fields[field]
    return f"{info.description} [default: {info.default}]"


#: What a spec flag's value looks like where it is not one of a fixed list (``choices``).
METAVARS = {"device": "<cpu|cuda|cuda:N>", "init": "<THETA,PSI|seed>"}


def metavar(values: tuple[str, ...] | list[str], long: str = "<choice>") -> str:
    """``<a|b|c>``: how help shows an option that takes one of fixed values; ``long`` where
    that would not fit the type column (18 characters; the help text then names each value)."""
    shown = "<" + "|".join(values) + ">"
    return shown if len(shown) <= 18 else long


def _opt(field: str, **kw: Any) -> Any:
    flag = flag_name(field)
    values = choices(field)
    if values:
        kw["autocompletion"] = lambda incomplete: starting(values, incomplete)
        kw["metavar"] = METAVARS.get(field) or metavar(values)
    elif field in METAVARS:
        kw["metavar"] = METAVARS[field]
    return typer.Option(flag, help=_help(field), rich_help_panel=SPEC_PANEL, **kw)


#: The one list of presets every help text shows (``resolve_spec``'s errors name the same).
PRESET_NAMES = ", ".join(PRESETS)
PRESET_HELP = f"Study configuration: {PRESET_NAMES}. [default: baseline]"
Preset = Annotated[
    Optional[str],
    typer.Option("--preset", help=PRESET_HELP, rich_help_panel=SPEC_PANEL, metavar="<preset>",
                 autocompletion=complete_preset, show_default=False),
]
Config = Annotated[
    Optional[Path],
    typer.Option("--config", help="JSON or TOML file of spec fields (a run's spec.json works "
                 "too; train and spec show also take a run directory or SWEEP/members/ID).",
                 rich_help_panel=SPEC_PANEL),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q",
                                      help="No progress and no table: print only the path.")]


class TableFormat(StrEnum):
    """How a result table prints on stdout (``console.print_table``)."""

    table = "table"
    tsv = "tsv"
    csv = "csv"


Format = Annotated[
    TableFormat,
    typer.Option("--format", help="Result table on stdout: table (aligned text; boxes on a "
                 "terminal), or tsv/csv for programs: one header line, one table, raw numbers "
                 "at full precision (counts, rates and interval ends in columns of their own)."),
]
Force = Annotated[bool, typer.Option(
    "--force", help="Replace --out when it holds only what pointgan wrote (a run or sweep "
    "directory); anything else, ., its parents, ~, / or a symlink is refused.")]
Resume = Annotated[
    bool, typer.Option("--resume", help="Continue --out from its last complete checkpoint.")
]

#: The RunSpec fields that get a flag of their own (``preset`` has ``--preset``).
SPEC_PARAMS = tuple(f for f in SPEC_FIELDS if f != "preset")


def _spec_annotation(field: str) -> Any:
    """``Optional[T]`` with a typer Option for the spec field (Literal fields take a string and
    are checked, with the flag's name, by ``resolve_spec``)."""
    ann = RunSpec.model_fields[field].annotation
    kind = ann if ann in (int, float) else str
    return Annotated[Optional[kind], _opt(field)]


def with_spec_flags(
    fn: Callable[..., Any] | None = None, *, exclude: tuple[str, ...] = ()
) -> Any:
    """Give a command one flag per RunSpec field (all defaulting to None) and pass the ones
    the user typed as ``spec_flags``: the flags are defined once, here, for every command.
    ``exclude`` leaves out fields the command refuses (sweep takes ``--seeds``, not ``--seed``),
    so its help lists only flags it accepts."""
    if fn is None:
        return functools.partial(with_spec_flags, exclude=exclude)
    fields = [f for f in SPEC_PARAMS if f not in exclude]
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "spec_flags"]
    added = [
        inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=_spec_annotation(f))
        for f in fields
    ]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {f: kwargs.pop(f, None) for f in fields}
        given = {f: v for f, v in flags.items() if v is not None}
        return fn(*args, spec_flags=given, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=own + added)  # type: ignore[attr-defined]
    return wrapper


class TrackerName(StrEnum):
    """Experiment trackers a finished run or sweep can be logged to (see ``trackers``)."""

    none = "none"
    mlflow = "mlflow"
    wandb = "wandb"


TRACKER_PANEL = "Experiment tracking"
Tracker = Annotated[
    TrackerName,
    typer.Option(
        "--tracker",
        help="After training, log the finished directory to this tracker (mlflow: "
        "sqlite:///mlflow.db in the working directory; wandb: offline unless WANDB_MODE or "
        "WANDB_API_KEY is set).",
        rich_help_panel=TRACKER_PANEL,
    ),
]
TrackingUri = Annotated[
    Optional[str],
    typer.Option(
        "--tracking-uri", metavar="<uri>",
        help="MLflow tracking URI or directory [default: $MLFLOW_TRACKING_URI or "
        "sqlite:///mlflow.db]; for wandb, the W&B server URL.",
        rich_help_panel=TRACKER_PANEL,
    ),
]
