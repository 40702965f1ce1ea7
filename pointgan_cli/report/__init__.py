"""``pointgan report``: one self-contained ``report.html`` for a run or a sweep.

``collect`` reads the directory into a page model (the command that made it, the results table,
the charts, the animation, the class and diagnosis of what did not converge, and the explorer's
numbers from ``explore``); ``html`` renders it with every picture inline and the explorer's
code (``assets/``) and data embedded, so the printed report becomes a page to click through
(study, group, run). The page is written atomically into the directory as ``report.html``
(``rundir.REPORT``), a file ``--force`` and the trackers know.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..errors import RuntimeFailure, UsageError
from ..store import atomic, outputs, rundir, sweepdir
from ..store.memberpath import member_address
from ..store.sweepdir import SweepDir


def build(path: Path | str) -> dict[str, Any]:
    """The page model of a run or sweep directory (UsageError for anything else)."""
    from . import collect

    path = Path(path)
    if sweepdir.is_sweep(path):
        return collect.sweep_model(SweepDir(path))
    if not path.is_dir() and member_address(path) is None:
        raise UsageError(f"run or sweep directory not found: {path}")
    return collect.run_model(path)


def write(path: Path | str, out: Path | str | None = None) -> dict[str, Any]:
    """Write the report of ``path`` to ``out`` (default ``path/report.html``: for a sweep
    member ``SWEEP/members/ID``, its real folder in the sweep, made if needed); returns
    ``{"report", "kind", "figures", "bytes"}``. The default place is written under its owner's
    lock (``outputs.derived_dir``): never while a train or sweep writes there."""
    from .html import render

    path = Path(path)
    if out is not None and Path(out).is_dir():
        raise UsageError(f"--out: {out} is a directory; name the report file")
    with contextlib.ExitStack() as held:
        # where the page goes is settled (and locked) before any work: a refusal comes first
        if out is None:
            target = held.enter_context(outputs.derived_dir(path)) / rundir.REPORT
        else:
            target = Path(out)
        model = build(path)
        text = render(model)
        try:
            atomic.atomic_write_text(target, text)
        except OSError as exc:
            raise RuntimeFailure(f"cannot write {target}: {exc.strerror or exc}") from None
    figures = sum(len(s.get("figures", [])) for s in model["sections"])
    return {"report": str(target), "kind": model["kind"], "figures": figures,
            "bytes": len(text.encode("utf-8"))}
