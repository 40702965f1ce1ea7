"""The one run specification every command shares.

A ``RunSpec`` says everything needed to reproduce a run bit for bit. It is resolved exactly once,
in ``resolve_spec``: defaults <- preset <- config file (JSON or TOML) <- CLI flags, and validated
once, so the rest of the program only ever sees a typed, frozen, valid object. Validation errors
name the flag (``--lr-d``) or config key the user actually typed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import verdict
from .errors import UsageError, cap, short
from .specfile import read_fields

SCHEMA_VERSION = 1
#: Upper bounds that keep a typo (``--steps 1000000000000``) from running for ever or allocating
#: until killed; memory is also checked against what is available before training
#: (``runtime.check_memory``).
MAX_STEPS = 10_000_000
MAX_BATCH_SIZE = 1_000_000
MAX_INNER_BATCH = 4096

#: The study's configurations. Each is a partial spec applied on top of the defaults; explicit
#: flags and config files override it.
#:
#: The defaults themselves (lr 0.01 for both, Adam, batch 64, 6000 steps, inner batch 8) are the
#: independent naive implementation's setup that the study's numbers were checked against
#: (docs/study.md, "How the defaults were chosen"): fixed before measuring, never tuned on the
#: seeds the docs report.
PRESETS: dict[str, dict[str, Any]] = {
    # Plain alternating training with binary cross-entropy.
    "baseline": {},
    # Study 2.3.1: D targets 0.1 / 0.9 instead of 0 / 1.
    "easing": {"label_easing": 0.1},
    # Study 2.3.2: fake examples count less than real ones in the D loss.
    "weighted": {"fake_weight": 0.5},
    # Study 2.3.3: weight decay on D (the study tried 0.1, 1e-3 and 1e-5).
    "weight-decay": {"weight_decay": 0.1},
    # Study 3.1: Gaussian noise on the generator's parameters during the D step.
    "noise": {"noise_scale": 0.5},
    # Study 3.2: the fix, noise 1.5 plus D weight decay 0.1.
    "fixed": {"noise_scale": 1.5, "weight_decay": 0.1},
    # The literature's stabilisers (Mescheder et al. 2018; Arjovsky/Gulrajani; Mao; Lim & Ye).
    # Parameters: gamma 10 and lambda 10 as in the papers, on the papers' scale (see
    # losses.penalty_weight); instance noise 0.2 was the best of 0.1 / 0.2 / 0.5 on the
    # tuning seeds 0-31 (0.5 converged 6/32), reported on held-out seeds in docs/literature.md.
    "instance-noise": {"instance_noise": 0.2},
    "r1": {"r1": 10.0},
    "r2": {"r2": 10.0},
    "wgan-gp": {"loss": "wgan", "gp_weight": 10.0},
    "lsgan": {"loss": "lsgan"},
    "hinge": {"loss": "hinge"},
}


#: pointgan options the Dirac-GAN does not have (with their defaults), and why.
DIRAC_UNUSED: dict[str, Any] = {"real_value": 1.0, "noise_scale": 0.0}
DIRAC_WHY = {
    "real_value": "its real data is a Dirac at 0",
    "noise_scale": "its generator has no weights to perturb (use --instance-noise)",
}


def parse_init(text: str) -> tuple[float, float] | None:
    """``--init``: ``"THETA,PSI"`` -> (theta, psi); ``"seed"`` -> None (drawn from the seed)."""
    if text.strip() == "seed":
        return None
    parts = text.split(",")
    try:
        theta, psi = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not THETA,PSI (two numbers) or 'seed'") from None
    if not (math.isfinite(theta) and math.isfinite(psi)):
        raise ValueError(f"{text!r}: THETA and PSI must be finite")
    return theta, psi


class RunSpec(BaseModel):
    """Everything that determines one training run. Same spec -> identical numbers."""

    # defer_build: the validator is built on first use, not at import (``pointgan --help`` and
    # TAB completion need only the field table). strict: no coercion (``true`` is not 1, "3"
    # is not 3); allow_inf_nan=False: only finite numbers.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, strict=True,
                              allow_inf_nan=False)

    schema_version: Literal[1] = Field(SCHEMA_VERSION,  # type: ignore[arg-type]
                                      description="Spec format version.")
    preset: str = Field("baseline", description="Study configuration the spec started from.")
    seed: int = Field(0, ge=0, lt=2**32, description="Random seed (0 <= seed < 2^32).")
    steps: int = Field(6000, ge=1, le=MAX_STEPS,
                       description="Training steps (one G step + one D step each).")
    batch_size: int = Field(64, ge=1, le=MAX_BATCH_SIZE, description="Generated samples per step.")
    lr_g: float = Field(0.01, gt=0, description="Learning rate of the generator.")
    lr_d: float = Field(0.01, gt=0, description="Learning rate of the discriminator.")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam beta1 (both optimizers).")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2 (both optimizers).")
    adam_eps: float = Field(1e-8, gt=0, description="Adam epsilon (both optimizers).")
    real_value: float = Field(1.0, description="The single real data value.")
    label_easing: float = Field(
        0.0, ge=0, lt=0.5, description="D targets E (fake) and 1-E (real) instead of 0 and 1."
    )
    fake_weight: float = Field(
        1.0, gt=0, description="Weight of fake examples relative to real ones in the D loss."
    )
    weight_decay: float = Field(0.0, ge=0, description="Weight decay on the discriminator.")
    weight_decay_mode: Literal["decoupled", "l2"] = Field(
        "decoupled",
        description="decoupled: AdamW-style shrink; l2: wd*param added to the gradient.",
    )
    noise_scale: float = Field(
        0.0, ge=0, description="Std of Gaussian noise on G's w and b during the D step only."
    )
    inner_batch: int = Field(
        8, ge=1, le=MAX_INNER_BATCH,
        description="Noise draws averaged per D step (used only when noise_scale > 0).",
    )
    # -- the GAN-stability literature's options (composable with the study's) --------------
    loss: Literal["bce", "lsgan", "hinge", "wgan"] = Field(
        "bce", description="D loss: bce (the study), lsgan, hinge or wgan (critic)."
    )
    g_loss: Literal["non-saturating", "minimax"] = Field(
        "non-saturating",
        description="G loss with --loss bce: non-saturating -log D(G) (the study) or minimax "
        "log(1 - D(G)).",
    )
    gp_weight: float = Field(
        0.0, ge=0, description="WGAN-GP lambda (the paper's): lambda E(|dD/dv| - 1)^2 at "
        "real/fake interpolates, on the same scale as --r1."
    )
    instance_noise: float = Field(
        0.0, ge=0, description="Std of Gaussian noise on the real and fake samples D sees."
    )
    r1: float = Field(
        0.0, ge=0, description="R1 gamma (the paper's): gamma/2 E|dD/dv|^2 on real samples, "
        "added to L_fake + L_real before pointgan's averaging by (1 + fake weight).")
    r2: float = Field(
        0.0, ge=0, description="R2 gamma (the paper's): gamma/2 E|dD/dv|^2 on generated "
        "samples, on the same scale as --r1.")
    d_steps: int = Field(1, ge=1, le=64, description="D steps per G step.")
    update: Literal["alternating", "simultaneous", "extragradient", "optimistic"] = Field(
        "alternating",
        description="alternating: D sees the updated G (the study); simultaneous: both "
        "gradients at the same point; extragradient: both players step with the gradients "
        "taken at a look-ahead step (Korpelevich 1976; the look-ahead is an optimizer step "
        "on a copy of its state); optimistic: each player moves by twice its optimizer step "
        "minus the previous one (Daskalakis et al. 2018).",
    )
    consensus: float = Field(
        0.0, ge=0,
        description="Consensus optimisation (Mescheder et al. 2017): each player's gradient "
        "plus this gamma times the gradient of 1/2 |v|^2, v the joint gradient field of both "
        "players (penalties included).",
    )
    lecam: float = Field(
        0.0, ge=0,
        description="LeCam regulariser (Tseng et al. 2021): lambda * (mean (z_real - a_fake)^2 "
        "+ mean (z_fake - a_real)^2) on D's logits z, added to the D loss; anchors a = EMAs "
        "of D's mean logit on real and fake samples.",
    )
    lecam_decay: float = Field(
        0.99, ge=0, lt=1, description="Decay of the LeCam anchors' EMAs (with --lecam)."
    )
    optimizer: Literal["adam", "sgd"] = Field("adam", description="Optimizer of G and D.")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (with --optimizer sgd).")
    game: Literal["pointgan", "dirac"] = Field(
        "pointgan",
        description="pointgan: the study's 1-neuron G against a 1-2-1 D; dirac: the Dirac-GAN "
        "of Mescheder et al. 2018 (G outputs theta, D(x) = psi x, real data a Dirac at 0).",
    )
    init: str = Field(
        "1,1",
        description="Dirac-GAN start THETA,PSI (the paper's is 1,1), or 'seed' for a start "
        "uniform in [-2, 2)^2 drawn from the seed. The pointgan game always starts from the "
        "seed.",
    )
    snapshot_every: int = Field(
        0, ge=0,
        description="Steps between metrics rows; 0: auto, at most 50 and dense enough that "
        "the success window holds at least 20 rows.",
    )
    checkpoint_every: int = Field(500, ge=1, description="Steps between checkpoints.")
    tolerance: float = Field(
        0.1, gt=0,
        description="Converged when |w| + |b - real| (Dirac-GAN: |theta| + |psi|) < tolerance "
        "at every snapshot of the success window.",
    )
    success_window: float = Field(
        verdict.DEFAULT_WINDOW, gt=0, le=1,
        description="Fraction of the steps, at the end, that a converged run stays within "
        "--tolerance (the success window).",
    )
    device: str = Field("cpu", description="Torch device: cpu, cuda, cuda:1, ...")
    engine: Literal["fused", "torch"] = Field(
        "fused",
        description="fused: each run's whole step in one compiled kernel (numba; no torch "
        "import); torch: the tensor engine, the reference. Options the fused engine does not "
        "have train on the torch engine (one line says so).",
    )

    @model_validator(mode="before")
    @classmethod
    def _auto_snapshot_every(cls, data: Any) -> Any:
        """Resolve ``snapshot_every`` 0 (or absent) to the cadence the success window needs, so
        a stored spec always names the cadence it ran with."""
        if not isinstance(data, dict) or data.get("snapshot_every") not in (None, 0):
            return data
        try:
            steps = int(data.get("steps", cls.model_fields["steps"].default))
            window = float(data.get("success_window", verdict.DEFAULT_WINDOW))
        except (TypeError, ValueError):
            return data  # the field validators name the bad value
        if steps < 1 or not 0 < window <= 1:
            return data
        return {**data, "snapshot_every": verdict.default_snapshot_every(steps, window)}

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in PRESETS:
            raise ValueError(f"unknown preset {short(v, 60)} (choose from {', '.join(PRESETS)})")
        return v

    @field_validator("init")
    @classmethod
    def _init_ok(cls, v: str) -> str:
        parse_init(v)
        return v

    @model_validator(mode="after")
    def _game_options(self) -> RunSpec:
        """Options one game does not have are refused, not ignored (messages name the flag)."""
        if self.game == "pointgan" and self.init != "1,1":
            raise ValueError("--init: only the Dirac-GAN (--game dirac) starts from given "
                             "parameters; the pointgan game starts from the seed")
        if self.game == "dirac":
            for field, default in DIRAC_UNUSED.items():
                if getattr(self, field) != default:
                    raise ValueError(f"{flag_name(field)}: not part of the Dirac-GAN "
                                     f"(--game dirac); {DIRAC_WHY[field]}")
        return self

    @field_validator("device")
    @classmethod
    def _device_ok(cls, v: str) -> str:
        index = v[5:] if v.startswith("cuda:") else ""
        if not (v in ("cpu", "cuda") or (index.isascii() and index.isdigit())):
            raise ValueError(f"unknown device {short(v, 60)} (cpu, cuda or cuda:N)")
        return v

    @property
    def init_point(self) -> tuple[float, float] | None:
        """``--init`` parsed: (theta, psi), or None for a start drawn from the seed."""
        return parse_init(self.init)

    @property
    def effective_inner_batch(self) -> int:
        """Noise draws actually evaluated: without noise all K draws are the same sample."""
        return self.inner_batch if self.noise_scale > 0 else 1


#: Fields a user may set (everything but the format version).
SPEC_FIELDS: tuple[str, ...] = tuple(f for f in RunSpec.model_fields if f != "schema_version")


def flag_name(field: str) -> str:
    """The CLI flag for a spec field: ``lr_d`` -> ``--lr-d``."""
    return "--" + field.replace("_", "-")


def read_config(path: Path) -> dict[str, Any]:
    """Read a config file (``specfile.read_fields``: JSON or TOML, a run's spec file too)
    into a flat dict of spec fields, its keys checked against the spec's."""
    data, where = read_fields(path)
    unknown = sorted(set(data) - set(RunSpec.model_fields))
    if unknown:
        raise UsageError(f"--config: unknown key {short(unknown[0])} in {where}")
    if "preset" in data and not isinstance(data["preset"], str):
        raise UsageError(f"--config: preset in {where} must be a string "
                         f"(got {short(data['preset'])})")
    return data


def resolve_spec(
    preset: str | None = None,
    config: Path | None = None,
    overrides: dict[str, Any] | None = None,
    config_data: dict[str, Any] | None = None,
) -> RunSpec:
    """Resolve defaults <- preset <- config file <- CLI flags into one validated spec.

    ``overrides`` holds only the flags the user actually gave (``None`` values are dropped).
    ``config_data``: the config's fields when ``config`` names something that is not a file
    (a sweep member in the batch store, ``SWEEP/members/ID``).
    """
    layers: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if config_data is not None:
        file_data = dict(config_data)
    else:
        file_data = read_config(config) if config is not None else {}
    chosen = preset if preset is not None else file_data.get("preset", "baseline")
    if chosen not in PRESETS:
        where = "--preset" if preset is not None else f"preset (in {short(str(config))})"
        raise UsageError(f"{where}: unknown preset {short(chosen)} "
                         f"(choose from {', '.join(PRESETS)})")
    layers.update(PRESETS[chosen])
    for k, v in file_data.items():
        layers[k] = v
        origin[k] = f"{k} (in {config})"
    if file_data:
        # A bad value in the file is an error even where a flag replaces it: the file is
        # wrong whatever the command line says (checks across fields wait for the flags).
        try:
            RunSpec.model_validate({**layers, "preset": chosen})
        except ValidationError as exc:
            own = [e for e in exc.errors() if e["loc"] and str(e["loc"][0]) in file_data]
            if own:
                _raise_invalid(own[0], origin)
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        layers[k] = v
        origin[k] = flag_name(k)
    layers["preset"] = chosen
    try:
        return RunSpec.model_validate(layers)
    except ValidationError as exc:
        _raise_invalid(exc.errors()[0], origin)


def _raise_invalid(err: Any, origin: dict[str, str]) -> NoReturn:
    """One pydantic error as one line naming where the value came from (flag or file)."""
    msg = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # a check across fields: its message names the flags itself
        raise UsageError(msg) from None
    field = str(err["loc"][0])
    where = origin.get(field, flag_name(field))
    raise UsageError(f"{where}: {cap(msg)} (got {short(err.get('input'))})") from None


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of RunSpec, for editors and `pointgan spec schema`."""
    return RunSpec.model_json_schema()
