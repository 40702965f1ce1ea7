"""`pointgan ls`, `pointgan compare` and a sweep's summary.csv, on runs and sweeps made by the
real trainer."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from pointgan_cli.cli.app import app
from pointgan_cli.errors import UsageError
from pointgan_cli.results import catalog
from pointgan_cli.results.compare import compare
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store.rundir import load_run


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """runs/fixed-1, runs/fix-by-hand-2 (baseline + the fix's flags), sweeps/a (baseline and
    fixed, seeds 0-2) and sweeps/b (fixed, seeds 0-2), plus a diagnose/ folder in a run."""
    root = tmp_path_factory.mktemp("results")
    for args in (
        ["train", "--preset", "fixed", "--seed", "1", "--steps", "300", "--out",
         root / "runs" / "fixed-1", "-q"],
        ["train", "--noise-scale", "1.5", "--weight-decay", "0.1", "--seed", "2", "--steps",
         "300", "--out", root / "runs" / "fix-by-hand-2", "-q"],
        ["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-2", "--steps",
         "300", "--workers", "1", "--out", root / "sweeps" / "a", "-q"],
        ["sweep", "--preset", "fixed", "--seeds", "0-2", "--steps", "300", "--workers", "1",
         "--out", root / "sweeps" / "b", "-q"],
    ):
        res = invoke(*args)
        assert res.exit_code == 0, res.stderr
    (root / "runs" / "fixed-1" / "diagnose").mkdir()
    return root


def test_summary_csv_holds_the_summary_json_numbers(folder):
    sweep = folder / "sweeps" / "a"
    summary = json.loads((sweep / "summary.json").read_text())
    with open(sweep / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["group"] for r in rows] == ["baseline", "fixed"]
    rank = {r["group"]: r["rank"] for r in summary["ranking"]}
    for row, g in zip(rows, summary["groups"]):
        assert int(row["rank"]) == rank[g["group"]]
        for key in ("n", "converged", "diverged"):
            assert int(row[key]) == g[key]
        for key in ("success_rate", "wilson_low", "wilson_high", "w_mean", "w_std", "b_mean",
                    "b_std", "mcnemar_p", "median_final_distance", "median_window_max_distance",
                    "mean_bias_b"):
            # full precision, not rounded for display; JSON's null is an empty cell
            assert (None if row[key] == "" else float(row[key])) == g[key], key
        assert row["reference"] == (g["reference"] or "")
        assert row["failed"].split() == g["failed"]
        assert dict(c.split(":") for c in row["classes"].split()) == {
            k: str(v) for k, v in g["classes"].items()}
    assert rows[1]["reference"] == "baseline" and rows[1]["mcnemar_p"] != ""


def test_ls_lists_runs_and_sweeps_not_their_members(folder):
    entries = {e.path: e for e in catalog.listing(folder)}
    assert list(entries) == ["runs/fix-by-hand-2", "runs/fixed-1", "sweeps/a", "sweeps/b"]
    hand, fixed = entries["runs/fix-by-hand-2"], entries["runs/fixed-1"]
    assert hand.preset == "baseline"
    assert hand.overrides == {"weight_decay": 0.1, "noise_scale": 1.5}
    assert hand.label == "baseline weight-decay=0.1 noise-scale=1.5"
    assert fixed.overrides == {} and fixed.label == "fixed"
    summary = load_run(folder / "runs" / "fixed-1").summary
    assert fixed.cls == summary["class"] and fixed.distance == summary["final_distance"]
    assert fixed.status == "finished" and fixed.members == 1
    assert fixed.converged == int(summary["class"] == "converged")
    assert (fixed.seeds, fixed.steps, fixed.kind) == ("1", 300, "run")
    a = entries["sweeps/a"]
    doc = json.loads((folder / "sweeps" / "a" / "summary.json").read_text())
    assert a.kind == "sweep" and a.members == 6 and a.seeds == "0-2" and a.steps == 300
    assert a.converged == doc["converged"] and a.status == "finished" and a.cls is None
    assert a.outcome == f"{doc['converged']}/6 converged"
    assert sum(a.classes.values()) == 6 and a.label == "baseline, fixed"


def test_ls_command_table_and_json(folder, monkeypatch):
    monkeypatch.chdir(folder)
    res = invoke("ls", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [e["path"] for e in doc] == ["runs/fix-by-hand-2", "runs/fixed-1", "sweeps/a",
                                        "sweeps/b"]
    assert doc[0]["overrides"] == {"weight_decay": 0.1, "noise_scale": 1.5}
    res = invoke("ls", "runs")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "2 runs and sweeps under runs"
    assert lines[1].split() == ["path", "kind", "preset", "+", "overrides", "/", "groups",
                                "seeds", "steps", "class", "distance"]
    assert lines[2].startswith("fix-by-hand-2  run   baseline weight-decay=0.1 noise-scale=1.5")
    assert lines[3].split()[:4] == ["fixed-1", "run", "fixed", "1"]
    res = invoke("ls", "runs", "--format", "tsv")
    head, first = res.stdout.splitlines()[:2]
    assert head.split("\t")[:8] == ["path", "kind", "label", "preset", "seeds", "steps",
                                     "status", "class"]
    row = dict(zip(head.split("\t"), first.split("\t")))
    assert row["label"] == "baseline weight-decay=0.1 noise-scale=1.5"
    assert float(row["distance"]) == doc[0]["distance"]  # full precision
    assert (row["class"], row["members"], row["converged"]) == (
        doc[0]["class"], "1", str(doc[0]["converged"]))
    assert json.loads(row["overrides"]) == doc[0]["overrides"]


def test_ls_json_has_one_schema_for_runs_and_sweeps(folder, tmp_path):
    """Same field names and types: converged and members count runs for both, class is a
    run's class (null for a sweep), status says finished/unfinished."""
    doc = [e.to_json() for e in catalog.listing(folder)]
    run, sweep = doc[1], doc[2]
    assert list(run) == list(sweep) == list(catalog.JSON_FIELDS)
    for key in catalog.JSON_FIELDS:
        if run[key] is not None and sweep[key] is not None:
            assert type(run[key]) is type(sweep[key]), key
    assert isinstance(run["converged"], int) and isinstance(sweep["converged"], int)
    assert run["members"] == 1 and isinstance(run["class"], str) and sweep["class"] is None
    assert "status" in run and run["status"] == "finished"


def test_ls_tells_a_sweep_with_a_flag_from_the_default_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, extra in (("plain", []), ("slow-d", ["--lr-d", "0.003"])):
        res = invoke("sweep", "--seeds", "0", "--steps", "40", "--out", name, "--quiet",
                     *extra)
        assert res.exit_code == 0, res.output
    entries = {e.path: e for e in catalog.listing(tmp_path)}
    assert entries["plain"].overrides == {} and entries["plain"].label == "baseline"
    assert entries["slow-d"].overrides == {"lr_d": 0.003}
    assert entries["slow-d"].label == "baseline lr-d=0.003"


def test_ls_reports_an_unreadable_run_and_goes_on(folder, tmp_path):
    shutil.copytree(folder / "runs" / "fixed-1", tmp_path / "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "spec.json").write_text("{not json")
    entries = catalog.listing(tmp_path)
    assert [(e.path, e.kind) for e in entries] == [("bad", "unreadable"), ("good", "run")]
    assert "corrupt" in entries[0].reason
    res = invoke("ls", tmp_path / "nowhere")
    assert res.exit_code == 2 and res.stderr.startswith("Error: ")
    assert catalog.listing(tmp_path / "good")[0].path == str(tmp_path / "good")


def test_overrides_follow_the_preset_not_the_defaults():
    assert catalog.overrides(resolve_spec("fixed")) == {}
    assert catalog.overrides(resolve_spec("fixed", overrides={"seed": 4, "steps": 50})) == {}
    assert catalog.overrides(resolve_spec("noise", overrides={"noise_scale": 1.5})) == {
        "noise_scale": 1.5}
    assert catalog.overrides(resolve_spec(overrides={"lr_d": 0.003, "snapshot_every": 7})) == {
        "lr_d": 0.003, "snapshot_every": 7}


def test_compare_two_runs(folder):
    a, b = folder / "runs" / "fixed-1", folder / "runs" / "fix-by-hand-2"
    doc = compare(a, b)
    assert doc["kind"] == "run"
    assert [(r["flag"], r["a"], r["b"]) for r in doc["spec"]] == [
        ("--preset", "fixed", "baseline"), ("--seed", 1, 2)]
    sa, sb = load_run(a).summary, load_run(b).summary
    res = {r["field"]: r for r in doc["results"]}
    assert res["w"]["a"] == sa["w"] and res["w"]["b"] == sb["w"]
    assert res["w"]["delta"] == pytest.approx(sb["w"] - sa["w"])
    assert res["class"]["delta"] is None and res["class"]["a"] == sa["class"]
    out = invoke("compare", a, b)
    assert out.exit_code == 0, out.stderr
    assert "--seed    1" in out.stdout and "results" in out.stdout


def test_compare_two_sweeps_per_group(folder):
    a, b = folder / "sweeps" / "a", folder / "sweeps" / "b"
    doc = compare(a, b)
    assert doc["kind"] == "sweep"
    spec = {r["field"]: (r["a"], r["b"]) for r in doc["spec"]}
    assert spec == {"groups": (["baseline", "fixed"], ["fixed"]), "members": (6, 3)}
    groups = {g["group"]: g for g in doc["groups"]}
    summary = json.loads((a / "summary.json").read_text())
    fixed_a = next(g for g in summary["groups"] if g["group"] == "fixed")
    # The same seeds of the same preset: bit-identical members, so the same rate.
    assert groups["fixed"]["a"] == groups["fixed"]["b"] == {
        "converged": fixed_a["converged"], "n": 3, "success_rate": fixed_a["success_rate"]}
    assert groups["fixed"]["delta"] == 0 and groups["fixed"]["p_value"] == 1.0
    k = fixed_a["converged"]
    assert groups["fixed"]["paired"] == {"n": 3, "both": k, "neither": 3 - k, "only_group": 0,
                                         "only_reference": 0, "mcnemar_p": 1.0}
    assert groups["baseline"]["b"] is None and groups["baseline"]["p_value"] is None
    assert groups["baseline"]["paired"] is None
    # one comparison: Holm leaves it as it is; its tolerance curve and robustness are there
    assert groups["fixed"]["p_value_holm"] == 1.0 and groups["fixed"]["mcnemar_p_holm"] == 1.0
    assert groups["baseline"]["p_value_holm"] is None
    curve = groups["fixed"]["success_by_tolerance"]
    assert len(curve) >= 8 and all(p["p"] == 1.0 for p in curve)
    assert groups["fixed"]["tolerance_robustness"]["holds"] is True
    assert doc["totals"]["a"] == {"converged": summary["converged"], "n": 6}
    out = invoke("compare", a, b, "--json")
    assert json.loads(out.stdout) == json.loads(json.dumps(doc))


def test_compare_names_a_different_reference_or_study(folder, tmp_path):
    """Two sweeps of the same members asked with another --reference (or study) are not "the
    same": their tables compare against other groups."""
    import shutil

    b = tmp_path / "b"
    shutil.copytree(folder / "sweeps" / "b", b)
    doc = json.loads((b / "sweep.json").read_text())
    doc["sweep"]["reference"] = "noise_scale=1.5"
    (b / "sweep.json").write_text(json.dumps(doc))
    spec = {r["field"]: (r["a"], r["b"]) for r in compare(folder / "sweeps" / "b", b)["spec"]}
    assert spec == {"reference": (None, "noise_scale=1.5")}


def test_compare_two_members_of_a_sweep_by_their_address(folder):
    a = folder / "sweeps" / "a" / "members" / "baseline-s0001"
    b = folder / "sweeps" / "a" / "members" / "fixed-s0001"
    doc = compare(a, b)
    assert doc["kind"] == "run"
    assert [r["flag"] for r in doc["spec"]] == ["--preset", "--weight-decay", "--noise-scale"]


def test_compare_refuses_a_run_against_a_sweep(folder, tmp_path):
    res = invoke("compare", folder / "runs" / "fixed-1", folder / "sweeps" / "a")
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"Error: compare takes two runs or two sweeps: "
                                  f"{folder / 'runs' / 'fixed-1'} is a run, "
                                  f"{folder / 'sweeps' / 'a'} a sweep")
    with pytest.raises(UsageError, match="neither a pointgan run nor a sweep"):
        compare(tmp_path, folder / "runs" / "fixed-1")
