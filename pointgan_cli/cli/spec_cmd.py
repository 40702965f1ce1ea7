"""``pointgan spec``: show the resolved run spec, or its JSON Schema."""

from __future__ import annotations

import typer

from .. import console
from ..spec import resolve_spec, spec_json_schema
from . import options as o
from .errors import handles_errors

app = typer.Typer(help="Inspect the run spec every command shares.", no_args_is_help=True)


@app.command("show")
@handles_errors
def show(
    preset: o.Preset = None,
    config: o.Config = None,
    seed: o.Seed = None,
    steps: o.Steps = None,
    batch_size: o.BatchSize = None,
    lr_g: o.LrG = None,
    lr_d: o.LrD = None,
    beta1: o.Beta1 = None,
    beta2: o.Beta2 = None,
    adam_eps: o.AdamEps = None,
    real_value: o.RealValue = None,
    label_easing: o.LabelEasing = None,
    fake_weight: o.FakeWeight = None,
    weight_decay: o.WeightDecay = None,
    weight_decay_mode: o.WeightDecayMode = None,
    noise_scale: o.NoiseScale = None,
    inner_batch: o.InnerBatch = None,
    snapshot_every: o.SnapshotEvery = None,
    checkpoint_every: o.CheckpointEvery = None,
    tolerance: o.Tolerance = None,
    device: o.Device = None,
    loss: o.Loss = None,
    g_loss: o.GLoss = None,
    gp_weight: o.GpWeight = None,
    instance_noise: o.InstanceNoise = None,
    r1: o.R1 = None,
    r2: o.R2 = None,
    d_steps: o.DSteps = None,
    update: o.Update = None,
    optimizer: o.Optimizer = None,
    momentum: o.Momentum = None,
) -> None:
    """Print the resolved spec (defaults <- preset <- config <- flags) as JSON.

    Example: pointgan spec show --preset fixed --lr-d 0.003
    """
    spec = resolve_spec(preset, config, o.overrides_from(locals()))
    console.print_json(spec.model_dump(mode="json"))


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the run spec.

    Example: pointgan spec schema > runspec.schema.json
    """
    console.print_json(spec_json_schema())
