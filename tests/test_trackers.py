"""Experiment trackers against the real packages: MLflow's local file store (read back with
``MlflowClient``) and W&B in offline mode (its ``.wandb`` transaction log read back with W&B's own
protobuf records). Runs and sweeps are made by the real trainer."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import sys
from pathlib import Path

import pytest
from conftest import make_sweep
from PIL import Image

from pointgan_cli import trackers
from pointgan_cli.errors import RuntimeFailure, UsageError
from pointgan_cli.naming import rerun_command
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store.rundir import load_run
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.training.train import Member, train_batch

if importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("wandb") is None:
    pytest.skip("needs mlflow and wandb", allow_module_level=True)


def MlflowClient(*args, **kwargs):  # noqa: N802 - stands in for MLflow's class
    """MLflow's client, imported when a test first reads a store: importing MLflow and W&B at
    collection cost every pytest worker about 2 s of CPU, also a worker that runs none of
    these tests."""
    from mlflow.tracking import MlflowClient as Client

    return Client(*args, **kwargs)

MEDIA = ["animation.gif", "diagnose/generator-landscape.png"]


@pytest.fixture(autouse=True)
def tracker_env(tmp_path, monkeypatch):
    """A clean tracker environment: nothing configured by the user, everything under tmp."""
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "WANDB_MODE", "WANDB_API_KEY",
                "WANDB_PROJECT", "WANDB_BASE_URL", "WANDB_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for reading back with MlflowClient
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var, sub in (("WANDB_CACHE_DIR", "cache"), ("WANDB_CONFIG_DIR", "config"),
                     ("WANDB_DATA_DIR", "data")):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home" / sub))
    monkeypatch.chdir(tmp_path)


def make_run(path: Path, preset: str = "fixed", seed: int = 1, steps: int = 300) -> Path:
    spec = resolve_spec(preset, overrides={"steps": steps, "seed": seed})
    train_batch([Member(spec=spec, out=path, command=rerun_command(spec, str(path)))])
    return path


def add_media(run_dir: Path) -> None:
    """What animate and diagnose add to a run directory: a GIF and PNGs under diagnose/."""
    (run_dir / "diagnose").mkdir()
    Image.new("RGB", (8, 8), "red").save(run_dir / "diagnose" / "generator-landscape.png")
    Image.new("RGB", (8, 8), "blue").save(run_dir / "animation.gif")


@pytest.fixture
def run_dir(tmp_path):
    path = make_run(tmp_path / "runs" / "fixed-1")
    add_media(path)
    return path


def digest(root: Path) -> dict[str, str]:
    """Every file of a run directory (tracker folders aside) with its content hash."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "wandb" not in p.parts}


def wandb_records(path: Path) -> list:
    """Decode a ``.wandb`` transaction log (a LevelDB-style log of W&B protobuf records)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 2):  # full, first
            buf = chunk
        elif kind in (3, 4):  # middle, last
            buf += chunk
        if kind in (1, 4):
            from wandb.proto import wandb_internal_pb2

            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(buf)
            out.append(rec)
    return out


def offline_run(folder: Path) -> tuple[Path, list]:
    runs = sorted((folder / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    log = list(runs[0].glob("run-*.wandb"))
    assert len(log) == 1
    return runs[0], wandb_records(log[0])


def item_key(item) -> str:
    """A history/summary/config item's key (W&B stores some keys as a one-part nested key)."""
    return item.key or "/".join(item.nested_key)


def by_kind(records: list, kind: str) -> list:
    return [getattr(r, kind) for r in records if r.WhichOneof("record_type") == kind]


# -- MLflow ------------------------------------------------------------------------------------


def test_mlflow_logs_params_metrics_tags_and_files(run_dir, tmp_path):
    uri = (tmp_path / "store").as_uri()
    before = digest(run_dir)
    info = trackers.log_run(run_dir, "mlflow", tracking_uri=uri)
    assert info["tracker"] == "mlflow" and info["where"] == uri
    client = MlflowClient(uri)
    r = client.get_run(info["run_id"])
    run = load_run(run_dir)
    assert r.info.status == "FINISHED"
    assert client.get_experiment(r.info.experiment_id).name == "pointgan"
    assert r.data.params == {k: str(v) for k, v in run.spec.model_dump(mode="json").items()}
    assert r.data.tags["preset"] == "fixed" and r.data.tags["seed"] == "1"
    assert r.data.tags["converged"] == str(run.summary["converged"]).lower()
    assert r.data.tags["status"] == "finished"
    assert r.data.tags["pointgan.run_dir"] == str(run_dir.resolve())
    keys = [k for k in run.metrics[0] if k != "step"]
    assert set(r.data.metrics) == set(keys)
    for key in keys:
        hist = sorted(client.get_metric_history(info["run_id"], key), key=lambda m: m.step)
        assert len(hist) == len(run.metrics)
        assert [m.step for m in hist] == run.steps
        assert [m.value for m in hist] == pytest.approx([row[key] for row in run.metrics])
    top = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"spec.json", "summary.json", "animation.gif", "diagnose"} <= top
    assert [a.path for a in client.list_artifacts(info["run_id"], "diagnose")] == [MEDIA[1]]
    assert digest(run_dir) == before


@pytest.mark.long
def test_train_then_plain_client_on_sqlite_mlflow_db_in_an_empty_folder(cli, tmp_path,
                                                                       monkeypatch):
    """MLflow 3's default store, read back with no environment variables; `pointgan log`
    later adds the files made after training to the same run."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    assert list(tmp_path.iterdir()) == []
    res = cli(["train", "--preset", "fixed", "--steps", "200", "--snapshot-every", "50", "--out",
               "r", "--tracker", "mlflow"])
    assert res.exit_code == 0, res.stderr
    db = tmp_path / "mlflow.db"
    assert db.is_file() and (tmp_path / "mlruns").is_dir()
    hint = [line for line in res.stderr.splitlines() if "mlflow" in line]
    assert len(hint) == 1
    assert hint[0].endswith(f"open it with: mlflow ui --backend-store-uri sqlite:///{db}")
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the tracker's defaults were scoped
    client = MlflowClient("sqlite:///mlflow.db")
    exp = client.get_experiment_by_name("pointgan")
    (r,) = client.search_runs([exp.experiment_id])
    run = load_run(tmp_path / "r")
    assert r.info.status == "FINISHED" and r.info.run_name == "r"
    assert r.info.run_id in hint[0]
    assert r.data.params == {k: str(v) for k, v in run.spec.model_dump(mode="json").items()}
    hist = sorted(client.get_metric_history(r.info.run_id, "b"), key=lambda m: m.step)
    assert [m.step for m in hist] == run.steps == [0, 50, 100, 150, 200]
    assert [m.value for m in hist] == pytest.approx([row["b"] for row in run.metrics])
    assert {a.path for a in client.list_artifacts(r.info.run_id)} == {"spec.json",
                                                                       "summary.json"}
    local = Path(client.download_artifacts(r.info.run_id, "summary.json", str(tmp_path)))
    assert json.loads(local.read_text()) == run.summary

    add_media(tmp_path / "r")
    (tmp_path / "r" / "diagnose" / "generator-landscape.json").write_text("{}")
    res = cli(["log", "r", "--tracker", "mlflow", "--json"])
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["run_id"] == r.info.run_id and info["updated"] is True
    assert res.stderr.startswith(f"updated mlflow run {r.info.run_id}; open it with: ")
    assert len(client.search_runs([exp.experiment_id])) == 1
    top = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert top == {"spec.json", "summary.json", "animation.gif", "diagnose"}
    inside = {a.path for a in client.list_artifacts(r.info.run_id, "diagnose")}
    assert inside == {"diagnose/generator-landscape.png", "diagnose/generator-landscape.json"}
    assert len(client.get_metric_history(r.info.run_id, "b")) == 5  # metrics not doubled

    # Trained again into the same folder: a different run, so a new MLflow run.
    res = cli(["train", "--preset", "fixed", "--steps", "100", "--out", "r", "--force"])
    assert res.exit_code == 0, res.stderr
    res = cli(["log", "r", "--tracker", "mlflow"])
    # (a plain progress line may come first when logging takes over 2 s)
    assert res.exit_code == 0 and res.stderr.splitlines()[-1].startswith("logged to mlflow run ")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 2 and runs[0].info.run_id == r.info.run_id
    assert res.stdout.strip() == runs[1].info.run_id
    assert runs[1].data.params["steps"] == "100"


def test_log_command_logs_a_sweep_as_parent_and_members(cli, sweep_dir, tmp_path):
    store = tmp_path / "store"
    res = cli(["log", sweep_dir, "--tracking-uri", store, "--json"])
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert len(info["members"]) == 3 and info["updated"] is False
    client = MlflowClient(store.as_uri())
    assert client.get_run(info["run_id"]).data.tags["pointgan.kind"] == "sweep"
    again = json.loads(cli(["log", sweep_dir, "--tracking-uri", store, "--json"]).stdout)
    assert again["run_id"] == info["run_id"] and again["members"] == info["members"]
    assert again["updated"] is True


def test_members_stored_in_batches_are_logged_with_their_spec_and_summary(cli, tmp_path):
    """A real sweep keeps its members in batch files (no folder each): `log` of the sweep and
    of one member by its SWEEP/members/ID address still carries spec.json and summary.json."""
    sweep, store = tmp_path / "s", tmp_path / "store"
    res = cli(["sweep", "--seeds", "0-1", "--steps", "100", "--workers", "1", "--out", sweep,
               "-q"])
    assert res.exit_code == 0, res.stderr
    info = json.loads(cli(["log", sweep, "--tracking-uri", store, "--json"]).stdout)
    client = MlflowClient(store.as_uri())
    for child, mid in zip(info["members"], ("baseline-s0000", "baseline-s0001")):
        assert {a.path for a in client.list_artifacts(child)} == {"spec.json", "summary.json"}
        local = client.download_artifacts(child, "summary.json", str(tmp_path))
        assert json.loads(Path(local).read_text()) == SweepDir(sweep).members.summary(mid)
    res = cli(["log", sweep / "members" / "baseline-s0001", "--tracking-uri", store, "--json"])
    assert res.exit_code == 0, res.stderr
    one = client.get_run(json.loads(res.stdout)["run_id"])
    assert one.data.params["seed"] == "1" and one.info.run_name == "baseline-s0001"


def test_files_linked_from_elsewhere_are_never_logged(cli, run_dir, sweep_dir, tmp_path):
    """A symbolic link in a run directory (a file or a folder, even under diagnose/) or a
    member folder that links elsewhere uploads nothing of the target's: a crafted folder cannot
    send a user's files to a tracker."""
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (8, 8), "green").save(outside / "secret.png")
    (outside / "key.json").write_text("{}")
    (run_dir / "leak.png").symlink_to(outside / "secret.png")
    (run_dir / "diagnose" / "keys").symlink_to(outside, target_is_directory=True)
    store = (tmp_path / "store").as_uri()
    info = trackers.log_run(run_dir, "mlflow", tracking_uri=store)
    client = MlflowClient(store)
    assert {a.path for a in client.list_artifacts(info["run_id"])} == {
        "spec.json", "summary.json", "animation.gif", "diagnose"}
    assert [a.path for a in client.list_artifacts(info["run_id"], "diagnose")] == [MEDIA[1]]
    member = sweep_dir / "members" / "fixed-s1"
    if member.exists():
        import shutil

        shutil.rmtree(member)
    member.symlink_to(outside, target_is_directory=True)
    Image.new("RGB", (8, 8), "blue").save(outside / "animation.gif")
    res = cli(["log", member, "--tracking-uri", store, "--json"])
    assert res.exit_code == 0, res.stderr
    arts = {a.path for a in client.list_artifacts(json.loads(res.stdout)["run_id"])}
    assert arts == {"spec.json", "summary.json"}


def test_an_unfinished_sweep_is_refused_with_a_hint_that_works(cli, tmp_path):
    """A sweep interrupted before its last batch trained has members with nothing to log:
    one line naming the command that finishes it (it failed on the first untrained member)."""
    import shlex

    sweep, store = tmp_path / "s w", tmp_path / "store"
    res = cli(["sweep", "--seeds", "0-3", "--steps", "100", "--max-batch", "2", "--workers",
               "1", "--out", sweep, "-q"])
    assert res.exit_code == 0, res.stderr
    (sweep / "summary.json").unlink()
    for p in (sweep / "batches").glob("0001.*"):
        p.unlink()  # as if killed before the second batch's first checkpoint
    res = cli(["log", sweep, "--tracking-uri", store])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "has not finished" in res.stderr and not store.exists()
    hint = shlex.split(res.stderr.split("continue it with ", 1)[1].split(", then", 1)[0])
    assert hint[:2] == ["pointgan", "sweep"]
    assert cli([*hint[1:], "-q"]).exit_code == 0
    res = cli(["log", sweep, "--tracking-uri", store, "--json"])
    assert res.exit_code == 0, res.stderr
    assert len(json.loads(res.stdout)["members"]) == 4


def test_log_command_refuses_what_is_not_a_run(cli, tmp_path):
    res = cli(["log", tmp_path, "--tracker", "mlflow"])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"Error: {tmp_path} is not a pointgan run directory (no spec.json)"
    res = cli(["log", tmp_path, "--tracker", "none"])
    assert res.exit_code == 2 and "--tracker" in res.stderr


@pytest.mark.parametrize("info, hint", [
    ({"tracker": "mlflow", "where": "sqlite:////data/my runs/mlflow.db"},
     "mlflow ui --backend-store-uri 'sqlite:////data/my runs/mlflow.db'"),
    ({"tracker": "mlflow", "where": "file:///data/mlruns"},
     "MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri /data/mlruns"),
    ({"tracker": "mlflow", "where": "http://127.0.0.1:5000"}, "http://127.0.0.1:5000"),
    ({"tracker": "mlflow", "where": "postgresql://u@db/mlflow"},
     "mlflow ui --backend-store-uri postgresql://u@db/mlflow"),
    ({"tracker": "mlflow", "where": "databricks"}, None),
    ({"tracker": "wandb", "where": "/r/wandb/offline-run-1"},
     "wandb sync /r/wandb/offline-run-1"),
    ({"tracker": "wandb", "where": "disabled"}, None),
    ({"tracker": "wandb", "where": "/r/wandb/run-1", "url": "https://wandb.ai/x/y/runs/1"},
     "https://wandb.ai/x/y/runs/1"),
])
def test_open_hint_names_the_command_that_opens_the_store(info, hint):
    assert trackers.open_hint(info) == hint
    line = trackers.logged_line(dict(info, run_id="abc"))
    assert line == (f"logged to {info['tracker']} run abc; open it with: {hint}" if hint
                    else f"logged to {info['tracker']} run abc ({info['where']})")


def test_relative_sqlite_uri_is_made_absolute(tmp_path, monkeypatch):
    from pointgan_cli.trackers.mlflow_store import resolve_uri

    assert resolve_uri(None, "sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_uri("sqlite:////abs/x.db", "") == "sqlite:////abs/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///sub/x.db")
    assert resolve_uri(None, "sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'sub' / 'x.db'}"
    assert resolve_uri("store", "") == (tmp_path / "store").as_uri()


def test_mlflow_plain_directory_uri_and_long_runs(tmp_path):
    """A path is a file store; > 1000 metric values go in several batches."""
    path = make_run(tmp_path / "long", preset="baseline", steps=4000)
    n = len(load_run(path).metrics)
    assert n * 14 > 1000
    info = trackers.log_run(path, "mlflow", tracking_uri="elsewhere/store")
    assert info["where"] == (tmp_path / "elsewhere" / "store").as_uri()
    hist = MlflowClient(info["where"]).get_metric_history(info["run_id"], "d_c2")
    assert len(hist) == n


def test_mlflow_parent_nests_the_run(run_dir, tmp_path):
    uri = (tmp_path / "store").as_uri()
    client = MlflowClient(uri)
    exp = client.create_experiment("mine")
    parent = client.create_run(exp).info.run_id
    info = trackers.log_run(run_dir, "mlflow", tracking_uri=uri, parent=parent)
    child = client.get_run(info["run_id"])
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert child.info.experiment_id == exp


def test_train_with_mlflow_tracker(cli, tmp_path):
    out, store = tmp_path / "r", tmp_path / "store"
    res = cli(["train", "--steps", "200", "--snapshot-every", "50", "--out", out,
               "--tracker", "mlflow", "--tracking-uri", store, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["tracker"]["tracker"] == "mlflow"
    r = MlflowClient(store.as_uri()).get_run(doc["tracker"]["run_id"])
    assert r.data.params["steps"] == "200"
    assert len(MlflowClient(store.as_uri()).get_metric_history(r.info.run_id, "w")) == 5


@pytest.mark.parametrize("uri", ["foo://nowhere", "{tmp}/afile/mlruns"])
def test_mlflow_bad_uri_fails_in_one_line_and_keeps_the_run(cli, tmp_path, uri):
    (tmp_path / "afile").write_text("not a directory")
    uri = uri.format(tmp=tmp_path)
    out = tmp_path / "r"
    res = cli(["train", "--steps", "200", "--out", out, "--tracker", "mlflow",
               "--tracking-uri", uri])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: mlflow: "), res.stderr
    assert f"{out} is intact" in lines[0] or "unsupported tracking URI" in lines[0]
    assert res.stdout == ""
    run = load_run(out)
    assert run.summary["status"] == "finished" and run.steps[-1] == 200
    assert (out / "checkpoints" / "last.npz").is_file()
    before = digest(out)
    with pytest.raises(RuntimeFailure):
        trackers.log_run(out, "mlflow", tracking_uri=uri)
    assert digest(out) == before


def test_an_unreachable_mlflow_server_fails_before_training(cli, tmp_path):
    """An http(s) store that nothing answers is found before training (as W&B's is), not after
    the run: one line, exit 1, nothing made."""
    res = cli(["train", "--steps", "20", "--out", tmp_path / "r", "--tracker", "mlflow",
               "--tracking-uri", "http://127.0.0.1:1"])
    assert res.exit_code == 1, res.stderr
    assert res.stderr.startswith("Error: mlflow: cannot reach http://127.0.0.1:1")
    assert res.stderr.count("\n") == 1 and not (tmp_path / "r").exists()


def test_unknown_tracker_is_a_usage_error(cli, run_dir, tmp_path):
    with pytest.raises(UsageError, match="unknown tracker 'neptune'"):
        trackers.log_run(run_dir, "neptune")
    res = cli(["train", "--steps", "100", "--out", tmp_path / "x", "--tracker", "neptune"])
    assert res.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_none_logs_nothing_but_checks_the_directory(run_dir, tmp_path):
    assert trackers.log_run(run_dir, "none") is None
    assert not (tmp_path / "mlruns").exists() and not (run_dir / "wandb").exists()
    with pytest.raises(UsageError, match="not a pointgan run directory"):
        trackers.log_run(tmp_path, "none")


@pytest.mark.parametrize("package", ["mlflow", "wandb"])
def test_missing_extra_names_it(cli, tmp_path, monkeypatch, package):
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import <package>` fail
    monkeypatch.setitem(sys.modules, package, None)
    out = tmp_path / "r"
    res = cli(["train", "--steps", "100", "--out", out, "--tracker", package])
    assert res.exit_code == 1
    assert res.stderr.strip() == (
        f"Error: the {package} tracker needs the {package} package; "
        f"install it with pip install 'pointgan[{package}]'"
    )
    assert not out.exists()  # checked before training: nothing trained, nothing created


def test_a_database_store_without_sqlalchemy_fails_before_training(cli, tmp_path,
                                                                  monkeypatch):
    """mlflow-skinny alone has no SQL store: say so, and what to install, before training."""
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # makes find_spec say "not installed"
    for extra in ([], ["--tracking-uri", "postgresql://u@db/mlflow"]):
        res = cli(["train", "--steps", "100", "--out", tmp_path / "r", "--tracker", "mlflow",
                   *extra])
        assert res.exit_code == 1
        uri = extra[-1] if extra else "sqlite:///mlflow.db"
        assert res.stderr.strip() == (
            f"Error: the mlflow store {uri} is a database, which mlflow-skinny cannot write; "
            "install the full package with pip install 'pointgan[mlflow]'")
        assert not (tmp_path / "r").exists() and not (tmp_path / "mlflow.db").exists()


# -- Weights & Biases --------------------------------------------------------------------------


def test_wandb_offline_run_holds_metrics_config_tags_and_files(run_dir):
    before = digest(run_dir)
    info = trackers.log_run(run_dir, "wandb")
    folder, records = offline_run(run_dir)
    assert info["tracker"] == "wandb" and Path(info["where"]) == folder.resolve()
    assert folder.name.endswith(info["run_id"])
    run = load_run(run_dir)
    (rr,) = by_kind(records, "run")
    assert rr.project == "pointgan" and rr.display_name == "fixed-1"
    assert {"preset:fixed", "seed:1", "status:finished",
            f"converged:{str(run.summary['converged']).lower()}"} <= set(rr.tags)
    config = {item_key(i): json.loads(i.value_json) for i in rr.config.update}
    assert {k: config[k] for k in run.spec.model_dump()} == run.spec.model_dump(mode="json")
    history = by_kind(records, "history")
    assert [h.step.num for h in history] == run.steps
    for h, row in zip(history, run.metrics):
        logged = {k: json.loads(i.value_json) for i in h.item
                  if not (k := item_key(i)).startswith("_")}
        assert logged == pytest.approx({k: v for k, v in row.items() if k != "step"})
    saved = {f.path for rec in by_kind(records, "files") for f in rec.files}
    assert {"spec.json", "summary.json", *MEDIA} <= saved
    for name in MEDIA:
        assert (folder / "files" / name).read_bytes() == (run_dir / name).read_bytes()
    summary = {item_key(i): i.value_json for rec in by_kind(records, "summary") for i in rec.update}
    assert json.loads(summary["converged"]) == run.summary["converged"]
    assert digest(run_dir) == before


def test_train_with_wandb_tracker_writes_under_the_run(cli, tmp_path):
    out = tmp_path / "r"
    res = cli(["train", "--steps", "100", "--snapshot-every", "50", "--out", out, "--tracker",
               "wandb", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)  # W&B printed nothing on stdout
    folder, records = offline_run(out)
    assert doc["tracker"]["run_id"] in folder.name
    assert len(by_kind(records, "history")) == 3


def test_log_command_to_wandb_brings_the_later_files_and_names_wandb_sync(cli, run_dir):
    (run_dir / "diagnose" / "generator-landscape.json").write_text("{}")
    res = cli(["log", run_dir, "--tracker", "wandb", "--json"])
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    folder, records = offline_run(run_dir)
    assert Path(info["where"]) == folder.resolve() and info["updated"] is False
    assert res.stderr.strip() == (f"logged to wandb run {info['run_id']}; open it with: "
                                  f"wandb sync {folder.resolve()}")
    saved = {f.path for rec in by_kind(records, "files") for f in rec.files}
    assert {*MEDIA, "diagnose/generator-landscape.json"} <= saved


def test_wandb_bad_server_url_fails_before_writing(run_dir):
    before = digest(run_dir)
    with pytest.raises(RuntimeFailure, match="http"):
        trackers.log_run(run_dir, "wandb", tracking_uri="ftp://example")
    assert not (run_dir / "wandb").exists() and digest(run_dir) == before


# -- sweeps ------------------------------------------------------------------------------------


@pytest.fixture
def sweep_dir(tmp_path):
    """A small real sweep: two groups, three trained members."""
    members = [("baseline-s0", "baseline", 0), ("fixed-s0", "fixed", 0), ("fixed-s1", "fixed", 1)]
    return make_sweep(tmp_path / "sweeps" / "demo", [
        (mid, group, resolve_spec(group, overrides={"steps": 200, "seed": seed,
                                                    "snapshot_every": 50}))
        for mid, group, seed in members])


def test_mlflow_sweep_is_a_parent_with_nested_members(sweep_dir, tmp_path):
    uri = (tmp_path / "store").as_uri()
    info = trackers.log_sweep(sweep_dir, "mlflow", tracking_uri=uri)
    client = MlflowClient(uri)
    parent = client.get_run(info["run_id"])
    assert parent.info.run_name == "demo" and parent.data.tags["pointgan.kind"] == "sweep"
    assert parent.data.params == {"members": "3", "groups": "baseline, fixed"}
    assert parent.data.metrics["fixed/n"] == 2 and parent.data.metrics["n"] == 3
    assert {"baseline/success_rate", "fixed/wilson_low", "converged"} <= set(parent.data.metrics)
    assert "schema_version" not in parent.data.metrics
    files = {a.path for a in client.list_artifacts(info["run_id"])}
    assert files == {"sweep.json", "summary.json", "summary.csv", "weights.png", "success.png",
                     "convergence.png"}  # what the sweep wrote beside sweep.json
    assert len(info["members"]) == 3
    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{info['run_id']}'")
    assert sorted(c.info.run_id for c in children) == sorted(info["members"])
    names = {c.info.run_name: c.data.tags["group"] for c in children}
    assert names == {"baseline-s0": "baseline", "fixed-s0": "fixed", "fixed-s1": "fixed"}
    for c in children:
        assert len(client.get_metric_history(c.info.run_id, "distance")) == 5


def test_wandb_sweep_groups_members_under_the_sweep_name(sweep_dir):
    info = trackers.log_sweep(sweep_dir, "wandb")
    _, records = offline_run(sweep_dir)
    (parent,) = by_kind(records, "run")
    assert parent.run_group == "demo" and parent.job_type == "sweep"
    summary = {item_key(i) for rec in by_kind(records, "summary") for i in rec.update}
    assert {"n", "fixed/success_rate", "baseline/w_mean"} <= summary
    saved = {f.path for rec in by_kind(records, "files") for f in rec.files}
    assert {"sweep.json", "summary.json", "weights.png", "success.png"} <= saved
    ids = []
    for mid in ("baseline-s0", "fixed-s0", "fixed-s1"):
        _, recs = offline_run(sweep_dir / "members" / mid)
        (rr,) = by_kind(recs, "run")
        assert rr.run_group == "demo" and rr.display_name == mid and rr.job_type == "member"
        assert len(by_kind(recs, "history")) == 5
        ids.append(rr.run_id)
    assert ids == info["members"]


def test_log_sweep_rejects_a_run_directory(run_dir):
    with pytest.raises(UsageError, match="not a pointgan sweep directory"):
        trackers.log_sweep(run_dir, "mlflow")
