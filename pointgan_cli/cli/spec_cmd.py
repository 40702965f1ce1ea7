"""``pointgan spec``: show the resolved run spec, or its JSON Schema."""

from __future__ import annotations

from typing import Any

import typer

from ..spec import resolve_spec, spec_json_schema
from . import console
from . import options as o

app = typer.Typer(help="Inspect the run spec every command shares.", no_args_is_help=True)


@app.command("show")
@o.with_spec_flags
def show(
    preset: o.Preset = None,
    config: o.Config = None,
    spec_flags: dict[str, Any] | None = None,
) -> None:
    """Print the resolved spec (defaults <- preset <- config <- flags) as JSON.

    Example: pointgan spec show --preset fixed --lr-d 0.003
    """
    stored = None
    if config is not None and (not config.is_file() or "members" in config.parts):
        # SWEEP/members/ID[/spec.json] or a run directory: its stored spec, as train reads it
        from ..store.memberpath import stored_spec

        found = stored_spec(config)
        stored = None if found is None else found.model_dump(mode="json")
    spec = resolve_spec(preset, config, spec_flags, stored)
    console.print_json(spec.model_dump(mode="json"))


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the run spec.

    Example: pointgan spec schema > runspec.schema.json
    """
    console.print_json(spec_json_schema())
