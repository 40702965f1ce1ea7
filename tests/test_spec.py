import json

import pytest
from pydantic import ValidationError

from pointgan_cli.cli.options import SPEC_PARAMS
from pointgan_cli.errors import UsageError
from pointgan_cli.spec import PRESETS, SPEC_FIELDS, RunSpec, resolve_spec, spec_json_schema


def test_every_spec_field_has_a_cli_flag():
    assert set(SPEC_PARAMS) | {"preset"} == set(SPEC_FIELDS)


def test_defaults_and_presets_layer():
    assert resolve_spec().noise_scale == 0.0
    fixed = resolve_spec("fixed")
    assert (fixed.noise_scale, fixed.weight_decay, fixed.inner_batch) == (1.5, 0.1, 8)
    assert resolve_spec().steps == 6000  # the independent implementation's setup
    assert fixed.preset == "fixed"
    # explicit flags override the preset
    assert resolve_spec("fixed", overrides={"weight_decay": 0.001}).weight_decay == 0.001
    assert {"baseline", "easing", "weighted", "weight-decay", "noise", "fixed"} <= set(PRESETS)
    assert {"instance-noise", "r1", "r2", "wgan-gp", "lsgan", "hinge"} <= set(PRESETS)


def test_config_file_between_preset_and_flags(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "noise"\nlr_d = 0.003\nsteps = 10\n')
    spec = resolve_spec(config=cfg, overrides={"steps": 20})
    assert (spec.preset, spec.noise_scale, spec.lr_d, spec.steps) == ("noise", 0.5, 0.003, 20)
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"label_easing": 0.1}))
    assert resolve_spec("fixed", js).label_easing == 0.1


def test_run_spec_json_is_a_valid_config(tmp_path):
    spec = resolve_spec("fixed", overrides={"seed": 7})
    p = tmp_path / "spec.json"
    p.write_text(json.dumps({"spec": spec.model_dump(mode="json"), "command": "x"}))
    assert resolve_spec(config=p) == spec


@pytest.mark.parametrize(
    "overrides, flag",
    [
        ({"lr_d": -1.0}, "--lr-d"),
        ({"lr_g": 0.0}, "--lr-g"),
        ({"steps": 0}, "--steps"),
        ({"label_easing": 0.5}, "--label-easing"),
        ({"weight_decay_mode": "l1"}, "--weight-decay-mode"),
        ({"device": "tpu"}, "--device"),
    ],
)
def test_bad_values_name_the_flag(overrides, flag):
    with pytest.raises(UsageError, match=f"^{flag}:"):
        resolve_spec(overrides=overrides)


def test_unknown_preset_and_config_errors(tmp_path):
    with pytest.raises(UsageError, match="^--preset: unknown preset 'nope'"):
        resolve_spec("nope")
    with pytest.raises(UsageError, match="--config: file not found"):
        resolve_spec(config=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="--config: cannot parse"):
        resolve_spec(config=bad)
    unk = tmp_path / "unk.toml"
    unk.write_text("lr = 1\n")
    with pytest.raises(UsageError, match="unknown key 'lr'"):
        resolve_spec(config=unk)
    val = tmp_path / "val.toml"
    val.write_text("steps = -3\n")
    with pytest.raises(UsageError, match=r"^steps \(in .*val.toml\):"):
        resolve_spec(config=val)


def test_spec_is_frozen_and_strict():
    spec = RunSpec()
    with pytest.raises(ValidationError):
        spec.seed = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        RunSpec(bogus=1)  # type: ignore[call-arg]
    assert RunSpec.model_validate_json(spec.model_dump_json()) == spec


def test_effective_inner_batch():
    assert resolve_spec().effective_inner_batch == 1
    assert resolve_spec("noise").effective_inner_batch == 8


def test_schema_lists_fields():
    schema = spec_json_schema()
    assert set(schema["properties"]) == set(RunSpec.model_fields)


def test_a_bad_config_value_is_an_error_even_when_a_flag_replaces_it(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"steps": "many"}')
    for overrides in ({}, {"steps": 50}):
        with pytest.raises(UsageError, match=r"^steps \(in .*c\.json\): .*\(got 'many'\)"):
            resolve_spec(config=cfg, overrides=overrides)
    cfg.write_text('{"steps": 30, "loss": "wgan"}')  # a flag still replaces a good value
    assert resolve_spec(config=cfg, overrides={"steps": 50}).steps == 50


def test_cli_bad_config_value_with_a_flag_exits_2_in_one_line(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"steps": "many"}')
    for cmd in ("train", "sweep"):
        res = cli([cmd, "--steps", "50", "--config", cfg, "--out", tmp_path / cmd])
        assert res.exit_code == 2, res.output
        assert res.stderr.count("\n") == 1 and "steps (in" in res.stderr
        assert not (tmp_path / cmd).exists()
