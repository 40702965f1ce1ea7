"""One spelling of overrides: ``naming.override_words`` on every screen and file."""

from __future__ import annotations

from pointgan_cli.cli.train import result_rows
from pointgan_cli.naming import override_value, override_words, overrides, run_label
from pointgan_cli.results import catalog
from pointgan_cli.spec import resolve_spec
from pointgan_cli.sweep.spec import group_name


def test_overrides_read_as_flags_with_their_values():
    assert override_words({"noise_scale": 1.5, "weight_decay": 0.1}) == (
        "noise-scale=1.5 weight-decay=0.1")
    assert override_words({"loss": "wgan", "steps": 3000, "lr_d": 1e-5}) == (
        "loss=wgan steps=3000 lr-d=1e-05")
    assert override_words({}) == ""


def test_a_value_the_short_form_would_round_is_written_in_full():
    assert override_value(1.0) == "1" and override_value(0.001) == "0.001"
    assert override_value(0.1 + 0.2) == "0.30000000000000004"
    assert override_value(1.0000001) == "1.0000001"


def test_ls_report_train_and_sweep_groups_spell_them_alike():
    spec = resolve_spec("baseline", overrides={"noise_scale": 1.5, "weight_decay": 0.1})
    words = "weight-decay=0.1 noise-scale=1.5"  # in the spec's field order
    assert catalog.label(spec.preset, catalog.overrides(spec)) == f"baseline {words}"
    assert group_name("baseline", {"weight_decay": 0.1, "noise_scale": 1.5}) == (
        f"baseline {words}")
    assert dict(result_rows({"overrides": overrides(spec)}))["overrides"] == words
    assert run_label(spec) == "baseline+wd0.1+noise1.5"  # the folder's file-name-safe form


def test_a_finished_runs_overrides_come_from_its_summary():
    spec = resolve_spec("baseline", overrides={"noise_scale": 1.5, "steps": 200})
    recorded = {"noise_scale": 1.5, "steps": 200, "inner_batch": 4}
    assert catalog.overrides(spec, {"overrides": recorded}) == {"noise_scale": 1.5,
                                                                "inner_batch": 4}
    assert catalog.overrides(spec, None) == {"noise_scale": 1.5}  # unfinished: from the spec
