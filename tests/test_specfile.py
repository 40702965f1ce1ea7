"""What ``--config`` may name, and one line saying what to give for what it may not: YAML and
plain folders are refused (exit 2, nothing written); a run directory stands for its spec."""

from __future__ import annotations

import json

import pytest

from pointgan_cli.errors import UsageError
from pointgan_cli.spec import resolve_spec
from pointgan_cli.specfile import read_fields


def test_yaml_and_folders_are_refused_saying_what_to_give(tmp_path):
    yml = tmp_path / "c.yaml"
    yml.write_text("steps: 100\n")
    with pytest.raises(UsageError, match=r"c\.yaml' is YAML; give a JSON or TOML file"):
        read_fields(yml)
    with pytest.raises(UsageError, match=r"is a folder; give a JSON or TOML file of spec "
                                         r"fields \(train and spec show also take a run"):
        read_fields(tmp_path)
    bad = tmp_path / "c.cfg"
    bad.write_text("steps = 100\n")
    with pytest.raises(UsageError, match=r"cannot parse .*c\.cfg' as JSON \(read as such: not "
                                         r"\.toml\)"):
        read_fields(bad)


def test_a_toml_parse_error_says_toml(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("steps = = 1\n")
    with pytest.raises(UsageError, match=r"cannot parse .*c\.toml' as TOML"):
        read_fields(bad)


@pytest.mark.parametrize("cmd", ["train", "sweep"])
def test_the_cli_refuses_yaml_and_folders_in_one_line_and_writes_nothing(cli, tmp_path, cmd):
    """(A sweep takes config files only: a run directory is a folder to it.)"""
    yml = tmp_path / "c.yml"
    yml.write_text("steps: 100\n")
    (tmp_path / "empty").mkdir()
    for config, words in ((yml, "is YAML"), (tmp_path / "empty", "is a folder")):
        out = tmp_path / f"out-{cmd}"
        res = cli([cmd, "--config", config, "--out", out])
        assert res.exit_code == 2, res.output
        assert res.stderr.count("\n") == 1 and words in res.stderr, res.stderr
        assert not out.exists()


def test_a_run_directory_as_config_starts_from_its_spec(cli, tmp_path):
    first = tmp_path / "first"
    res = cli(["train", "--preset", "fixed", "--noise-scale", "0.7", "--steps", "20",
               "--seed", "5", "--out", first, "--quiet"])
    assert res.exit_code == 0, res.output
    shown = cli(["spec", "show", "--config", first, "--steps", "30"])
    assert shown.exit_code == 0, shown.output
    spec = json.loads(shown.stdout)
    assert (spec["noise_scale"], spec["seed"], spec["steps"]) == (0.7, 5, 30)
    again = tmp_path / "again"
    res = cli(["train", "--config", first, "--steps", "30", "--out", again, "--quiet"])
    assert res.exit_code == 0, res.output
    stored = json.loads((again / "spec.json").read_text())["spec"]
    assert stored == {**spec}
    assert stored == resolve_spec(config=first / "spec.json", overrides={"steps": 30}
                                  ).model_dump(mode="json")
