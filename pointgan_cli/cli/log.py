"""``pointgan log``: log a finished run or sweep to MLflow or W&B, files made later included."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import console
from . import options as o
from .working import working


class LogTracker(StrEnum):
    """The trackers ``log`` can write to (``--tracker none`` would log nothing)."""

    mlflow = "mlflow"
    wandb = "wandb"


def log(
    path: Annotated[Path, typer.Argument(help="Run directory or sweep directory.",
                                         show_default=False)],
    tracker: Annotated[
        LogTracker,
        typer.Option("--tracker", help="mlflow (sqlite:///mlflow.db in the working directory) "
                     "or wandb (offline unless WANDB_MODE or WANDB_API_KEY is set).",
                     rich_help_panel=o.TRACKER_PANEL),
    ] = LogTracker.mlflow,
    tracking_uri: o.TrackingUri = None,
    json_out: o.Json = False,
) -> None:
    """Log a finished run or sweep to an experiment tracker, with every file in it now: the
    animation and diagnose plots made after training, a sweep's tables and report page.

    MLflow: a directory logged before and unchanged since (same spec, metrics and summary)
    gets the new files in the run it already has; anything else is a new run.

    Example: pointgan log runs/fixed-3 --tracker mlflow
    """
    from .. import trackers

    with working("log"):
        info = trackers.log_path(path, tracker.value, tracking_uri)
    assert info is not None  # only "none" returns nothing
    print(trackers.logged_line(info), file=sys.stderr)
    if json_out:
        console.print_json(info)
        return
    sys.stdout.write(f"{info['run_id']}\n")
