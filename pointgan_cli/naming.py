"""How a run spec is named and re-run: its label, its overrides, its exact command.

Why apart from ``spec``: these are views of a resolved ``RunSpec`` for people (a run
directory's default name, the overrides column of a table, the command in ``spec.json``); the
spec module itself validates and resolves.
"""

from __future__ import annotations

import shlex
from typing import Any

from .spec import PRESETS, SPEC_FIELDS, RunSpec, flag_name


def rerun_command(spec: RunSpec, out: str, sub: str = "train") -> str:
    """The exact ``pointgan`` command that reproduces ``spec`` into ``out``."""
    parts = ["pointgan", sub]
    for name in SPEC_FIELDS:
        value = getattr(spec, name)
        parts += [flag_name(name), str(value)]
    parts += ["--out", out]
    return shlex.join(parts)


def resume_command(out: object, sub: str = "sweep") -> str:
    """The command that continues the run or sweep at ``out`` (``sub``: train or sweep), its
    path quoted for a shell: every hint that says how to go on prints this one spelling."""
    return f"pointgan {sub} --resume --out {shlex.quote(str(out))}"


def short_command(spec: RunSpec, out: str, sub: str = "train") -> str:
    """The command a reader would type for ``spec``: the preset, the seed and only the flags
    that differ from the preset (``overrides``). It makes the same spec as long as the presets'
    values do not change; ``rerun_command`` (spec.json's) names every field."""
    parts = ["pointgan", sub, flag_name("preset"), spec.preset, flag_name("seed"), str(spec.seed)]
    for name, value in overrides(spec).items():
        parts += [flag_name(name), str(value)]
    parts += ["--out", out]
    return shlex.join(parts)


#: Short names for the directory label of the fields users override most; any other field is
#: named by its flag without the dashes.
SHORT_NAMES: dict[str, str] = {
    "noise_scale": "noise", "weight_decay": "wd", "weight_decay_mode": "wd-mode",
    "label_easing": "easing", "fake_weight": "fake", "instance_noise": "inoise",
    "gp_weight": "gp", "inner_batch": "inner", "batch_size": "batch", "lr_g": "lrg",
    "lr_d": "lrd",
}

#: Fields that say which run of a configuration this is, not which configuration: they are no
#: override (the seed is its own column everywhere).
NOT_OVERRIDES = frozenset({"preset", "seed"})


def overrides(spec: RunSpec) -> dict[str, Any]:
    """The fields of ``spec`` that differ from what its preset alone gives, in field order: what
    ran besides the preset (``--noise-scale 1.5 --weight-decay 0.1`` on baseline ->
    ``{"noise_scale": 1.5, "weight_decay": 0.1}``). Remembered for the last few configurations
    (a sweep asks once per member, and its members differ mostly in the seed)."""
    key = tuple(getattr(spec, f) for f in SPEC_FIELDS if f != "seed")
    try:
        found = _REMEMBERED.get(key)
    except TypeError:  # an unhashable value: nothing remembered
        return _overrides(spec)
    if found is None:
        if len(_REMEMBERED) >= 64:
            _REMEMBERED.clear()
        found = _REMEMBERED[key] = _overrides(spec)
    return dict(found)


_REMEMBERED: dict[tuple, dict[str, Any]] = {}  # every field but the seed -> its overrides


def _overrides(spec: RunSpec) -> dict[str, Any]:
    base = RunSpec.model_validate({**PRESETS[spec.preset], "preset": spec.preset})
    # an automatic cadence follows the run's own steps and window: only a typed one counts
    auto = RunSpec.model_validate({**PRESETS[spec.preset], "preset": spec.preset,
                                   "steps": spec.steps, "success_window": spec.success_window})
    return {f: getattr(spec, f) for f in SPEC_FIELDS
            if f not in NOT_OVERRIDES and getattr(spec, f) != getattr(base, f)
            and not (f == "snapshot_every" and spec.snapshot_every == auto.snapshot_every)}


def override_value(value: Any) -> str:
    """A value as the override words print it: ``1.5``, ``0.001``, ``wgan``; a float the
    short form would round (``0.30000000000000004``) in full, so two grid points never read
    alike."""
    if isinstance(value, float):
        text = f"{value:g}"
        return text if float(text) == value else repr(value)
    return str(value)


def override_words(over: dict[str, Any]) -> str:
    """The one spelling of overrides on every screen and file: each field as its flag without
    the dashes, ``=``, its value: ``{"noise_scale": 1.5, "weight_decay": 0.1}`` ->
    ``noise-scale=1.5 weight-decay=0.1`` (ls, report, train's table, a sweep's group names).
    A run directory's default name is its file-name-safe short form (``run_label``)."""
    return " ".join(f"{flag_name(k)[2:]}={override_value(v)}" for k, v in over.items())


def _label_value(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace(":", "")


def run_label(spec: RunSpec, limit: int = 80) -> str:
    """The preset plus its overrides, for names: ``baseline+noise1.5+wd0.1``.

    Longer than ``limit`` characters, the label keeps the overrides that fit and says how many
    it left out (``+3more``); ``summary.json`` always has all of them."""
    parts = []
    for field, value in overrides(spec).items():
        name = SHORT_NAMES.get(field, field.replace("_", "-"))
        # "r1=10", "loss=wgan": a separator where name and value would run together
        sep = "=" if name[-1].isdigit() or isinstance(value, str) else ""
        parts.append(f"{name}{sep}{_label_value(value)}")
    label = spec.preset
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        tail = f"+{rest}more" if rest else ""
        if len(label) + 1 + len(part) + len(tail) > limit:
            return f"{label}+{len(parts) - i}more"
        label += "+" + part
    return label
