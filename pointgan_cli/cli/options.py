"""Options shared by several commands, defined once (typer ``Annotated`` aliases).

Every RunSpec field has a flag here; defaults are ``None`` so that only flags the user actually
typed override the preset and config file (``spec.resolve_spec`` does the layering).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..spec import RunSpec

SPEC_PANEL = "Run spec"


def _help(field: str) -> str:
    info = RunSpec.model_fields[field]
    return f"{info.description} [default: {info.default}]"


def _opt(field: str, **kw: Any) -> Any:
    flag = "--" + field.replace("_", "-")
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
Seed = Annotated[Optional[int], _opt("seed")]
Steps = Annotated[Optional[int], _opt("steps")]
BatchSize = Annotated[Optional[int], _opt("batch_size")]
LrG = Annotated[Optional[float], _opt("lr_g")]
LrD = Annotated[Optional[float], _opt("lr_d")]
Beta1 = Annotated[Optional[float], _opt("beta1")]
Beta2 = Annotated[Optional[float], _opt("beta2")]
AdamEps = Annotated[Optional[float], _opt("adam_eps")]
RealValue = Annotated[Optional[float], _opt("real_value")]
LabelEasing = Annotated[Optional[float], _opt("label_easing")]
FakeWeight = Annotated[Optional[float], _opt("fake_weight")]
WeightDecay = Annotated[Optional[float], _opt("weight_decay")]
WeightDecayMode = Annotated[Optional[str], _opt("weight_decay_mode")]
NoiseScale = Annotated[Optional[float], _opt("noise_scale")]
InnerBatch = Annotated[Optional[int], _opt("inner_batch")]
SnapshotEvery = Annotated[Optional[int], _opt("snapshot_every")]
CheckpointEvery = Annotated[Optional[int], _opt("checkpoint_every")]
Tolerance = Annotated[Optional[float], _opt("tolerance")]
Device = Annotated[Optional[str], _opt("device")]
Loss = Annotated[Optional[str], _opt("loss")]
GLoss = Annotated[Optional[str], _opt("g_loss")]
GpWeight = Annotated[Optional[float], _opt("gp_weight")]
InstanceNoise = Annotated[Optional[float], _opt("instance_noise")]
R1 = Annotated[Optional[float], _opt("r1")]
R2 = Annotated[Optional[float], _opt("r2")]
DSteps = Annotated[Optional[int], _opt("d_steps")]
Update = Annotated[Optional[str], _opt("update")]
Optimizer = Annotated[Optional[str], _opt("optimizer")]
Momentum = Annotated[Optional[float], _opt("momentum")]

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing non-empty --out.")]
Resume = Annotated[
    bool, typer.Option("--resume", help="Continue --out from its last complete checkpoint.")
]

#: Names of the spec-flag parameters, in the order commands declare them.
SPEC_PARAMS = (
    "seed", "steps", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "adam_eps", "real_value",
    "label_easing", "fake_weight", "weight_decay", "weight_decay_mode", "noise_scale",
    "inner_batch", "snapshot_every", "checkpoint_every", "tolerance", "device", "loss",
    "g_loss", "gp_weight", "instance_noise", "r1", "r2", "d_steps", "update", "optimizer",
    "momentum",
)


def overrides_from(values: dict[str, Any]) -> dict[str, Any]:
    """The spec flags the user gave, from a command's ``locals()``."""
    return {k: values[k] for k in SPEC_PARAMS if values.get(k) is not None}


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
        help="After training, log the finished directory to this tracker (mlflow: ./mlruns "
        "file store; wandb: offline unless WANDB_MODE or WANDB_API_KEY is set).",
        rich_help_panel=TRACKER_PANEL,
    ),
]
TrackingUri = Annotated[
    Optional[str],
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI or directory [default: $MLFLOW_TRACKING_URI or ./mlruns]; "
        "for wandb, the W&B server URL.",
        rich_help_panel=TRACKER_PANEL,
    ),
]
