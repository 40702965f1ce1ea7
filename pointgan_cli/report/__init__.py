"""``pointgan report``: one self-contained ``report.html`` for a run or a sweep.

``collect`` reads the directory into a page model (the command that made it, the results table,
the charts, the animation, the class and diagnosis of what did not converge); ``html`` renders
it with every picture inline. The page is written atomically into the directory as
``report.html`` (``rundir.REPORT``), a file ``--force`` and the trackers know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..store import atomic, rundir, sweepdir


def build(path: Path | str) -> dict[str, Any]:
    """The page model of a run or sweep directory (UsageError for anything else)."""
    from . import collect

    path = Path(path)
    if sweepdir.is_sweep(path):
        return collect.sweep_model(path)
    if not path.is_dir() and sweepdir.member_address(path) is None:
        raise UsageError(f"run or sweep directory not found: {path}")
    return collect.run_model(path)


def write(path: Path | str, out: Path | str | None = None) -> dict[str, Any]:
    """Write the report of ``path`` to ``out`` (default ``path/report.html``); returns
    ``{"report", "kind", "figures", "bytes"}``. A sweep member stored in its sweep's batches
    (``SWEEP/members/ID``, no folder of its own) needs ``out``: nothing is written into the
    sweep's store."""
    from .html import render

    path = Path(path)
    model = build(path)
    if out is None and not path.is_dir():
        raise UsageError(f"{path} is a sweep member without a folder of its own; name the "
                         "report file with --out")
    target = Path(out) if out is not None else path / rundir.REPORT
    if target.is_dir():
        raise UsageError(f"--out: {target} is a directory; name the report file")
    text = render(model)
    atomic.atomic_write_text(target, text)
    figures = sum(len(s.get("figures", [])) for s in model["sections"])
    return {"report": str(target), "kind": model["kind"], "figures": figures,
            "bytes": len(text.encode("utf-8"))}
