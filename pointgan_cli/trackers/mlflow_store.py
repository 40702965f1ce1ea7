"""MLflow: a finished run as an MLflow run (params, metric history, tags, artifacts).

The default store is the one MLflow 3 uses itself since 3.7, ``sqlite:///mlflow.db`` in the
working directory, so ``mlflow ui`` and a plain ``MlflowClient("sqlite:///mlflow.db")`` open it
with no environment variables. Logging the same unchanged directory again (``pointgan log``
after ``animate`` or ``diagnose``) adds the new files to the run logged before instead of making
a second run: the run carries a ``pointgan.fingerprint`` tag, a digest of its params, metrics
and summary.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import RuntimeFailure
from ..results import progress
from ..store.rundir import Run
from .common import (
    PROJECT,
    documents,
    files,
    fingerprint,
    group_names,
    is_number,
    missing,
    run_tags,
    sweep_numbers,
)

#: URI schemes MLflow can store to (file and plain paths are handled here).
SCHEMES = {"http", "https", "databricks", "databricks-uc", "uc",
           "sqlite", "postgresql", "mysql", "mssql"}
#: Set for pointgan's own logging unless the user set them: MLflow 3 refuses its file store
#: unless asked (a directory given as --tracking-uri is one), and its HTTP client retries an
#: unreachable server for minutes (a command should fail within seconds).
ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
       "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
FINGERPRINT = "pointgan.fingerprint"


class MLflowSession:
    def __init__(self, tracking_uri: str | None, default_uri: str):
        try:
            from mlflow.entities import Metric, Param, RunTag
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing("mlflow") from None
        self.Metric, self.Param, self.RunTag, self.Client = Metric, Param, RunTag, MlflowClient
        self.where = self.uri = resolve_uri(tracking_uri, default_uri)
        self._exp_of: dict[str, str] = {}  # run id -> experiment id

    @contextmanager
    def env(self) -> Iterator[None]:
        """``ENV`` for what the user has not set, and MLflow's INFO lines (creating the
        database tables) held back: the command itself prints one line."""
        unset = [k for k in ENV if k not in os.environ]
        os.environ.update({k: ENV[k] for k in unset})
        loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
        try:
            self.client = self.Client(tracking_uri=self.uri)
            yield
        finally:
            for k in unset:
                os.environ.pop(k, None)
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)

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

    def _earlier(self, exp: str, key: str, tags: dict[str, str],
                 parent: str | None) -> str | None:
        """The FINISHED run logged before from the same directory with the same contents."""
        value = tags[key]
        if "'" in value or "\\" in value:
            return None  # not expressible in a search filter: log a new run
        query = f"tags.`{key}` = '{value}' and tags.`{FINGERPRINT}` = '{tags[FINGERPRINT]}'"
        for r in self.client.search_runs([exp], query, max_results=50):
            if r.info.status == "FINISHED" and r.data.tags.get("mlflow.parentRunId") == parent:
                return r.info.run_id
        return None

    @contextmanager
    def _run(self, name: str, tags: dict[str, str], parent: str | None,
             key: str) -> Iterator[tuple[str, bool]]:
        """(run id, earlier): the run logged before from the same unchanged directory
        (``key``: the tag naming the directory), or a new run, FINISHED when the block
        completes and FAILED when it raises (an earlier run keeps its state)."""
        if parent and parent not in self._exp_of:
            self._exp_of[parent] = self.client.get_run(parent).info.experiment_id
        exp = self._exp_of[parent] if parent else self._experiment()
        tags = dict(tags, **{"mlflow.parentRunId": parent}) if parent else tags
        run_id = self._earlier(exp, key, tags, parent)
        earlier = run_id is not None
        if run_id is None:
            run_id = self.client.create_run(exp, run_name=name, tags=tags).info.run_id
        self._exp_of[run_id] = exp
        try:
            yield run_id, earlier
        except BaseException:
            if not earlier:
                with suppress(Exception):
                    self.client.set_terminated(run_id, "FAILED")
            raise
        if earlier:
            self.client.log_batch(run_id, tags=[self.RunTag(k, v) for k, v in tags.items()])
        else:
            self.client.set_terminated(run_id, "FINISHED")

    def _fill(self, run_id: str, root: Path, recursive: bool, params: dict[str, Any],
              metrics: list[tuple[str, float, int]], earlier: bool) -> None:
        """Params, metrics and files; a run logged before gets only the files (its params and
        metrics are the same by its fingerprint, and MLflow would store metrics twice)."""
        if not earlier:
            now = int(time.time() * 1000)
            plist = [self.Param(k, str(v)) for k, v in params.items()]
            mlist = [self.Metric(metric_key(k), float(v), now, s) for k, v, s in metrics]
            for i in range(0, len(plist), 100):  # MLflow's per-request limits
                self.client.log_batch(run_id, params=plist[i : i + 100])
            for i in range(0, len(mlist), 1000):
                self.client.log_batch(run_id, metrics=mlist[i : i + 1000])
        for path, rel in files(root, recursive):
            self.client.log_artifact(run_id, str(path), rel.rpartition("/")[0] or None)

    def log_run(self, run: Run, parent: str | None, tags: dict[str, str]) -> dict[str, Any]:
        params = run.spec.model_dump(mode="json")
        tags = {**run_tags(run), **tags, "pointgan.run_dir": str(run.path.resolve()),
                FINGERPRINT: fingerprint(params, run.metrics, run.summary),
                "mlflow.note.content": f"Re-run with: `{run.command}`"[:5000]}
        metrics = [(k, v, int(row["step"])) for row in run.metrics
                   for k, v in row.items() if k != "step" and is_number(v)]
        with self._run(run.path.name, tags, parent, "pointgan.run_dir") as (run_id, earlier):
            self._fill(run_id, run.path, True, params, metrics, earlier)
            for name, doc in documents(run).items():  # a member stored in its sweep's batches
                self.client.log_dict(run_id, doc, name)
        return {"tracker": "mlflow", "run_id": run_id, "where": self.uri, "updated": earlier}

    def log_sweep(self, sweep_dir: Path, runs: list, summary: dict) -> dict[str, Any]:
        members = [[m, g, r.spec.model_dump(mode="json")] for m, g, r in runs]
        tags = {"pointgan.kind": "sweep", "pointgan.sweep_dir": str(sweep_dir.resolve()),
                FINGERPRINT: fingerprint(members, summary)}
        params = {"members": len(runs), "groups": ", ".join(group_names(runs))}
        metrics = [(k, v, 0) for k, v in sweep_numbers(summary).items()]
        with self._run(sweep_dir.name, tags, None, "pointgan.sweep_dir") as (parent, earlier):
            what = progress.count(len(runs), "member", "log")
            children = [self.log_run(r, parent, {"group": g, "member": m})["run_id"]
                        for m, g, r in progress.each(runs, what)]
            self._fill(parent, sweep_dir, False, params, metrics, earlier)
        return {"tracker": "mlflow", "run_id": parent, "where": self.uri, "members": children,
                "updated": earlier}


def resolve_uri(tracking_uri: str | None, default_uri: str) -> str:
    """The tracking URI: the argument, else ``$MLFLOW_TRACKING_URI``, else ``default_uri``.
    A relative SQLite path is made absolute (the store stays the same file whatever folder a
    later command runs in); a plain path or ``file:`` URI is a file store."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri
    scheme = uri.lower() if uri.lower() in SCHEMES else urlparse(uri).scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        path = Path(urlparse(uri).path if scheme == "file" else uri).expanduser().absolute()
        return path.as_uri()
    if scheme.split("+")[0] not in SCHEMES:
        raise RuntimeFailure(f"mlflow: unsupported tracking URI {uri!r} (use a directory, file:, "
                             "http(s): or a database URI such as sqlite:///mlflow.db)")
    if scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rest = uri[len("sqlite:///"):]
        if rest and not rest.startswith(":memory:"):
            return "sqlite:///" + str(Path(rest).expanduser().absolute())
    return uri


def metric_key(key: str) -> str:
    """MLflow allows letters, digits, and _ - . / : and space in metric names."""
    return re.sub(r"[^\w\-./: ]", "_", key)
