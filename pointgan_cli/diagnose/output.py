"""Where the diagnose commands read and write: one run (never a sweep), and their PNG + JSON.

Runs are only read; the only thing ever written is a command's own PNG + JSON pair,
atomically, into the run's diagnose folder (``rundir.diagnose_dir``) or the ``--out`` folder the
user names.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..errors import RuntimeFailure, UsageError
from ..games import POINT, game_of
from ..store import atomic, outputs, rundir, sweepdir
from ..store.memberpath import load_any_run
from ..store.rundir import Run
from ..store.sweepdir import SweepDir


def load_single_run(path: Path, any_game: bool = False) -> Run:
    """A run directory or a sweep member ``SWEEP/members/ID`` (not a whole sweep: landscapes
    and stability are about one run)."""
    if sweepdir.is_sweep(path):
        raise UsageError(f"{path} is a sweep directory; give one member: "
                         f"{SweepDir(path).member_dir('<id>')}")
    run = load_any_run(path)
    return run if any_game else pointgan_only(run)


def pointgan_only(run: Run) -> Run:
    """The landscapes and the run classifier read w, b and the 1-2-1 D: pointgan runs only."""
    if game_of(run.spec) is not POINT:
        raise UsageError(f"{run.path} is a {run.spec.game} run; this diagnosis is for the "
                         f"pointgan game (the Dirac-GAN's field and trajectory: pointgan "
                         f"animate {run.path})")
    return run


def write_pair(out: Path | None, name: str, doc: dict[str, Any], png: bytes,
               run: Path | None = None) -> dict[str, str]:
    """Write ``name.png`` and ``name.json`` into ``out``, or (``out`` None) into the
    ``diagnose/`` folder beside ``run`` (for ``SWEEP/members/ID`` in the member's real folder)
    under its owner's lock; a folder that cannot be made is a bad ``--out``."""
    if out is not None:
        return _write_pair(out, name, doc, png)
    assert run is not None
    with outputs.derived_dir(run) as folder:
        return _write_pair(rundir.diagnose_dir(folder), name, doc, png)


def _write_pair(out: Path, name: str, doc: dict[str, Any], png: bytes) -> dict[str, str]:
    made = [p for p in (out, *out.parents) if not p.exists()]  # the folders this call makes
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create folder {out}: {exc.strerror}") from None
    files = {"png": str(out / f"{name}.png"), "json": str(out / f"{name}.json")}
    try:
        atomic.atomic_write_bytes(out / f"{name}.png", png)
        atomic.atomic_write_json(out / f"{name}.json", doc)
    except OSError as exc:
        if made:  # a full disk leaves no folder of ours behind (one that was there is kept)
            (out / f"{name}.png").unlink(missing_ok=True)
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise RuntimeFailure(f"cannot write {name} files in {out}: {exc.strerror}") from None
    return files
