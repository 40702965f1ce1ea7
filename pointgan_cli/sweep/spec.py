"""Sweep specification: which runs a sweep holds, resolved once, before anything is created.

A sweep is variants (a preset plus overrides, e.g. the study's experiment set) crossed with a
grid of spec values and a list of seeds. ``SweepSpec`` is what ``sweep.json`` stores, so
``--resume`` re-expands exactly the same members. What the user types for seeds and grid is
parsed in ``ranges``; every error here names the flag too, so the CLI prints one line and
creates nothing.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UsageError, short
from ..naming import override_words
from ..spec import PRESETS, RunSpec, flag_name, read_config, resolve_spec
from . import dirac_study
from .ranges import format_range, format_seeds, parse_grid, parse_seeds

#: The study's whole experiment set (`--study article`): (label, preset, overrides), each run
#: at every learning rate in ARTICLE_LRS (lr_g = lr_d), as the study plotted several. A variant
#: that sets a value is labelled by it in the one spelling of overrides (``override_words``:
#: ``weight-decay=0.1``, ``noise-scale=1.5``), as a grid sweep's groups are.
ARTICLE_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    (override_words(ov) or preset, preset, ov) for preset, ov in (
        ("baseline", {}),
        ("easing", {}),
        ("weighted", {}),
        ("weight-decay", {"weight_decay": 0.1}),
        ("weight-decay", {"weight_decay": 1e-3}),
        ("weight-decay", {"weight_decay": 1e-5}),
        ("noise", {"noise_scale": 0.5}),
        ("noise", {"noise_scale": 1.5}),
        ("fixed", {}),
    )
]
ARTICLE_LRS = (0.01, 0.003)
#: Training budgets of `--study article` (without --steps), in steps at BUDGET_LR: the claim is
#: reported at each, so no conclusion hangs on one budget. A run at a lower learning rate gets
#: ``budget * BUDGET_LR / lr`` steps: the same training time (lr x steps), not the same count.
ARTICLE_BUDGETS = (3000, 6000, 10000, 20000)
BUDGET_LR = 0.01

#: Members of one sweep, checked before anything is expanded.
MAX_MEMBERS = 1_000_000

#: `--study literature`: the study's fix against the GAN-stability literature's stabilisers
#: (Mescheder, Geiger, Nowozin 2018 and the losses they analyse), plain training for reference,
#: at the same learning rates and seeds.
LITERATURE_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("baseline", "baseline", {}),
    ("fixed", "fixed", {}),
    ("instance noise", "instance-noise", {}),
    ("R1", "r1", {}),
    ("R2", "r2", {}),
    ("WGAN-GP", "wgan-gp", {}),
    ("LSGAN", "lsgan", {}),
    ("hinge", "hinge", {}),
]

#: `--study map`: the study's two questions as planes of hyper-parameters, (label, preset,
#: axes) per device kind. The fix (preset ``fixed``) over noise scale x D weight decay: does the
#: right weight decay depend on the noise level? Plain training (``baseline``) over the two
#: learning rates: where does the study's baseline converge at all? Axes use ``--grid``'s range
#: syntax. The CPU grid with its 32 seeds (1,760 runs) took under 6 minutes on a shared 2-core
#: machine at the defaults (docs/maps.md); a GPU affords finer steps and more seeds.
MAP_VARIANTS: dict[str, list[tuple[str, str, dict[str, str]]]] = {
    "cpu": [
        ("fixed", "fixed", {"noise_scale": "0:2.5:6", "weight_decay": "1e-4:1:5:log"}),
        ("baseline", "baseline", {"lr_g": "1e-3:1e-1:5:log", "lr_d": "1e-3:1e-1:5:log"}),
    ],
    "cuda": [
        ("fixed", "fixed", {"noise_scale": "0:3:13", "weight_decay": "1e-5:1:11:log"}),
        ("baseline", "baseline", {"lr_g": "1e-4:1e-1:13:log", "lr_d": "1e-4:1e-1:13:log"}),
    ],
}
#: Seeds a study runs when ``--seeds`` is not given (the map study: fewer on a CPU).
DEFAULT_SEEDS = "0-9"
MAP_SEEDS = {"cpu": "0-31", "cuda": "0-63"}
STUDIES = ("article", "literature", "map", "dirac")


class Variant(BaseModel):
    """One configuration of a sweep before seeds: a preset plus explicit overrides.

    ``method`` names the configuration without its learning rate or budget (``fixed``), and
    ``stratum`` those (``lr=0.003 budget=3k``): each group is compared, seed by seed, with the
    reference method's group in the same stratum and grid point."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    label: str
    preset: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)  # this variant's own axes
    method: str | None = None  # None: the label
    stratum: str = ""

    @property
    def method_name(self) -> str:
        return self.method if self.method is not None else self.label


class SweepSpec(BaseModel):
    """Everything that determines a sweep's member list (stored as ``sweep.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    schema_version: Literal[1] = 1
    variants: list[Variant]
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: list[int]
    config: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)  # flags common to every member
    study: str | None = None  # `--study NAME`, or None for --preset sweeps
    reference: str | None = None  # method every group is compared with; None: the first


def equal_time_steps(budget: int, lr: float) -> int:
    """Steps at ``lr`` that give the training time of ``budget`` steps at ``BUDGET_LR``."""
    return max(1, int(round(budget * BUDGET_LR / lr)))


def _budget_name(steps: int) -> str:
    return f"{steps // 1000}k" if steps % 1000 == 0 else str(steps)


def build_sweep_spec(
    presets: list[str],
    study: str | None,
    grid: dict[str, list[Any]],
    seeds: list[int] | None,
    config: Path | None,
    overrides: dict[str, Any],
    reference: str | None = None,
) -> SweepSpec:
    """Variants from ``--study`` or ``--preset`` (default: the config file's preset, else
    baseline), validated; at most ``MAX_MEMBERS`` members. ``seeds`` None means the study's own
    seeds (``MAP_SEEDS`` for the map study, else ``DEFAULT_SEEDS``). ``reference``: the method
    every group is compared with (default: the first)."""
    if study is not None and study not in STUDIES:
        raise UsageError(f"--study: unknown study {short(study)} "
                         f"(choose from {', '.join(STUDIES)})")
    for p in presets:
        if p not in PRESETS:
            raise UsageError(f"--preset: unknown preset {short(p)} "
                             f"(choose from {', '.join(PRESETS)})")
    if len(set(presets)) != len(presets):
        raise UsageError("--preset: the same preset is given twice")
    if "seed" in overrides:
        raise UsageError("--seed: a sweep takes --seeds (ranges and lists), not --seed")
    kind = device_kind(config, overrides)
    if study is not None:
        if presets:
            raise UsageError(f"--study {study} already chooses the presets; drop --preset")
        if study == "map" and grid:
            raise UsageError("--study map already chooses the grid of each map; drop --grid")
        variants = study_variants(study, kind, overrides.get("steps"), set(overrides))
    else:
        if not presets and config is not None:  # the file's preset, as `train` and `spec show`
            presets = [read_config(config).get("preset", "baseline")]
            if presets[0] not in PRESETS:
                raise UsageError(f"preset (in {short(str(config))}): unknown preset "
                                 f"{short(presets[0])} (choose from {', '.join(PRESETS)})")
        variants = [Variant(label=p, preset=p) for p in (presets or ["baseline"])]
    if seeds is None:
        seeds = parse_seeds(MAP_SEEDS[kind] if study == "map" else DEFAULT_SEEDS)
    methods = list(dict.fromkeys(v.method_name for v in variants))
    if reference is not None and "=" in reference and reference not in methods:
        field, value = grid_reference(reference, grid)  # a method may read like FIELD=VALUE
        reference = f"{field}={value}"
    elif reference is not None and reference not in methods:
        raise UsageError(f"--reference: {short(reference)} is not one of this sweep's methods "
                         f"({', '.join(methods)}) nor FIELD=VALUE of its --grid")
    points = math.prod(len(v) for v in grid.values())
    n = len(seeds) * points * sum(math.prod(len(g) for g in v.grid.values()) for v in variants)
    if n > MAX_MEMBERS:
        raise UsageError(f"a sweep of {n} members is more than {MAX_MEMBERS}; split it")
    return SweepSpec(
        variants=variants,
        grid=grid,
        seeds=seeds,
        config=None if config is None else str(config),
        overrides=overrides,
        study=study,
        reference=reference,
    )


def device_kind(config: Path | None, overrides: dict[str, Any]) -> str:
    """'cpu' or 'cuda': which of a study's grids fits the device the members train on."""
    device = overrides.get("device")
    if device is None and config is not None:
        device = read_config(config).get("device")
    return "cpu" if device in (None, "cpu") else "cuda"


def study_variants(study: str, kind: str = "cpu", steps: int | None = None,
                   given: set[str] | frozenset[str] = frozenset()) -> list[Variant]:
    """The variants of ``--study NAME`` (the map study's grid depends on the device kind).

    The article and literature studies run each configuration at every learning rate in
    ``ARTICLE_LRS`` with equal training time (``equal_time_steps`` of ``steps``, the budget at
    lr 0.01); ``--study article`` without ``--steps`` at every budget in ``ARTICLE_BUDGETS``."""
    if study == "dirac":  # ``dirac_study``'s settings yield to the flags the user ``given``
        return [Variant(label=dirac_study.label(m, u), preset="baseline", method=m, stratum=u,
                        overrides={k: v for k, v in ov.items()
                                   if k not in given or k not in dirac_study.BASE})
                for m, u, ov in dirac_study.rows()]
    if study == "map":
        return [Variant(label=label, preset=preset,
                        grid=parse_grid([f"{f}={r}" for f, r in axes.items()]))
                for label, preset, axes in MAP_VARIANTS[kind]]
    table = ARTICLE_VARIANTS if study == "article" else LITERATURE_VARIANTS
    if steps is not None:
        budgets = [int(steps)]
    elif study == "article":
        budgets = list(ARTICLE_BUDGETS)
    else:
        budgets = [int(RunSpec.model_fields["steps"].default)]
    out = []
    for label, preset, ov in table:
        for lr in ARTICLE_LRS:
            for budget in budgets:
                stratum = f"lr={lr:g}" + (
                    f" budget={_budget_name(budget)}" if len(budgets) > 1 else "")
                out.append(Variant(label=f"{label} {stratum}", preset=preset, method=label,
                                   stratum=stratum,
                                   overrides={**ov, "lr_g": lr, "lr_d": lr,
                                              "steps": equal_time_steps(budget, lr)}))
    return out


def slug(text: str) -> str:
    """A label as a file-name part: runs of other characters become one underscore."""
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", text).strip("_")


def variant_grid(sweep: SweepSpec, variant: Variant) -> dict[str, list[Any]]:
    """A variant's axes: its own (``--study map``) and then the sweep's ``--grid``."""
    return {**variant.grid, **sweep.grid}


def group_name(label: str, point: dict[str, Any]) -> str:
    """A statistics group: the variant's label and its grid point in the override words
    (``naming.override_words``), e.g. ``fixed noise-scale=1.5 weight-decay=0.1``."""
    return f"{label} {override_words(point)}" if point else label


def grid_reference(text: str, grid: dict[str, list[Any]]) -> tuple[str, Any]:
    """``--reference FIELD=VALUE``: a value of the sweep's ``--grid`` (parsed as the grid is)."""
    try:
        ((field, values),) = parse_grid([text]).items()
    except UsageError as exc:
        raise UsageError("--reference: " + str(exc).removeprefix("--grid: ")) from None
    if field not in grid:
        raise UsageError(f"--reference: {short(field)} is not a --grid field of this sweep"
                         + (f" ({', '.join(grid)})" if grid else ""))
    if values[0] not in grid[field] or len(values) != 1:
        raise UsageError(f"--reference: {short(text)} is not one value of --grid {field} "
                         f"({', '.join(str(v) for v in grid[field])})")
    return field, values[0]


def reference_groups(sweep: SweepSpec) -> dict[str, str | None]:
    """Each group's reference group (itself for the reference's own groups; None where there
    is none). By method (``--reference METHOD``, default the first, when the sweep has more
    than one): that method's group in the same stratum and grid point. By grid value
    (``--reference FIELD=VALUE``, default the first value of the first ``--grid`` when the
    sweep has one method): the same method's group at that value, the other grid fields
    equal; without it a one-method grid sweep would compare nothing."""
    methods = list(dict.fromkeys(v.method_name for v in sweep.variants))
    ref = sweep.reference
    if ref is None and len(methods) == 1 and sweep.grid:
        first = next(iter(sweep.grid))
        ref = f"{first}={sweep.grid[first][0]}"
    if ref is not None and "=" in ref and ref not in methods:
        return _grid_references(sweep, *grid_reference(ref, sweep.grid))
    method = ref if ref is not None else sweep.variants[0].method_name
    # by method: the reference method's group at the same grid point (and stratum)
    return _references(sweep, lambda v, gp: (v.stratum, _point(gp)),
                       lambda v, gp: v.method_name == method)


def _grid_references(sweep: SweepSpec, field: str, value: Any) -> dict[str, str | None]:
    """By grid value: the same method's group at ``field=value``, the other fields equal."""
    return _references(sweep, lambda v, gp: (v.stratum, v.label, _point(gp, field)),
                       lambda v, gp: gp[field] == value)


def _point(gp: dict[str, Any], without: str | None = None) -> tuple:
    return tuple(sorted((k, str(x)) for k, x in gp.items() if k != without))


def _references(sweep: SweepSpec, key_of: Any, is_reference: Any) -> dict[str, str | None]:
    """Every group -> the first reference group (``is_reference(variant, point)``) that shares
    its ``key_of(variant, point)``, or None."""
    refs: dict[tuple, str] = {}
    points = []
    for v in sweep.variants:
        grid = variant_grid(sweep, v)
        for point in itertools.product(*(grid[f] for f in grid)):
            gp = dict(zip(grid, point))
            key, name = key_of(v, gp), group_name(v.label, gp)
            points.append((name, key))
            if is_reference(v, gp):
                refs.setdefault(key, name)
    return {group: refs.get(key) for group, key in points}


class SweepMember(NamedTuple):
    """One member of a sweep, the same from the plan to the store to an export: its id (the
    name ``SWEEP/members/ID`` gives it), its statistics group and its resolved spec."""

    id: str
    group: str
    spec: RunSpec


def expand(sweep: SweepSpec) -> list[SweepMember]:
    """All members as ``SweepMember(id, group, spec)``, in a stable order. The sweep's common
    ``overrides`` (flags) apply to every member; variant overrides and grid values win."""
    overrides = sweep.overrides
    config = Path(sweep.config) if sweep.config else None
    out: list[SweepMember] = []
    for variant in sweep.variants:
        grid = variant_grid(sweep, variant)
        fields = list(grid)
        for point in itertools.product(*(grid[f] for f in fields)):
            gp = dict(zip(fields, point))
            group = group_name(variant.label, gp)
            for seed in sweep.seeds:
                ov = {**overrides, **variant.overrides, **gp, "seed": seed}
                spec = _resolve_member(variant.preset, config, ov, gp)
                out.append(SweepMember(f"{slug(group)}-s{seed:04d}", group, spec))
    games = sorted({s.game for _, _, s in out})
    if len(games) > 1:
        raise UsageError(f"--game: a sweep trains one game, not {' and '.join(games)}")
    return out


def _resolve_member(preset: str, config: Path | None, ov: dict[str, Any], gp: dict) -> RunSpec:
    try:
        return resolve_spec(preset, config, ov)
    except UsageError as exc:
        msg = str(exc)
        for field in gp:  # a bad grid value: say so with --grid, not the flag name
            flag = flag_name(field)
            if msg.startswith(flag + ":"):
                raise UsageError("--grid: " + field + msg[len(flag):]) from None
        raise


def sweep_command(sweep: SweepSpec, out: Path) -> str:
    """The exact ``pointgan sweep`` command that re-creates ``sweep`` into ``out`` (grid
    ranges written back as ranges, so the command reads as it was typed)."""
    parts = ["pointgan", "sweep"]
    config = Path(sweep.config) if sweep.config else None
    study = sweep.study or next(  # sweep.json written before `study` was stored
        (name for name in STUDIES
         if sweep.variants == study_variants(name, device_kind(config, sweep.overrides),
                                             sweep.overrides.get("steps"),
                                             set(sweep.overrides))), None)
    if study:
        parts += ["--study", study]
    else:
        for v in sweep.variants:
            parts += ["--preset", v.preset]
    parts += ["--seeds", format_seeds(sweep.seeds)]
    for field, values in sweep.grid.items():
        text = format_range(values) or ",".join(str(v) for v in values)
        parts += ["--grid", f"{field}={text}"]
    if sweep.config:
        parts += ["--config", sweep.config]
    for field, value in sweep.overrides.items():
        parts += [flag_name(field), str(value)]
    if sweep.reference is not None:
        parts += ["--reference", sweep.reference]
    return shlex.join([*parts, "--out", str(out)])
