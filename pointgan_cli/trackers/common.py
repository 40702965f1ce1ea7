"""What both trackers log, read from the directories: tags, files, the sweep's numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import RuntimeFailure
from ..store import rundir, sweepdir
from ..store.memberpath import member_address
from ..store.rundir import Run

PROJECT = "pointgan"
#: Seconds to wait for a tracking server to accept a connection (W&B itself retries for 90 s,
#: MLflow's client for about 10 s per request and several requests).
CONNECT_TIMEOUT = 5.0
#: Files logged wherever they are in the directory (pictures, videos, report pages, tables).
MEDIA = (".png", ".gif", ".mp4", ".html", ".csv")
#: Folders that are tracker output, not run output: never logged as files.
SKIP_DIRS = {"wandb", "mlruns", sweepdir.MEMBERS}


def sweep_numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The sweep's totals and every group's numbers, keyed ``n``, ``<group>/success_rate``."""
    out = {k: v for k, v in summary.items() if k != "schema_version" and is_number(v)}
    for g in summary.get("groups", []):
        out.update({f"{g['group']}/{k}": v for k, v in g.items() if is_number(v)})
    return out


def run_tags(run: Run) -> dict[str, str]:
    s = run.summary
    tags = {
        "preset": run.spec.preset,
        "seed": str(run.spec.seed),
        "converged": "unknown" if s is None else str(bool(s.get("converged"))).lower(),
        "status": "unfinished" if s is None else str(s.get("status", "finished")),
    }
    if s and isinstance(s.get("class"), str):
        tags["class"] = s["class"]
    return tags


def own_folder(root: Path) -> bool:
    """Whether ``root``'s files are the run's: not a sweep member's folder that is (or whose
    ``members/`` is) a symbolic link, which holds another folder's files."""
    return member_address(root) is None or not (root.is_symlink() or root.parent.is_symlink())


def _linked(root: Path, rel: Path) -> bool:
    """Whether ``root/rel`` or a folder between ``root`` and it is a symbolic link."""
    return any((root / Path(*rel.parts[: k + 1])).is_symlink() for k in range(len(rel.parts)))


def files(root: Path, recursive: bool = True) -> list[tuple[Path, str]]:
    """(file, path relative to root): the spec and summary, every media file, and everything
    the diagnose commands wrote (their JSON beside their PNG). Nothing reached through a
    symbolic link below ``root``: a crafted folder never sends a user's files to a tracker."""
    if not own_folder(root):
        return []
    found = [root / n for n in (rundir.SPEC, rundir.SUMMARY, sweepdir.SWEEP_JSON)
             if (root / n).is_file() and not (root / n).is_symlink()]
    for p in sorted(root.rglob("*") if recursive else root.glob("*")):
        rel = p.relative_to(root)
        wanted = p.suffix.lower() in MEDIA or rel.parts[0] == rundir.DIAGNOSE
        if (p.is_file() and wanted and not p.name.startswith(".")
                and not SKIP_DIRS.intersection(rel.parts[:-1]) and not _linked(root, rel)):
            found.append(p)
    return [(p, p.relative_to(root).as_posix()) for p in found]


def documents(run: Run) -> dict[str, Any]:
    """``spec.json`` and ``summary.json`` of a sweep member stored in its sweep's batches (no
    folder of its own), rebuilt from the run: logged as files like a run directory's."""
    docs: dict[str, Any] = {}
    own = own_folder(run.path)
    if not (own and (run.path / rundir.SPEC).is_file()):
        docs[rundir.SPEC] = rundir.spec_document(run.spec, run.command)
    if run.summary is not None and not (own and (run.path / rundir.SUMMARY).is_file()):
        docs[rundir.SUMMARY] = run.summary
    return docs


def group_names(runs: list[tuple[str, str, Run]]) -> list[str]:
    return list(dict.fromkeys(g for _, g, _ in runs))


def fingerprint(*parts: Any) -> str:
    """A digest of what a tracker run holds as params and metrics: equal digests, same run."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def missing(package: str) -> RuntimeFailure:
    return RuntimeFailure(f"the {package} tracker needs the {package} package; "
                          f"install it with pip install 'pointgan[{package}]'")


def unreachable(url: str) -> str | None:
    """Why nothing answers at ``url``'s host and port (None when something does): checked
    before training, so a bad server fails in one line instead of after the run."""
    import socket
    from urllib.parse import urlparse

    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        return str(exc.strerror or exc)
    return None
