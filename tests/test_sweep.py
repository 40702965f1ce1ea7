import json
import signal
import time

import numpy as np
import pytest
from conftest import popen_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from pointgan_cli.errors import UsageError
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import ckptfile
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep.ranges import parse_grid, parse_seeds
from pointgan_cli.sweep.spec import build_sweep_spec, expand
from pointgan_cli.sweep.stats import mcnemar_exact
from pointgan_cli.sweep.summaries import wilson


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-2,20-21,1") == [0, 1, 2, 20, 21]
    for bad in ("5-2", "", "a", "1-", "-3", "1,,x"):
        with pytest.raises(UsageError, match="^--seeds:"):
            parse_seeds(bad)


def test_parse_grid():
    assert parse_grid(["lr_d=0.01,0.003", "inner-batch=4,8"]) == {
        "lr_d": [0.01, 0.003], "inner_batch": [4, 8]}
    for bad in (["nope=1,2"], ["lr_d="], ["lr_d=fast"], ["lr_d"], ["steps=1.5"],
                ["preset=fixed"]):
        with pytest.raises(UsageError, match="^--grid:"):
            parse_grid(bad)


def test_expand_members_and_groups():
    spec = build_sweep_spec(["baseline", "fixed"], None, parse_grid(["lr_d=0.01,0.003"]),
                            [0, 1], None, {"steps": 100})
    members = expand(spec)
    assert len(members) == 8
    assert len({m[0] for m in members}) == 8
    groups = {g for _, g, _ in members}
    assert groups == {"baseline lr-d=0.01", "baseline lr-d=0.003", "fixed lr-d=0.01",
                      "fixed lr-d=0.003"}
    assert all(s.steps == 100 for _, _, s in members)
    bad = build_sweep_spec(["fixed"], None, parse_grid(["lr_d=-1"]), [0], None, {})
    with pytest.raises(UsageError, match="^--grid: lr_d"):
        expand(bad)


def test_article_study_has_every_experiment_at_two_learning_rates():
    spec = build_sweep_spec([], "article", {}, [0], None, {"steps": 3000})  # one budget
    members = expand(spec)
    labels = {g for _, g, _ in members}
    assert len(labels) == 18
    for name in ("baseline", "easing", "weighted", "weight-decay=0.1", "weight-decay=0.001",
                 "weight-decay=1e-05", "noise-scale=0.5", "noise-scale=1.5", "fixed"):
        assert f"{name} lr=0.01" in labels and f"{name} lr=0.003" in labels
    wd3 = next(s for _, g, s in members if g == "weight-decay=0.001 lr=0.003")
    assert (wd3.weight_decay, wd3.lr_d, wd3.lr_g) == (1e-3, 0.003, 0.003)


def test_literature_study_covers_the_stabilisers():
    members = expand(build_sweep_spec([], "literature", {}, [0, 1], None, {}))
    specs = {g: s for _, g, s in members}
    assert len(specs) == 16 and len(members) == 32
    assert specs["WGAN-GP lr=0.01"].loss == "wgan" and specs["WGAN-GP lr=0.01"].gp_weight > 0
    assert specs["R1 lr=0.003"].r1 > 0 and specs["R2 lr=0.01"].r2 > 0
    assert specs["instance noise lr=0.01"].instance_noise > 0
    assert specs["LSGAN lr=0.01"].loss == "lsgan" and specs["hinge lr=0.01"].loss == "hinge"
    assert specs["fixed lr=0.003"].noise_scale == 1.5


def test_sweep_command_round_trips(tmp_path):
    from pointgan_cli.sweep.ranges import format_seeds
    from pointgan_cli.sweep.spec import sweep_command

    assert format_seeds([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    spec = build_sweep_spec(["baseline", "fixed"], None, parse_grid(["lr_d=0.01,0.003"]),
                            [0, 1, 2, 9], None, {"steps": 100})
    cmd = sweep_command(spec, tmp_path / "s").split()
    assert cmd[:2] == ["pointgan", "sweep"] and "0-2,9" in cmd and "lr_d=0.01,0.003" in cmd
    art = sweep_command(build_sweep_spec([], "article", {}, [0], None, {}), tmp_path)
    assert "--study article" in art and "--preset" not in art


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 5000), min_size=1, max_size=60))
def test_seed_ranges_round_trip(seeds):
    from pointgan_cli.sweep.ranges import format_seeds

    assert parse_seeds(format_seeds(sorted(seeds))) == sorted(seeds)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500), st.data())
def test_wilson_interval_contains_the_rate(n, data):
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval():
    lo, hi = wilson(50, 50)
    assert hi == 1.0 and abs(lo - 0.9287) < 1e-3
    lo, hi = wilson(5, 10)
    assert abs(lo - 0.2366) < 1e-3 and abs(hi - 0.7634) < 1e-3


def _metrics(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.long
def test_member_equals_train_alone(cli, tmp_path):
    res = cli(["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-2,5",
               "--steps", "600", "--workers", "2", "--max-batch", "3", "--out", tmp_path / "s",
               "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [g["group"] for g in doc["groups"]] == ["baseline", "fixed"]
    assert doc["n"] == 8
    rates = [r["success_rate"] for r in doc["ranking"]]
    assert rates == sorted(rates, reverse=True) and len(rates) == 2
    base, fixed = doc["groups"]
    assert base["reference"] == fixed["reference"] == "baseline"  # the first preset
    assert base["mcnemar_p"] is None and base["paired"] is None
    pair = fixed["paired"]
    assert pair["n"] == 4 and pair["both"] + pair["neither"] + pair["only_group"] + pair[
        "only_reference"] == 4
    assert fixed["mcnemar_p"] == mcnemar_exact(pair["only_group"], pair["only_reference"])
    assert fixed["converged"] - base["converged"] == pair["only_group"] - pair["only_reference"]
    assert sum(fixed["classes"].values()) == 4 and fixed["median_final_distance"] >= 0
    for f in ("sweep.json", "summary.json", "weights.png", "success.png"):
        assert (tmp_path / "s" / f).stat().st_size > 0
    # members share their batch's two files; no member gets a directory of its own
    assert list((tmp_path / "s" / "members").iterdir()) == []
    batches = sorted(p.name for p in (tmp_path / "s" / "batches").iterdir())
    assert len(batches) == 2 * 4 and all(n.endswith((".metrics.npz", ".state.npz"))
                                         for n in batches)
    for preset, seed in (("fixed", 5), ("baseline", 1)):
        mid = f"{preset}-s{seed:04d}"
        exported = tmp_path / f"export-{mid}"
        r = cli(["sweep", "export", tmp_path / "s", mid, "--out", exported])
        assert r.exit_code == 0, r.stderr
        alone = tmp_path / f"alone-{mid}"
        r = cli(["train", "--preset", preset, "--seed", seed, "--steps", "600", "--out", alone])
        assert r.exit_code == 0
        a, b = _metrics(exported / "metrics.jsonl"), _metrics(alone / "metrics.jsonl")
        assert len(a) == len(b) > 10

        steps, ws, bs = SweepDir(tmp_path / "s").members.curve(mid)  # what the charts draw
        assert steps == [r["step"] for r in b] and ws == [r["w"] for r in b]
        assert bs == [r["b"] for r in b]
        assert a == b  # every number, the losses too: recomputed by the code that trained
        sa = json.loads((exported / "summary.json").read_text())
        sb = json.loads((alone / "summary.json").read_text())
        assert sa.keys() == sb.keys()
        assert sa["converged"] == sb["converged"] and sa["w"] == sb["w"] and sa["b"] == sb["b"]
        assert sa["class"] == sb["class"] and sa["window_max_distance"] == sb[
            "window_max_distance"]
        assert json.loads((exported / "spec.json").read_text())["spec"] == json.loads(
            (alone / "spec.json").read_text())["spec"]
        ca = ckptfile.load(exported / "checkpoints" / "last.npz")
        cb = ckptfile.load(alone / "checkpoints" / "last.npz")
        assert np.array_equal(ca["discriminator"], cb["discriminator"]) and ca["step"] == 600
        # the same class, from the export, the member's address and the run trained alone
        classes = set()
        for run in (exported, tmp_path / "s" / "members" / mid, alone):
            r = cli(["diagnose", "run", run, "--json"])
            assert r.exit_code == 0, r.stderr
            classes.add(json.loads(r.stdout)["class"])
        assert len(classes) == 1


@pytest.mark.parametrize("engine, extra", [("torch", []), ("fused", ["--consensus", "0.3"])])
def test_an_exported_member_has_the_metrics_of_its_run_alone_bit_for_bit(cli, tmp_path, engine,
                                                                          extra):
    """Its losses are recomputed from the stored parameters by the engine that trained it
    (the fused engine's numpy, the torch engine's torch), so they are the run's own; a fused
    spec with --consensus trains on torch (a fallback) and gets torch's. (The fused engine's
    own members: ``test_member_equals_train_alone``.)"""
    out = tmp_path / "s"
    assert cli(["sweep", "--preset", "fixed", "--seeds", "0-2", "--steps", "60", "--engine",
                engine, *extra, "--out", out]).exit_code == 0
    assert cli(["sweep", "export", out, "fixed-s0001", "--out", tmp_path / "x"]).exit_code == 0
    alone = tmp_path / "alone"
    assert cli(["train", "--preset", "fixed", "--seed", "1", "--steps", "60", "--engine",
                engine, *extra, "--out", alone]).exit_code == 0
    exported = (tmp_path / "x" / "metrics.jsonl").read_bytes()
    assert exported == (alone / "metrics.jsonl").read_bytes()


def test_export_refuses_unknown_members_and_non_empty_targets(cli, tmp_path):
    assert cli(["sweep", "--preset", "fixed", "--seeds", "0", "--steps", "60", "--out",
                tmp_path / "s", "--quiet"]).exit_code == 0
    r = cli(["sweep", "export", tmp_path / "s", "nope", "--out", tmp_path / "e"])
    assert r.exit_code == 2 and "nope" in r.stderr and not (tmp_path / "e").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    r = cli(["sweep", "export", tmp_path / "s", "fixed-s0000", "--out", tmp_path / "full"])
    assert r.exit_code == 2 and (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_a_member_is_a_run_for_config_resume_and_animate(cli, tmp_path):
    sweep = tmp_path / "s"
    assert cli(["sweep", "--preset", "fixed", "--seeds", "3-4", "--steps", "120",
                "--checkpoint-every", "60", "--workers", "1", "--out", sweep,
                "--quiet"]).exit_code == 0
    member = sweep / "members" / "fixed-s0004"
    # --config: the member's spec, as a run's spec.json would give it
    r = cli(["train", "--config", member / "spec.json", "--steps", "60", "--out",
             tmp_path / "c", "--json"])
    assert r.exit_code == 0, r.stderr
    spec = json.loads((tmp_path / "c" / "spec.json").read_text())["spec"]
    assert spec["seed"] == 4 and spec["preset"] == "fixed" and spec["steps"] == 60
    # animate reads it like a run directory
    r = cli(["animate", member, "--still", "100", "--dpi", "30", "--out", tmp_path / "f.png"])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "f.png").stat().st_size > 0
    # --resume: the sweep alone writes its members; its export resumes as a run, equal to the
    # stored member
    r = cli(["train", "--resume", "--out", member, "--json"])
    assert r.exit_code == 2 and "sweep export" in r.stderr and not member.exists()
    copy = tmp_path / "copy"
    assert cli(["sweep", "export", member, "--out", copy]).exit_code == 0
    r = cli(["train", "--resume", "--out", copy, "--json"])
    assert r.exit_code == 0, r.stderr
    stored = json.loads(r.stdout)
    alone = tmp_path / "alone"
    assert cli(["train", "--preset", "fixed", "--seed", "4", "--steps", "120",
                "--checkpoint-every", "60", "--out", alone]).exit_code == 0
    a, b = _metrics(copy / "metrics.jsonl"), _metrics(alone / "metrics.jsonl")
    assert len(a) == len(b) > 10
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys() and ra["w"] == rb["w"] and ra["d_c2"] == rb["d_c2"]
        assert max(abs(ra[k] - rb[k]) for k in ra) < 1e-12
    assert stored["w"] == json.loads((alone / "summary.json").read_text())["w"]


def test_disk_per_member_is_small(cli, tmp_path):
    """31 snapshots of 9 float32 parameters (1.1 KB raw) plus the state and summary: the
    batch store holds a member in well under 4 KB (a run directory took 41 KB)."""
    out = tmp_path / "s"
    assert cli(["sweep", "--preset", "fixed", "--seeds", "0-63", "--steps", "300",
                "--snapshot-every", "10", "--workers", "1", "--out", out,
                "--quiet"]).exit_code == 0
    stored = sum(p.stat().st_size for p in (out / "batches").iterdir())
    assert stored / 64 < 2048


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--seeds", "5-2"], "--seeds"),
        (["--seeds", "x"], "--seeds"),
        (["--grid", "nope=1"], "--grid"),
        (["--grid", "lr_d="], "--grid"),
        (["--grid", "lr_d=abc"], "--grid"),
        (["--grid", "lr_d=-1"], "--grid"),
        (["--preset", "nope"], "--preset"),
        (["--study", "nope"], "--study"),
        (["--preset", "baseline", "--reference", "fixed"], "--reference"),
        (["--max-batch", "0"], "--max-batch"),
        (["--max-batch", "lots"], "--max-batch"),
    ],
)
def test_bad_sweep_input_is_one_line_exit_2_nothing_created(cli, tmp_path, monkeypatch, args,
                                                            needle):
    monkeypatch.chdir(tmp_path)
    res = cli(["sweep", *args, "--steps", "10", "--out", "s"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.long
def _wait_for_a_checkpoint(proc, out):
    """Until the sweep at ``out`` has a batch state on disk (the process still running)."""
    t0 = time.time()
    while not list((out / "batches").glob("*.state.npz")):
        assert proc.poll() is None and time.time() - t0 < 120
        time.sleep(0.01)


def _resumes_to_the_summary_of(full, cli, out, *flags):
    """The killed sweep at ``out`` has no summary; ``--resume`` (with ``flags``) finishes it
    with the summary of the uninterrupted sweep ``full``."""
    assert not (out / "summary.json").exists()
    res = cli(["sweep", "--resume", *flags, "--out", out])
    assert res.exit_code == 0, res.stderr
    assert (out / "summary.json").read_text() == (full / "summary.json").read_text()


def test_kill_9_then_resume_gives_the_same_summary(cli, tmp_path):
    """A real sweep process on two workers is killed mid-sweep; resuming it (in-process, one
    worker: the engine is batch-invariant) gives the summary of an uninterrupted sweep (also
    in-process on one worker: neither starts worker processes)."""
    args = ["sweep", "--preset", "baseline", "--preset", "noise", "--seeds", "0-3",
            "--steps", "1500", "--checkpoint-every", "100"]
    assert cli([*args, "--workers", "1", "--out", tmp_path / "full"]).exit_code == 0
    out = tmp_path / "killed"
    proc = popen_cli([*args, "--workers", "2", "--out", out])
    _wait_for_a_checkpoint(proc, out)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # orphaned workers notice their parent is gone
    _resumes_to_the_summary_of(tmp_path / "full", cli, out, "--workers", "1")


def test_sweep_with_mlflow_tracker_logs_parent_and_members(cli, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    res = cli(["sweep", "--preset", "baseline", "--seeds", "0-1", "--steps", "100",
               "--workers", "1", "--tracker", "mlflow", "--tracking-uri", uri, "--out",
               tmp_path / "s", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(doc["tracker"]["run_id"])
    runs = client.search_runs([parent.info.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2


def test_max_batch_auto_plans_cache_sized_batches_on_a_cpu():
    from pointgan_cli.engine.batching import CPU_BATCH, auto_max_batch
    from pointgan_cli.sweep.plan import plan_jobs
    from pointgan_cli.sweep.spec import SweepMember

    spec = resolve_spec("fixed")
    assert auto_max_batch(spec) == CPU_BATCH == 256
    members = [SweepMember(str(s), "fixed", spec.model_copy(update={"seed": s}))
               for s in range(600)]
    sizes = sorted(len(j.members) for j in plan_jobs(members, None, 2))
    assert sizes == [200, 200, 200]  # ceil(600 / 256) = 3 pieces, balanced
    assert sorted(len(j.members) for j in plan_jobs(members, 100, 2)) == [100] * 6


def test_two_sweeps_started_in_the_same_second_get_their_own_directories(cli, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20260101-120000")
    for _ in range(2):
        res = cli(["sweep", "--preset", "baseline", "--seeds", "0", "--steps", "20", "--quiet"])
        assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "sweep-20260101-120000", "sweep-20260101-120000-2"]


def test_batch_windows_are_each_members_own_window():
    """The evidence rows (the success window and the window before it) gathered once per
    start are, member by member, the rows of that member's own evidence (members may differ
    in ``success_window``)."""
    import numpy as np

    from pointgan_cli import verdict
    from pointgan_cli.store import sweepstore
    from pointgan_cli.sweep.jobs import _windows

    specs = [resolve_spec("fixed", overrides={"seed": s, "steps": 1500,
                                              "success_window": 0.2 if s % 3 else 0.5})
             for s in range(6)]
    metrics = sweepstore.BatchMetrics([f"m{i}" for i in range(6)])
    rng = np.random.default_rng(0)
    metrics.steps = list(range(0, 1501, 50))
    metrics.params = [rng.standard_normal((6, 9)).astype(np.float32) for _ in metrics.steps]
    got = _windows(metrics, specs)
    for i, spec in enumerate(specs):
        start = verdict.evidence_start(spec.steps, spec.success_window)
        want = [(s, float(p[i, 0]), float(p[i, 1]))
                for s, p in zip(metrics.steps, metrics.params) if s >= start]
        assert got[i] == want and len(want) in (13, 31)


def test_a_finished_batch_copies_its_final_values_once(cli, tmp_path, monkeypatch):
    """The members' summaries read a batch's final values from one host copy: member by
    member reads of the trainer's tensors would each wait for a GPU."""
    from pointgan_cli.sweep import jobs
    from pointgan_cli.training import records

    copies, original = [], records.final_state

    def counted(trainer):
        copies.append(trainer.R)
        return original(trainer)

    def refused(trainer):
        raise AssertionError("a summary read the trainer's tensors itself")

    monkeypatch.setattr(jobs, "final_state", counted)
    monkeypatch.setattr(records, "final_state", refused)
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0-4", "--steps", "60", "--workers", "1",
               "--max-batch", "3", "--out", tmp_path / "s", "--json"])
    assert res.exit_code == 0, res.stderr
    assert sorted(copies) == [2, 3]  # one copy per batch, of the whole batch
    assert json.loads(res.stdout)["n"] == 5


def test_grid_sweeps_have_a_reference_grid_value():
    from pointgan_cli.sweep.spec import reference_groups

    one = build_sweep_spec(["fixed"], None, parse_grid(["weight_decay_mode=decoupled,l2"]),
                           [0], None, {})
    # one method and a --grid: the first value of the first grid is everyone's reference
    assert reference_groups(one) == {"fixed weight-decay-mode=decoupled":
                                     "fixed weight-decay-mode=decoupled",
                                     "fixed weight-decay-mode=l2":
                                     "fixed weight-decay-mode=decoupled"}
    two = build_sweep_spec(["fixed"], None, parse_grid(["lr_d=0.01,0.003", "lr_g=0.01,0.003"]),
                           [0], None, {}, "lr_g=0.003")
    refs = reference_groups(two)
    assert refs["fixed lr-d=0.01 lr-g=0.01"] == "fixed lr-d=0.01 lr-g=0.003"  # lr_d held equal
    assert refs["fixed lr-d=0.003 lr-g=0.01"] == "fixed lr-d=0.003 lr-g=0.003"
    # several methods: compared by method at each grid point, as before
    both = build_sweep_spec(["baseline", "fixed"], None, parse_grid(["lr_d=0.01,0.003"]), [0],
                            None, {})
    assert reference_groups(both)["fixed lr-d=0.003"] == "baseline lr-d=0.003"
    for bad, msg in (("lr_g=0.02", "not one value of --grid lr_g"),
                     ("noise_scale=1", "not a --grid field"), ("nope", "not one of")):
        with pytest.raises(UsageError, match=f"^--reference: .*{msg}"):
            build_sweep_spec(["fixed"], None, parse_grid(["lr_g=0.01,0.003"]), [0], None, {},
                             bad)


def test_an_article_method_named_like_field_value_is_a_method_reference():
    """The article study's methods are named in the one override spelling (``weight-decay=0.1``);
    ``--reference weight-decay=0.1`` picks that method, not a --grid value the sweep lacks."""
    from pointgan_cli.sweep.spec import reference_groups

    spec = build_sweep_spec([], "article", {}, [0], None, {"steps": 300},
                            reference="weight-decay=0.1")
    refs = reference_groups(spec)
    assert refs["fixed lr=0.003"] == "weight-decay=0.1 lr=0.003"
    assert refs["noise-scale=1.5 lr=0.01"] == "weight-decay=0.1 lr=0.01"


def test_checkpoints_are_written_while_the_next_batch_trains_and_all_land_first(
        cli, tmp_path, monkeypatch):
    """A sweep that trains its batches one after another in its own process writes their
    checkpoints on one thread of their own (``store.background``), in order; on a slow disk
    every one is still on disk before the summaries read them, and the sweep's files are
    those of a sweep on a fast one."""
    import threading

    from pointgan_cli.store import sweepstore

    args = ["sweep", "--preset", "fixed", "--seeds", "0-4", "--steps", "60",
            "--checkpoint-every", "20", "--workers", "1", "--max-batch", "3", "-q"]
    assert cli([*args, "--out", tmp_path / "ref"]).exit_code == 0
    real, seen = sweepstore.write_batch, []

    def slow_disk(sweep, bid, metrics, stacked):
        seen.append((threading.current_thread().name, bid, metrics.steps[-1]))
        time.sleep(0.2)
        real(sweep, bid, metrics, stacked)

    monkeypatch.setattr(sweepstore, "write_batch", slow_disk)
    t0 = time.perf_counter()
    assert cli([*args, "--out", tmp_path / "s"]).exit_code == 0
    assert time.perf_counter() - t0 >= 0.2 * 6  # six checkpoints, each on disk before the end
    assert {name for name, _, _ in seen} != {threading.current_thread().name}
    assert [(bid, step) for _, bid, step in seen] == [
        (b, s) for b in ("0000", "0001") for s in (20, 40, 60)]  # in order, every snapshot
    for name in ("summary.json", "summary.csv", "batches/0000.metrics.npz",
                 "batches/0001.metrics.npz"):
        assert (tmp_path / "s" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()


def test_kill_9_of_a_one_process_sweep_then_resume_gives_the_same_summary(cli, tmp_path):
    """The fused engine's default: the batches train one after another in the sweep's own
    process and their checkpoints are written on a thread. Killed once a checkpoint is on
    disk, the sweep resumes to the summary of an uninterrupted one."""
    args = ["sweep", "--preset", "baseline", "--preset", "noise", "--seeds", "0-3",
            "--steps", "3000", "--checkpoint-every", "100", "--max-batch", "4"]
    assert cli([*args, "--out", tmp_path / "full"]).exit_code == 0
    out = tmp_path / "killed"
    proc = popen_cli([*args, "--out", out])
    _wait_for_a_checkpoint(proc, out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _resumes_to_the_summary_of(tmp_path / "full", cli, out)


def test_kill_9_while_checkpoints_wait_to_be_written_then_resume_gives_the_same_summary(
        cli, tmp_path):
    """On a slow disk a one-process sweep's checkpoints queue behind each other on the writes'
    thread. Killed with writes still queued, the sweep keeps the checkpoints that landed (each
    file whole) and resumes to the summary of an uninterrupted sweep."""
    import subprocess
    import sys

    args = ["sweep", "--preset", "baseline", "--preset", "noise", "--seeds", "0-3",
            "--steps", "1500", "--checkpoint-every", "100", "--max-batch", "4", "-q"]
    assert cli([*args, "--out", tmp_path / "full"]).exit_code == 0
    out = tmp_path / "killed"
    slow_disk = (
        "import sys, time\n"
        "from pointgan_cli.store import sweepstore\n"
        "real = sweepstore.write_batch\n"
        "def slow(*a):\n"
        "    time.sleep(0.3)\n"
        "    real(*a)\n"
        "sweepstore.write_batch = slow\n"
        "from pointgan_cli.cli.app import main\n"
        "main(sys.argv[1:])\n")
    proc = subprocess.Popen([sys.executable, "-c", slow_disk, *map(str, args), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_a_checkpoint(proc, out)
    time.sleep(0.45)  # training runs ahead: more checkpoints wait behind the slow writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _resumes_to_the_summary_of(tmp_path / "full", cli, out)
