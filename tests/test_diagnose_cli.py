"""``pointgan diagnose`` end to end on real runs and a real (small) sweep directory."""

import hashlib
import json
import shutil

import pytest
from conftest import make_sweep, run_cli

from pointgan_cli.diagnose import classify, dshape
from pointgan_cli.naming import rerun_command
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import rundir, sweepstore
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.training.train import Member, train_batch

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST_D = {"steps": 2000, "lr_d": 0.05}  # baseline whose D learns five times too fast
FAST_D_SEEDS = (0, 2, 3)  # flat, saturated, saturated at 2000 steps


def _train(specs_outs):
    train_batch([Member(spec=s, out=o, command=rerun_command(s, str(o)))
                 for s, o in specs_outs])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    fixed = resolve_spec("fixed", overrides={"steps": 600, "seed": 1})
    _train([(fixed, root / "fixed")])
    return root


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real sweep: three fast-D baselines in one group, two fixed members, each member a
    batch of its own (so one member's files can be damaged alone)."""
    members = [(f"baseline-s{s}", "baseline lr_d 0.05",
                resolve_spec("baseline", overrides=dict(FAST_D, seed=s))) for s in FAST_D_SEEDS]
    members += [(f"fixed-s{s}", "fixed", resolve_spec("fixed", overrides={"steps": 600,
                                                                          "seed": s}))
                for s in (1, 2)]
    return make_sweep(tmp_path_factory.mktemp("sweep") / "s", members, max_batch=1)


def _hashes(d):
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def _one_error_line(res, text):
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], res.stderr


@pytest.mark.long
def test_loss_landscape_without_a_run_reproduces_the_study(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli(["diagnose", "loss-landscape"])
    assert res.exit_code == 0, res.stderr
    assert "the bell-shaped D centred on 1" in res.stdout
    assert "worse than the trained D's" in res.stdout
    out = tmp_path / "diagnose-out"
    doc = json.loads((out / "loss-landscape.json").read_text())
    assert (out / "loss-landscape.png").read_bytes()[:8] == PNG_MAGIC
    assert doc["generator"]["w"] == 0.605 and doc["generator"]["b"] == 0.015
    lo, hi = doc["generator"]["outputs"]
    assert lo == pytest.approx(-0.59) and hi == pytest.approx(0.62)
    losses = {c["name"]: c["loss"] for c in doc["candidates"]}
    kinds = {c["kind"] for c in doc["candidates"]}
    assert kinds == {"trained", "step", "bell", "flat"}
    trained = losses["trained D"]
    bells = [c["loss"] for c in doc["candidates"] if c["kind"] == "bell"]
    assert len(bells) >= 3 and min(bells) > trained
    assert doc["finding"]["bell_worse"] is True
    assert doc["finding"]["trained_loss"] == trained == doc["landscape"]["loss_at_trained"]
    surf = doc["landscape"]["loss"]
    n = len(doc["landscape"]["alpha"])
    assert len(surf) == n and all(len(r) == n for r in surf)
    assert surf[n // 2][n // 2] == pytest.approx(trained)  # the centre is the trained D
    assert doc["source"]["discriminator"]["steps"] == 1000


def test_loss_landscape_json_and_errors_without_a_run(cli, tmp_path):
    res = cli(["diagnose", "loss-landscape", "--d-steps", "200", "--out", tmp_path, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["files"]["json"] == str(tmp_path / "loss-landscape.json")
    saved = json.loads((tmp_path / "loss-landscape.json").read_text())
    assert saved["candidates"] == doc["candidates"] and saved["source"]["discriminator"][
        "steps"] == 200
    _one_error_line(cli(["diagnose", "loss-landscape", "--step", "5"]), "--step needs RUN_DIR")
    _one_error_line(cli(["diagnose", "loss-landscape", "--d-steps", "0"]), "--d-steps")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _one_error_line(cli(["diagnose", "loss-landscape", "--d-steps", "5", "--out", blocker / "x"]),
                    "--out: cannot create folder")


def test_landscapes_on_a_run_write_only_its_diagnose_folder(cli, runs):
    run = runs / "fixed"
    before = _hashes(run)
    res = cli(["diagnose", "loss-landscape", run, "--step", "300"])
    assert res.exit_code == 0, res.stderr
    assert "the bell-shaped D centred on 1" in res.stdout
    doc = json.loads((run / "diagnose" / "loss-landscape.json").read_text())
    assert doc["step"] == 300 and doc["source"]["parameters_from"] == rundir.METRICS
    row = next(r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
               if r["step"] == 300)
    assert doc["generator"]["w"] == row["w"] and doc["candidates"][0]["params"][0] == row[
        "d_W1_0"]

    res = cli(["diagnose", "generator-landscape", run, "--json"])
    assert res.exit_code == 0, res.stderr
    g = json.loads(res.stdout)
    assert g["step"] == 600 and g["parameters_from"] == "checkpoints/last.npz"
    surf = g["surface"]
    assert len(surf["trajectory"]) == len(rundir.read_metrics(run / "metrics.jsonl"))
    assert len(surf["loss"]) == len(surf["b"]) and len(surf["loss"][0]) == len(surf["w"])
    assert min(surf["w"]) < 0 < max(surf["w"]) and min(surf["b"]) < 1 < max(surf["b"])
    assert (run / "diagnose" / "generator-landscape.png").read_bytes()[:8] == PNG_MAGIC
    after = _hashes(run)
    assert {k: v for k, v in after.items() if not k.startswith("diagnose/")} == before
    assert sorted(k for k in after if k.startswith("diagnose/")) == [
        "diagnose/generator-landscape.json", "diagnose/generator-landscape.png",
        "diagnose/loss-landscape.json", "diagnose/loss-landscape.png"]


def test_converged_fixed_run_is_converged(cli, runs):
    res = cli(["diagnose", "run", runs / "fixed"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "converged"  # table and reason above, class last
    assert "< tolerance 0.1" in res.stdout
    doc = json.loads(cli(["diagnose", "run", runs / "fixed", "--json"]).stdout)
    assert doc["class"] == "converged"
    assert doc["evidence"]["distance"] < doc["evidence"]["tolerance"]


def test_sweep_names_the_failures_with_their_numbers(cli, sweep):
    res = cli(["diagnose", "run", sweep, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    by_id = {m["id"]: m for m in doc["members"]}
    assert {m["class"] for m in doc["members"] if m["group"] == "fixed"} == {"converged"}
    for s in FAST_D_SEEDS:
        m = by_id[f"baseline-s{s}"]
        ev = m["evidence"]
        assert m["class"] in classify.FAILURES
        assert ev["distance"] >= ev["tolerance"]
        summary = SweepDir(sweep).members.summary(m["id"])
        assert m["class"] == summary["class"]  # the class the summary carries, never another
        if ev["d_shape"] == classify.FLAT:
            assert ev["d_range"] < dshape.FLAT_RANGE
        elif ev["d_shape"] == classify.SATURATED:
            assert ev["saturation_fraction"] >= classify.SATURATED_SHARE
            assert ev["d_range"] >= dshape.FLAT_RANGE
    # The fast discriminator ends as a step or flattened: both of the study's failure shapes.
    shapes_seen = {by_id[f"baseline-s{s}"]["evidence"]["d_shape"] for s in FAST_D_SEEDS}
    assert shapes_seen == {classify.FLAT, classify.SATURATED}
    groups = {g["group"]: g for g in doc["groups"]}
    assert groups["fixed"]["classes"] == {"converged": ["fixed-s1", "fixed-s2"]}
    assert groups["baseline lr_d 0.05"]["n"] == 3
    assert sorted(sum(groups["baseline lr_d 0.05"]["classes"].values(), [])) == [
        f"baseline-s{s}" for s in FAST_D_SEEDS]

    tsv = cli(["diagnose", "run", sweep, "--format", "tsv"])
    assert tsv.exit_code == 0
    assert tsv.stdout.startswith("group\tmember\tclass\t")
    cls = by_id["baseline-s2"]["class"]
    assert f"baseline lr_d 0.05\tbaseline-s2\t{cls}\t" in tsv.stdout
    text = cli(["diagnose", "run", sweep])
    assert text.exit_code == 0
    assert "saturated" in text.stdout and "fixed-s1, fixed-s2" in text.stdout
    assert "1e-3" in text.stdout  # the table says what its numbers mean


def test_sweep_member_that_cannot_be_read_is_reported(cli, sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    where = SweepDir(copy).members.where()  # member -> (its batch, position)
    metrics = sweepstore.metrics_path(copy, where["fixed-s1"][0])
    metrics.write_bytes(b"garbage")
    sweepstore.state_path(copy, where["fixed-s2"][0]).unlink()
    doc = json.loads(cli(["diagnose", "run", copy, "--json"]).stdout)
    by_id = {m["id"]: m for m in doc["members"]}
    assert by_id["fixed-s1"]["class"] == classify.UNREADABLE
    assert f"cannot read {metrics}" in by_id["fixed-s1"]["reason"]
    assert by_id["fixed-s2"]["class"] == classify.NOT_RUN
    assert {m["class"] for m in doc["members"] if m["group"] != "fixed"} <= set(
        classify.FAILURES)  # the other members are read as before
    _one_error_line(cli(["diagnose", "loss-landscape", copy]), "is a sweep directory")


def test_diverged_run_is_diverged(cli, tmp_path):
    spec = resolve_spec("baseline", overrides={"steps": 60, "lr_g": 1e38, "lr_d": 1e38,
                                               "snapshot_every": 10})
    _train([(spec, tmp_path / "d")])
    doc = json.loads(cli(["diagnose", "run", tmp_path / "d", "--json"]).stdout)
    assert doc["class"] == "diverged" and doc["evidence"]["status"] == "diverged"
    assert doc["evidence"]["diverged_step"] is not None


@pytest.mark.parametrize("command", ["loss-landscape", "generator-landscape", "run"])
def test_missing_run_dir_is_one_line_exit_2(cli, tmp_path, command):
    _one_error_line(cli(["diagnose", command, tmp_path / "nope"]), "run directory not found")


@pytest.mark.parametrize("command", ["loss-landscape", "generator-landscape"])
def test_step_beyond_the_run_is_one_line_exit_2(cli, runs, command):
    _one_error_line(cli(["diagnose", command, runs / "fixed", "--step", "99999"]),
                    "outside this run")
    assert not (runs / "fixed" / "diagnose" / "nope").exists()


def test_corrupt_checkpoint_is_one_line_exit_2(cli, runs, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(runs / "fixed", run)
    (run / "checkpoints" / "last.npz").write_bytes(b"\x00 torn write")
    for command in ("loss-landscape", "generator-landscape", "run"):
        _one_error_line(cli(["diagnose", command, run]), "cannot read checkpoint")
    # An earlier step with its own intact checkpoint still works.
    assert cli(["diagnose", "generator-landscape", run, "--step", "500"]).exit_code == 0


def test_errors_from_the_real_console_script(tmp_path):
    res = run_cli(["diagnose", "run", tmp_path / "missing"])
    assert res.returncode == 2 and res.stdout == ""
    expect = f"Error: run directory not found: {tmp_path / 'missing'}"
    assert res.stderr.strip().splitlines() == [expect]


def test_runs_with_another_loss_use_it_or_say_why_not(cli, tmp_path):
    from pointgan_cli.spec import RunSpec

    if "loss" not in RunSpec.model_fields:
        pytest.skip("this RunSpec has no loss field (BCE only)")
    spec = resolve_spec("baseline", overrides={"steps": 200, "loss": "wgan"})
    try:
        _train([(spec, tmp_path / "w")])
    except Exception as exc:  # noqa: BLE001 - an engine without the loss: nothing to diagnose
        pytest.skip(f"the engine cannot train --loss wgan here: {exc}")
    _one_error_line(cli(["diagnose", "loss-landscape", tmp_path / "w"]), "--loss wgan")
    g = json.loads(cli(["diagnose", "generator-landscape", tmp_path / "w", "--json"]).stdout)
    assert g["surface"]["g_loss"] == "wgan"
    run = json.loads(cli(["diagnose", "run", tmp_path / "w", "--json"]).stdout)
    assert run["evidence"]["d_output"] == "logit"


def test_a_dirac_sweep_is_diagnosed_member_by_member(cli, tmp_path):
    """`diagnose run` of a Dirac-GAN sweep: its members' table has no D-shape numbers (the
    Dirac game has none) and shows '-' there instead of failing on them."""
    sweep = tmp_path / "d"
    res = cli(["sweep", "--game", "dirac", "--seeds", "0-1", "--steps", "50", "--workers", "1",
               "--out", sweep, "-q"])
    assert res.exit_code == 0, res.stderr
    for fmt in ("table", "tsv"):
        res = cli(["diagnose", "run", sweep, "--format", fmt])
        assert res.exit_code == 0, res.stderr
        assert "baseline-s0001" in res.stdout
