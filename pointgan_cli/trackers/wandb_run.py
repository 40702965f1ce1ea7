"""Weights & Biases: a finished run as a W&B run, offline unless the user configured W&B.

The W&B folder is written inside the run directory (``<run dir>/wandb``), so it moves and is
deleted with the run; files are copied into it, not linked, so an offline run stays complete
for ``wandb sync`` if the run directory moves. Each call is a new W&B run (an offline run
cannot be appended to).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import RuntimeFailure
from ..results import progress
from ..store import atomic, fsguard, outputs
from ..store.rundir import WANDB, Run
from .common import (
    PROJECT,
    documents,
    files,
    group_names,
    missing,
    run_tags,
    sweep_numbers,
    unreachable,
)


class WandbSession:
    def __init__(self, tracking_uri: str | None):
        try:
            import wandb
        except ImportError:
            raise missing("wandb") from None
        self.wandb = wandb
        configured = os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY")
        self.mode = None if configured else "offline"
        self.base_url = tracking_uri
        if tracking_uri and urlparse(tracking_uri).scheme not in ("http", "https"):
            raise RuntimeFailure(f"wandb: --tracking-uri must be the http(s) URL of a W&B "
                                 f"server, got {tracking_uri!r}")
        self.where = tracking_uri or ("offline" if self.mode else "W&B")
        if self.mode is None and os.environ.get("WANDB_MODE", "").lower() not in (
                "offline", "disabled", "dryrun"):
            _check_reachable(tracking_uri or os.environ.get("WANDB_BASE_URL")
                             or "https://api.wandb.ai")

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
             rows: list[dict[str, Any]], summary: dict[str, Any],
             docs: dict[str, Any] | None = None) -> dict[str, Any]:
        """One W&B run in ``root/wandb``: config, ``rows`` as history, summary, and files
        copied into the run's own folder (so it stays complete if ``root`` moves); ``docs``:
        JSON files written there from memory (a stored member's spec and summary)."""
        root.mkdir(parents=True, exist_ok=True)  # a stored sweep member has no folder yet
        folder = root / WANDB
        before = fsguard.listing(folder)
        opts: dict[str, Any] = dict(silent=True, console="off", save_code=False,
                                    disable_git=True, x_disable_stats=True, x_disable_meta=True)
        if self.base_url:
            opts["base_url"] = self.base_url
        wrun = self.wandb.init(
            project=os.environ.get("WANDB_PROJECT") or PROJECT, dir=str(root.resolve()),
            mode=self.mode, name=root.name,  # type: ignore[arg-type]
            group=group, job_type=job_type, config=config,
            tags=tags, notes=notes, settings=self.wandb.Settings(**opts))
        disabled = bool(getattr(wrun, "disabled", False))  # WANDB_MODE=disabled: no records
        try:
            for row in rows:
                wrun.log({k: v for k, v in row.items() if k != "step"}, step=int(row["step"]))
            wrun.summary.update(summary)
            for path, rel in [] if disabled else files(root, recursive):
                dest = Path(wrun.dir) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
                wrun.save(str(dest), base_path=wrun.dir, policy="now")
            for name, doc in ({} if disabled else docs or {}).items():
                dest = Path(wrun.dir) / name
                dest.write_text(atomic.dumps(doc, indent=2) + "\n", encoding="utf-8")
                wrun.save(str(dest), base_path=wrun.dir, policy="now")
        finally:
            wrun.finish()
            if folder.is_dir() and not folder.is_symlink():  # what --force may delete later
                outputs.record(folder, before)
        where = "disabled" if disabled else str(Path(wrun.dir).parent)
        info = {"tracker": "wandb", "run_id": wrun.id, "where": where, "updated": False}
        url = None if disabled or self.mode == "offline" else getattr(wrun, "url", None)
        if url:
            info["url"] = url
        return info

    def log_run(self, run: Run, parent: str | None, tags: dict[str, str]) -> dict[str, Any]:
        all_tags = {**run_tags(run), **tags}
        return self._log(run.path, True, parent, "member" if parent else "train",
                         run.spec.model_dump(mode="json"),
                         [f"{k}:{v}"[:64] for k, v in all_tags.items()], run.command,
                         run.metrics, dict(run.summary or {}, status=all_tags["status"]),
                         documents(run))

    def log_sweep(self, sweep_dir: Path, runs: list, summary: dict) -> dict[str, Any]:
        name = sweep_dir.name
        info = self._log(sweep_dir, False, name, "sweep",
                         {"members": len(runs), "groups": group_names(runs)}, ["sweep"],
                         f"Sweep {sweep_dir}", [], sweep_numbers(summary))
        what = progress.count(len(runs), "member", "log")
        info["members"] = [self.log_run(r, name, {"group": g, "member": m})["run_id"]
                           for m, g, r in progress.each(runs, what)]
        return info


def _check_reachable(url: str) -> None:
    """Fail fast, in one line, when nothing answers at the W&B server's host and port."""
    why = unreachable(url)
    if why is not None:
        raise RuntimeFailure(f"wandb: cannot reach {url}: {why}; check --tracking-uri (or log "
                             "offline: WANDB_MODE=offline)")
