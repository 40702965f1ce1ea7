"""Log finished runs and sweeps to an experiment tracker: MLflow or Weights & Biases.

Everything is logged *from the run directory* after it is complete, so a tracker can only add
to what training wrote, never change or lose it: the resolved spec as parameters, every
``metrics.jsonl`` row at its step, tags (preset, seed, converged, status, class), and the
directory's pictures, videos and pages (``*.png``, ``*.gif``, ``*.mp4``, ``*.html``, ``*.csv``,
everything in ``diagnose/``) plus ``spec.json`` and ``summary.json`` as files. A sweep is one
parent run with one child per member.

- MLflow (``mlflow_store``): the store MLflow 3 itself defaults to, ``sqlite:///mlflow.db`` in
  the working directory (artifacts in ``./mlruns``), unless ``tracking_uri`` or
  ``$MLFLOW_TRACKING_URI`` names another; experiment ``pointgan`` (or
  ``$MLFLOW_EXPERIMENT_NAME``); members are nested runs of the sweep's run. Logging a directory
  again updates the run logged from it before (new files, tags) when its spec, metrics and
  summary are unchanged, so ``pointgan log`` adds an animation or diagnose plots made after
  training without a duplicate run.
- W&B (``wandb_run``): offline unless ``$WANDB_MODE`` or ``$WANDB_API_KEY`` is set; project
  ``pointgan`` (or ``$WANDB_PROJECT``); the W&B folder is ``<run dir>/wandb``; members share
  the sweep's group.

The tracker packages are optional extras, imported only when asked for. ``logged_line`` turns
what a log call returns into the one stderr line a command prints: the run and the command that
opens it (``mlflow ui --backend-store-uri ...``, ``wandb sync ...``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import PointganError, RuntimeFailure, UsageError
from ..naming import resume_command
from ..results import progress
from ..store import outputs, sweepdir
from ..store.memberpath import load_any_run
from ..store.sweepdir import SweepDir
from .common import missing, one_line, unreachable

TRACKERS = ("none", "mlflow", "wandb")
#: MLflow 3's own default store (since 3.7), relative to the working directory.
DEFAULT_MLFLOW_URI = "sqlite:///mlflow.db"
#: MLflow stores that are SQL databases (they need SQLAlchemy: the full ``mlflow`` package).
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")


def log_run(run_dir: Path | str, tracker: str, tracking_uri: str | None = None,
            parent: str | None = None) -> dict[str, Any] | None:
    """Log the run directory ``run_dir`` to ``tracker`` ("none", "mlflow" or "wandb").

    ``tracking_uri``: MLflow tracking URI or directory (default ``sqlite:///mlflow.db`` in the
    working directory); for W&B the server URL. ``parent``: MLflow run id to nest under, or
    W&B group name. Returns where it went: ``{"tracker", "run_id", "where", "updated"}``
    (``updated``: the MLflow run logged earlier from the same unchanged directory got the new
    files, no new run was made), None for "none". Raises UsageError for an unknown tracker or
    a bad run directory, RuntimeFailure for a missing extra or a tracker failure."""
    name = _check(tracker)
    run = load_any_run(Path(run_dir))  # a run directory, or SWEEP/members/ID
    if name == "none":
        return None
    with _writing(name, Path(run_dir)), _session(name, tracking_uri, run.path) as session:
        return session.log_run(run, parent=parent, tags={})


def _writing(name: str, path: Path) -> contextlib.AbstractContextManager[Any]:
    """W&B writes its folder beside the run (``wandb/``): that place under its owner's lock,
    a member's real folder in its sweep (``outputs.derived_dir``). MLflow writes nothing
    there."""
    return outputs.derived_dir(path) if name == "wandb" else contextlib.nullcontext()


def log_sweep(sweep_dir: Path | str, tracker: str,
              tracking_uri: str | None = None) -> dict[str, Any] | None:
    """Log the sweep directory ``sweep_dir`` (``sweep.json``, its members, ``summary.json``)
    to ``tracker``: one parent run holding the per-group numbers and the
    sweep's charts and tables, and one child run per member (MLflow: nested runs; W&B: group =
    the sweep's folder name). Same arguments, errors and return value as ``log_run``, plus
    ``"members"``: the child run ids in member order."""
    name = _check(tracker)
    sweep = SweepDir.open(sweep_dir)
    sweep_dir, index, summary = sweep.path, sweep.index, sweep.summary()
    if not summary:  # an interrupted sweep: members that never trained have nothing to log
        raise UsageError(f"{sweep_dir} has not finished (no summary.json); continue it with "
                         f"{resume_command(sweep_dir)}, then "
                         "log it")
    what = progress.count(len(index.entries), "member", "read")
    runs = [(e.id, e.group, sweep.members.load(e.id))
            for e in progress.each(index.entries, what)]
    if name == "none":
        return None
    with _writing(name, sweep_dir), _session(name, tracking_uri, sweep_dir) as session:
        if name == "wandb":  # each member's W&B folder: in its real folder in the sweep
            for e in index.entries:
                outputs.member_folder(sweep, e.id)
        return session.log_sweep(sweep_dir, runs, summary)


def log_path(path: Path | str, tracker: str,
             tracking_uri: str | None = None) -> dict[str, Any] | None:
    """``log_sweep`` for a sweep directory, ``log_run`` for anything else."""
    if sweepdir.is_sweep(path):
        return log_sweep(path, tracker, tracking_uri)
    return log_run(path, tracker, tracking_uri)


def open_hint(info: dict[str, Any] | None) -> str | None:
    """The one command (or address) that shows what ``log_run``/``log_sweep`` logged."""
    if not info:
        return None
    where = str(info.get("where", ""))
    if info.get("tracker") == "wandb":
        if info.get("url"):
            return str(info["url"])
        return None if where == "disabled" else f"wandb sync {shlex.quote(where)}"
    scheme = urlparse(where).scheme.lower() or where.lower()  # "databricks" has no "://"
    if scheme in ("http", "https"):
        return where
    if scheme.startswith("databricks") or scheme == "uc":
        return None
    if scheme == "file":
        path = shlex.quote(urlparse(where).path)
        return f"MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {path}"
    return f"mlflow ui --backend-store-uri {shlex.quote(where)}"


def logged_line(info: dict[str, Any]) -> str:
    """The one stderr line a command prints after logging: the run, and how to open it."""
    what = "updated" if info.get("updated") else "logged to"
    line = f"{what} {info['tracker']} run {info['run_id']}"
    hint = open_hint(info)
    return f"{line}; open it with: {hint}" if hint else f"{line} ({info['where']})"


def check_available(tracker: Any, tracking_uri: str | None = None) -> None:
    """Before training: an unknown tracker, or one whose package is not installed, fails now
    (one line) instead of after the run; so does an MLflow database store (the default
    ``sqlite:`` one included) with only ``mlflow-skinny``, which has no SQL store."""
    import importlib.util

    name = _check(tracker)
    if name != "none" and importlib.util.find_spec(name) is None:
        raise missing(name)
    if name == "mlflow":
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_MLFLOW_URI
        scheme = urlparse(uri).scheme.lower().split("+")[0]
        if scheme in DATABASES and importlib.util.find_spec("sqlalchemy") is None:
            raise RuntimeFailure(
                f"the mlflow store {uri} is a database, which mlflow-skinny cannot write; "
                "install the full package with pip install 'pointgan[mlflow]'")
        why = unreachable(uri) if scheme in ("http", "https") else None
        if why is not None:
            raise RuntimeFailure(f"mlflow: cannot reach {uri}: {why}; check --tracking-uri")


def _check(tracker: Any) -> str:
    name = str(getattr(tracker, "value", tracker))
    if name not in TRACKERS:
        raise UsageError(f"--tracker: unknown tracker {name!r} (choose from {', '.join(TRACKERS)})")
    return name


@contextmanager
def _session(name: str, tracking_uri: str | None, directory: Path) -> Iterator[Any]:
    """A tracker session; any tracker exception becomes one RuntimeFailure line."""
    if name == "mlflow":
        from .mlflow_store import MLflowSession

        check_available(name, tracking_uri)

        session: Any = MLflowSession(tracking_uri, DEFAULT_MLFLOW_URI)
    else:
        from .wandb_run import WandbSession

        session = WandbSession(tracking_uri)
    try:
        with session.env():
            yield session
    except PointganError:
        raise
    except Exception as exc:  # noqa: BLE001 - the tracker's failure, reported as one line
        raise RuntimeFailure(f"{name}: logging to {session.where} failed ({type(exc).__name__}: "
                             f"{one_line(exc)}); {directory} is intact") from exc
