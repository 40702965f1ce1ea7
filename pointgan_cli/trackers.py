"""Log finished runs and sweeps to an experiment tracker: MLflow or Weights & Biases.

Everything is logged *from the run directory* after it is complete, so a tracker can only add
to what training wrote, never change or lose it: the resolved spec as parameters, every
``metrics.jsonl`` row at its step, tags (preset, seed, converged, status), and the directory's
pictures and videos (``*.png``, ``*.gif``, ``*.mp4``, ``diagnose/`` included) plus ``spec.json``
and ``summary.json`` as files. A sweep is one parent run with one child per member.

- MLflow: a local file store (``./mlruns``) unless ``tracking_uri`` or ``$MLFLOW_TRACKING_URI``
  names another; experiment ``pointgan`` (or ``$MLFLOW_EXPERIMENT_NAME``); members are nested
  runs of the sweep's run.
- W&B: offline unless ``$WANDB_MODE`` or ``$WANDB_API_KEY`` is set; project ``pointgan`` (or
  ``$WANDB_PROJECT``); the W&B folder is ``<run dir>/wandb``; members share the sweep's group.

The tracker packages are optional extras, imported only when asked for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import sweepdir
from .errors import PointganError, RuntimeFailure, UsageError
from .rundir import SPEC, SUMMARY, Run, load_run

TRACKERS = ("none", "mlflow", "wandb")
PROJECT = "pointgan"
MEDIA = (".png", ".gif", ".mp4")
#: Folders that are tracker output, not run output: never logged as files.
_SKIP_DIRS = {"wandb", "mlruns", sweepdir.MEMBERS}
#: URI schemes MLflow can store to (file and plain paths are handled here).
_MLFLOW_SCHEMES = {"http", "https", "databricks", "databricks-uc", "uc",
                   "sqlite", "postgresql", "mysql", "mssql"}
_MLFLOW_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
               "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def log_run(run_dir: Path | str, tracker: str, tracking_uri: str | None = None,
            parent: str | None = None) -> dict[str, Any] | None:
    """Log the run directory ``run_dir`` to ``tracker`` ("none", "mlflow" or "wandb").

    ``tracking_uri``: MLflow tracking URI or directory (default ``./mlruns``); for W&B the
    server URL. ``parent``: MLflow run id to nest under, or W&B group name. Returns where it
    went (``{"tracker", "run_id", "where"}``), None for "none". Raises UsageError for an unknown
    tracker or a bad run directory, RuntimeFailure for a missing extra or a tracker failure."""
    name = _check(tracker)
    run = load_run(Path(run_dir))
    if name == "none":
        return None
    with _session(name, tracking_uri, run.path) as session:
        return session.log_run(run, parent=parent, tags={})


def log_sweep(sweep_dir: Path | str, tracker: str,
              tracking_uri: str | None = None) -> dict[str, Any] | None:
    """Log the sweep directory ``sweep_dir`` (``sweep.json``, ``members/<id>/`` run dirs,
    ``summary.json``) to ``tracker``: one parent run holding the per-group numbers and the
    sweep's plots, and one child run per member (MLflow: nested runs; W&B: group = the sweep's
    folder name). Same arguments, errors and return value as ``log_run``, plus ``"members"``:
    the child run ids in member order."""
    name = _check(tracker)
    sweep_dir = Path(sweep_dir)
    members, summary = _read_sweep(sweep_dir)
    runs = [(mid, group, sweepdir.load_member(sweep_dir, mid)) for mid, group in members]
    if name == "none":
        return None
    with _session(name, tracking_uri, sweep_dir) as session:
        return session.log_sweep(sweep_dir, runs, summary)


# -- reading -----------------------------------------------------------------------------------


def _check(tracker: Any) -> str:
    name = str(getattr(tracker, "value", tracker))
    if name not in TRACKERS:
        raise UsageError(f"--tracker: unknown tracker {name!r} (choose from {', '.join(TRACKERS)})")
    return name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise UsageError(f"{path} is missing or corrupt") from None


def _read_sweep(sweep_dir: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Members as (id, group) in sweep order, and the sweep's summary ({} if unfinished)."""
    index = sweepdir.read_index(sweep_dir)
    return [(e.id, e.group) for e in index.entries], sweepdir.read_summary(sweep_dir)


def _sweep_numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The sweep's totals and every group's numbers, keyed ``n``, ``<group>/success_rate``."""
    out = {k: v for k, v in summary.items() if k != "schema_version" and _number(v)}
    for g in summary.get("groups", []):
        out.update({f"{g['group']}/{k}": v for k, v in g.items() if _number(v)})
    return out


def _tags(run: Run) -> dict[str, str]:
    s = run.summary
    return {
        "preset": run.spec.preset,
        "seed": str(run.spec.seed),
        "converged": "unknown" if s is None else str(bool(s.get("converged"))).lower(),
        "status": "unfinished" if s is None else str(s.get("status", "finished")),
    }


def _files(root: Path, recursive: bool = True) -> list[tuple[Path, str]]:
    """(file, path relative to root) of the media files and the run's spec/summary."""
    found = [root / n for n in (SPEC, SUMMARY, sweepdir.SWEEP_JSON) if (root / n).is_file()]
    for p in sorted(root.rglob("*") if recursive else root.glob("*")):
        rel = p.relative_to(root)
        if (p.is_file() and p.suffix.lower() in MEDIA and not p.name.startswith(".")
                and not _SKIP_DIRS.intersection(rel.parts[:-1])):
            found.append(p)
    return [(p, p.relative_to(root).as_posix()) for p in found]


def _group_names(runs: list[tuple[str, str, Run]]) -> list[str]:
    return list(dict.fromkeys(g for _, g, _ in runs))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def _missing(package: str) -> RuntimeFailure:
    return RuntimeFailure(f"the {package} tracker needs the {package} package; "
                          f"install it with pip install 'pointgan[{package}]'")


@contextmanager
def _session(name: str, tracking_uri: str | None, directory: Path) -> Iterator[Any]:
    """A tracker session; any tracker exception becomes one RuntimeFailure line."""
    session = _MLflow(tracking_uri) if name == "mlflow" else _Wandb(tracking_uri)
    try:
        with session.env():
            yield session
    except PointganError:
        raise
    except Exception as exc:  # noqa: BLE001 - the tracker's failure, reported as one line
        raise RuntimeFailure(f"{name}: logging to {session.where} failed ({type(exc).__name__}: "
                             f"{_one_line(exc)}); {directory} is intact") from exc


# -- MLflow ------------------------------------------------------------------------------------


class _MLflow:
    def __init__(self, tracking_uri: str | None):
        try:
            from mlflow.entities import Metric, Param
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise _missing("mlflow") from None
        self.Metric, self.Param, self.Client = Metric, Param, MlflowClient
        self.where = self.uri = _mlflow_uri(tracking_uri)
        self._exp_of: dict[str, str] = {}  # run id -> experiment id

    @contextmanager
    def env(self) -> Iterator[None]:
        """Defaults for what the user has not set: MLflow 3 refuses its file store unless
        asked (a local store is what we want), and its HTTP client retries an unreachable
        server for minutes (a command should fail within seconds)."""
        unset = [k for k in _MLFLOW_ENV if k not in os.environ]
        os.environ.update({k: _MLFLOW_ENV[k] for k in unset})
        try:
            self.client = self.Client(tracking_uri=self.uri)
            yield
        finally:
            for k in unset:
                os.environ.pop(k, None)

    def _experiment(self) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or PROJECT
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            try:
                return self.client.create_experiment(name)
            except Exception:  # noqa: BLE001 - maybe created meanwhile by another process
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
        return exp.experiment_id

    @contextmanager
    def _run(self, name: str, tags: dict[str, str], parent: str | None) -> Iterator[str]:
        """A new run, FINISHED when the block completes and FAILED when it raises."""
        if parent and parent not in self._exp_of:
            self._exp_of[parent] = self.client.get_run(parent).info.experiment_id
        exp = self._exp_of[parent] if parent else self._experiment()
        tags = dict(tags, **{"mlflow.parentRunId": parent}) if parent else tags
        run_id = self.client.create_run(exp, run_name=name, tags=tags).info.run_id
        self._exp_of[run_id] = exp
        try:
            yield run_id
        except BaseException:
            with suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED")

    def _fill(self, run_id: str, root: Path, recursive: bool, params: dict[str, Any],
              metrics: list[tuple[str, float, int]]) -> None:
        now = int(time.time() * 1000)
        plist = [self.Param(k, str(v)) for k, v in params.items()]
        mlist = [self.Metric(_metric_key(k), float(v), now, s) for k, v, s in metrics]
        for i in range(0, len(plist), 100):  # MLflow's per-request limits
            self.client.log_batch(run_id, params=plist[i : i + 100])
        for i in range(0, len(mlist), 1000):
            self.client.log_batch(run_id, metrics=mlist[i : i + 1000])
        for path, rel in _files(root, recursive):
            self.client.log_artifact(run_id, str(path), rel.rpartition("/")[0] or None)

    def log_run(self, run: Run, parent: str | None, tags: dict[str, str]) -> dict[str, Any]:
        tags = {**_tags(run), **tags, "pointgan.run_dir": str(run.path.resolve()),
                "mlflow.note.content": f"Re-run with: `{run.command}`"[:5000]}
        metrics = [(k, v, int(row["step"])) for row in run.metrics
                   for k, v in row.items() if k != "step" and _number(v)]
        with self._run(run.path.name, tags, parent) as run_id:
            self._fill(run_id, run.path, True, run.spec.model_dump(mode="json"), metrics)
        return {"tracker": "mlflow", "run_id": run_id, "where": self.uri}

    def log_sweep(self, sweep_dir: Path, runs: list, summary: dict) -> dict[str, Any]:
        tags = {"pointgan.kind": "sweep", "pointgan.sweep_dir": str(sweep_dir.resolve())}
        params = {"members": len(runs), "groups": ", ".join(_group_names(runs))}
        metrics = [(k, v, 0) for k, v in _sweep_numbers(summary).items()]
        with self._run(sweep_dir.name, tags, None) as parent:
            children = [self.log_run(r, parent, {"group": g, "member": m})["run_id"]
                        for m, g, r in runs]
            self._fill(parent, sweep_dir, False, params, metrics)
        return {"tracker": "mlflow", "run_id": parent, "where": self.uri, "members": children}


def _mlflow_uri(tracking_uri: str | None) -> str:
    """Resolve the tracking URI: a plain path (or nothing: ./mlruns) becomes a file: URI."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "mlruns"
    scheme = uri.lower() if uri.lower() in _MLFLOW_SCHEMES else urlparse(uri).scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        path = Path(urlparse(uri).path if scheme == "file" else uri).expanduser().absolute()
        return path.as_uri()
    if scheme.split("+")[0] not in _MLFLOW_SCHEMES:
        raise RuntimeFailure(f"mlflow: unsupported tracking URI {uri!r} (use a directory, file:, "
                             "http(s): or a database URI such as sqlite:///mlflow.db)")
    return uri


def _metric_key(key: str) -> str:
    """MLflow allows letters, digits, and _ - . / : and space in metric names."""
    return re.sub(r"[^\w\-./: ]", "_", key)


# -- Weights & Biases --------------------------------------------------------------------------


class _Wandb:
    def __init__(self, tracking_uri: str | None):
        try:
            import wandb
        except ImportError:
            raise _missing("wandb") from None
        self.wandb = wandb
        configured = os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY")
        self.mode = None if configured else "offline"
        self.base_url = tracking_uri
        if tracking_uri and urlparse(tracking_uri).scheme not in ("http", "https"):
            raise RuntimeFailure(f"wandb: --tracking-uri must be the http(s) URL of a W&B "
                                 f"server, got {tracking_uri!r}")
        self.where = tracking_uri or ("offline" if self.mode else "W&B")

    @contextmanager
    def env(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self.wandb.run is None:  # none of the caller's own runs is active
                try:  # run.finish() may return before the offline log is on disk; this waits
                    self.wandb.teardown()
                except SystemExit as exc:
                    raise RuntimeError(f"the W&B service exited with code {exc.code}") from None

    def _log(self, root: Path, recursive: bool, group: str | None, job_type: str,
             config: dict[str, Any], tags: list[str], notes: str,
             rows: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
        """One W&B run in ``root/wandb``: config, ``rows`` as history, summary, and files
        copied into the run's own folder (so it stays complete if ``root`` moves)."""
        opts: dict[str, Any] = dict(silent=True, console="off", save_code=False,
                                    disable_git=True, x_disable_stats=True, x_disable_meta=True)
        if self.base_url:
            opts["base_url"] = self.base_url
        wrun = self.wandb.init(
            project=os.environ.get("WANDB_PROJECT") or PROJECT, dir=str(root.resolve()),
            mode=self.mode, name=root.name, group=group, job_type=job_type, config=config,
            tags=tags, notes=notes, settings=self.wandb.Settings(**opts))
        disabled = bool(getattr(wrun, "disabled", False))  # WANDB_MODE=disabled: no records
        try:
            for row in rows:
                wrun.log({k: v for k, v in row.items() if k != "step"}, step=int(row["step"]))
            wrun.summary.update(summary)
            for path, rel in [] if disabled else _files(root, recursive):
                dest = Path(wrun.dir) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
                wrun.save(str(dest), base_path=wrun.dir, policy="now")
        finally:
            wrun.finish()
        where = "disabled" if disabled else str(Path(wrun.dir).parent)
        return {"tracker": "wandb", "run_id": wrun.id, "where": where}

    def log_run(self, run: Run, parent: str | None, tags: dict[str, str]) -> dict[str, Any]:
        all_tags = {**_tags(run), **tags}
        return self._log(run.path, True, parent, "member" if parent else "train",
                         run.spec.model_dump(mode="json"),
                         [f"{k}:{v}"[:64] for k, v in all_tags.items()], run.command,
                         run.metrics, dict(run.summary or {}, status=all_tags["status"]))

    def log_sweep(self, sweep_dir: Path, runs: list, summary: dict) -> dict[str, Any]:
        name = sweep_dir.name
        info = self._log(sweep_dir, False, name, "sweep",
                         {"members": len(runs), "groups": _group_names(runs)}, ["sweep"],
                         f"Sweep {sweep_dir}", [], _sweep_numbers(summary))
        info["members"] = [self.log_run(r, name, {"group": g, "member": m})["run_id"]
                           for m, g, r in runs]
        return info
