"""Options shared by several commands, defined once (typer ``Annotated`` aliases).

Every RunSpec field gets a flag through ``with_spec_flags``; defaults are ``None`` so that only
flags the user actually typed override the preset and config file (``spec.resolve_spec`` does
the layering). Help texts come from the field descriptions in ``spec``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..spec import SPEC_FIELDS, RunSpec, flag_name

SPEC_PANEL = "Run spec"


def _help(field: str) -> str:
    info = RunSpec.model_fields[field]
    return f"{info.description} [default: {info.default}]"


def _opt(field: str, **kw: Any) -> Any:
    flag = flag_name(field)
    return typer.Option(flag, help=_help(field), rich_help_panel=SPEC_PANEL, **kw)


Preset = Annotated[
    Optional[str],
    typer.Option(
        "--preset",
        help="Study configuration: baseline, easing, weighted, weight-decay, noise, fixed.",
        rich_help_panel=SPEC_PANEL,
    ),
]
Config = Annotated[
    Optional[Path],
    typer.Option("--config", help="JSON or TOML file of spec fields (a run's spec.json works too).",
                 rich_help_panel=SPEC_PANEL),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")]
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


def with_spec_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command one flag per RunSpec field (all defaulting to None) and pass the ones
    the user typed as ``spec_flags``: the flags are defined once, here, for every command."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "spec_flags"]
    added = [
        inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=_spec_annotation(f))
        for f in SPEC_PARAMS
    ]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {f: kwargs.pop(f, None) for f in SPEC_PARAMS}
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
        "--tracking-uri",
        help="MLflow tracking URI or directory [default: $MLFLOW_TRACKING_URI or "
        "sqlite:///mlflow.db]; for wandb, the W&B server URL.",
        rich_help_panel=TRACKER_PANEL,
    ),
]
