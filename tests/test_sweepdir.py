"""The sweep directory's reads: many members at once give exactly what one-by-one reads give,
and ``sweep.json`` round-trips every member's spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pointgan_cli.cli.app import app
from pointgan_cli.errors import UsageError
from pointgan_cli.store import sweepdir
from pointgan_cli.store.sweepdir import SweepDir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two presets x three seeds in batches of two: three batches per preset."""
    out = tmp_path_factory.mktemp("sweepdir") / "s"
    res = CliRunner().invoke(app, ["sweep", "--preset", "baseline", "--preset", "fixed",
                                   "--seeds", "0-2", "--steps", "60", "--max-batch", "2",
                                   "--workers", "1", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.stderr
    assert len(list((out / "batches").glob("*.state.npz"))) >= 4
    return out


def test_member_summaries_equal_one_by_one_reads_and_are_fresh_dicts(sweep):
    ids = SweepDir(sweep).ids
    many = SweepDir(sweep).members.summaries(ids)
    assert many == [SweepDir(sweep).members.summary(i) for i in ids]
    assert {s["seed"] for s in many} == {0, 1, 2} and all(s["status"] for s in many)
    many[0]["w"] = "changed"  # a caller's edit never leaks into the next read
    assert SweepDir(sweep).members.summaries(ids[:1])[0]["w"] != "changed"
    assert SweepDir(sweep).members.summaries(["nope"]) == [None]


def test_member_curves_are_the_metrics_w_and_b(sweep):
    ids = SweepDir(sweep).ids
    for mid, (steps, wb) in zip(ids, SweepDir(sweep).members.curves(ids)):
        rows = SweepDir(sweep).members.metrics(mid)
        assert steps.tolist() == [r["step"] for r in rows]
        assert wb[:, 0].tolist() == [r["w"] for r in rows]  # exact: the stored float32
        assert wb[:, 1].tolist() == [r["b"] for r in rows]
        assert SweepDir(sweep).members.curve(mid) == (steps.tolist(), wb[:, 0].tolist(),
                                                     wb[:, 1].tolist())


def test_a_run_directory_put_at_members_id_never_replaces_the_stored_member(sweep, tmp_path):
    """The store is the sweep's record: a run directory at ``members/<id>/`` (written there
    by hand, or by an older pointgan) changes none of the member's numbers."""
    import shutil

    copy = tmp_path / "s"
    shutil.copytree(sweep, copy)
    mid = SweepDir(copy).ids[1]
    SweepDir(copy).members.export(mid, tmp_path / "x")
    shutil.copytree(tmp_path / "x", SweepDir(copy).member_dir(mid))
    (SweepDir(copy).member_dir(mid) / "summary.json").write_text(json.dumps({"mark": 1}))
    assert SweepDir(copy).members.summaries([mid]) == SweepDir(sweep).members.summaries([mid])
    assert SweepDir(copy).members.summary(mid) == SweepDir(sweep).members.summary(mid)
    assert SweepDir(copy).members.load(mid).summary == SweepDir(sweep).members.summary(mid)
    steps, wb = SweepDir(copy).members.curves([mid])[0]
    want = SweepDir(sweep).members.curves([mid])[0]
    assert np.array_equal(steps, want[0]) and np.array_equal(wb, want[1])


# -- sweep.json ----------------------------------------------------------------------------------


def _study_entries():
    """The article study's members (several presets, a learning-rate grid, strata)."""
    from pointgan_cli.sweep.ranges import parse_seeds
    from pointgan_cli.sweep.spec import build_sweep_spec, expand

    spec = build_sweep_spec([], "article", {}, parse_seeds("0-2,7"), None, {}, None)
    return spec, [sweepdir.Entry(i, g, s.model_dump(mode="json")) for i, g, s in expand(spec)]


def _text(entries):
    return [(e.id, e.group, json.dumps(e.spec)) for e in entries]


def test_sweep_json_round_trips_every_members_spec_exactly(tmp_path):
    spec, entries = _study_entries()
    assert len({e.group for e in entries}) > 4
    odd = dict(entries[0].spec)
    odd["lr_g"] = 1  # an int where the group has a float
    odd["weight_decay"] = -0.0
    reordered = dict(reversed(list(entries[1].spec.items())))
    extra = dict(entries[2].spec, note=[1, 2])
    entries = [sweepdir.Entry("odd", entries[0].group, odd),
               sweepdir.Entry("reordered", entries[1].group, reordered),
               sweepdir.Entry("extra", entries[2].group, extra), *entries[3:]]
    SweepDir(tmp_path).create("pointgan sweep --study article", spec.model_dump(), entries)
    index = SweepDir(tmp_path).index
    assert _text(index.entries) == _text(entries)  # keys, order, values and JSON types
    assert index.command == "pointgan sweep --study article"
    assert index.sweep == json.loads(json.dumps(spec.model_dump()))
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["schema_version"] == 2
    assert len(doc["bases"]) < len(entries) / 2  # each group's spec once
    assert {k for row in doc["members"] if row[2] is not None for k in row[3]} <= {
        "seed", "lr_g", "weight_decay"}


def test_sweep_json_is_small_per_member(tmp_path):
    from pointgan_cli.sweep.ranges import parse_seeds
    from pointgan_cli.sweep.spec import build_sweep_spec, expand

    spec = build_sweep_spec(["fixed"], None, {}, parse_seeds("0-1023"), None,
                            {"steps": 1500}, None)
    entries = [sweepdir.Entry(i, g, s.model_dump(mode="json")) for i, g, s in expand(spec)]
    SweepDir(tmp_path).create("c", spec.model_dump(mode="json"), entries)
    assert (tmp_path / "sweep.json").stat().st_size / len(entries) < 64  # was 1,086 B
    assert _text(SweepDir(tmp_path).index.entries) == _text(entries)


def test_a_sweep_json_listing_whole_specs_per_member_is_refused(tmp_path):
    """The member list of an unreleased first format (every member's whole spec) is not read:
    one line saying the index is corrupt."""
    old = {"schema_version": 1, "command": "pointgan sweep", "sweep": {},
           "members": [{"id": "fixed-s0000", "group": "fixed", "spec": {"seed": 0}}]}
    (tmp_path / "sweep.json").write_text(json.dumps(old))
    with pytest.raises(UsageError, match="sweep.json is corrupt"):
        SweepDir.open(tmp_path)


def test_a_half_made_sweep_out_names_the_resume_command(tmp_path, cli, monkeypatch):
    """A sweep whose executor failed to start leaves sweep.json and members/: the refusal
    says that --resume continues it (with the command), not just "not empty". (A bad
    --ray-address no longer gets that far: it is checked before anything is written.)"""
    from pointgan_cli.errors import RuntimeFailure
    from pointgan_cli.sweep import run as sweep_run

    def fails(*args, **kw):
        raise RuntimeFailure("the executor failed to start")

    out = tmp_path / "s"
    with monkeypatch.context() as m:
        m.setattr(sweep_run, "run_local", fails)
        res = cli(["sweep", "--seeds", "2", "--steps", "50", "--out", out])
    assert res.exit_code == 1 and (out / "sweep.json").is_file()
    res = cli(["sweep", "--seeds", "2", "--steps", "50", "--out", out])
    assert res.exit_code == 2
    assert f"continue it with: pointgan sweep --resume --out {out}" in res.stderr
    res = cli(["sweep", "--resume", "--out", out, "--quiet"])
    assert res.exit_code == 0, res.output


# -- SweepDir: one object per sweep, what it read kept for its lifetime ----------------------------


def test_a_sweepdir_keeps_what_it_read_and_a_new_one_reads_again(sweep, tmp_path):
    """Reads are held by the object, not by the module: one opened before a batch is removed
    still gives that batch's members; one opened after reads the store as it is."""
    import shutil

    copy = tmp_path / "s"
    shutil.copytree(sweep, copy)
    before = SweepDir(copy)
    ids = before.ids
    want = before.members.summaries(ids)
    assert all(s is not None for s in want)
    gone = before.members.where()[ids[0]][0]
    for f in (copy / "batches").glob(f"{gone}.*"):
        f.unlink()
    assert before.members.summaries(ids) == want
    after = SweepDir(copy)
    now = after.members.summaries(ids)
    assert now[0] is None and not after.members.started(ids[0])
    assert [s for s in now if s is not None] == [s for s, i in zip(want, ids)
                                                 if after.members.started(i)]


def test_reading_every_member_holds_a_few_batches_at_a_time(sweep, monkeypatch):
    """Loading each member in turn (``log`` of a sweep, an animated grid) keeps the decoded
    states and metrics of the last ``KEEP_HEAVY`` batches only, and gives the same runs."""
    from pointgan_cli.store import sweepmembers

    monkeypatch.setattr(sweepmembers, "KEEP_HEAVY", 1)
    sd = SweepDir(sweep)
    assert len(sd.batch_ids()) >= 3
    runs = [sd.members.load(i) for i in sd.ids]
    assert len(sd.members._heavy) <= len(sweepmembers.HEAVY)
    fresh = SweepDir(sweep)
    for i, run in zip(sd.ids, runs):
        assert run.metrics == fresh.members.metrics(i)
        assert sd.members.checkpoint(i)["step"] == fresh.members.checkpoint(i)["step"]


def test_a_member_path_opens_its_sweep(sweep):
    from pointgan_cli.store.memberpath import load_any_run, member_address, member_spec

    mid = SweepDir(sweep).ids[2]
    found = member_address(sweep / "members" / mid)
    assert found is not None and isinstance(found[0], SweepDir)
    assert (found[0].path, found[1]) == (sweep, mid)
    assert member_address(sweep / "elsewhere" / mid) is None
    assert load_any_run(sweep / "members" / mid).metrics == SweepDir(sweep).members.metrics(mid)
    assert member_spec(sweep / "members" / mid / "spec.json") == SweepDir(sweep).spec_of(mid)
