"""How a sweep command starts: the decisions ``--resume`` and ``--force`` stand for, made here
once for every caller (the CLI maps its flags onto ``start``).

- a fresh sweep gets its directory (``runs/sweep-<time>`` unless named) and its command;
- ``--resume`` continues the members ``sweep.json`` recorded, never a config read again; sweep
  flags given with it must name that same sweep;
- ``--resume`` of a directory killed before it wrote ``sweep.json``, with the sweep's flags,
  simply starts that sweep there (only what pointgan wrote may be in it, as ``--force``);
- the target is checked before anything is written (``SweepDir.check_target``).

Imports no torch: a bad resume fails before training code loads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError, short
from ..spec import RunSpec
from ..store import fsguard
from ..store.sweepdir import SweepDir
from .spec import SweepMember, SweepSpec, sweep_command

MemberList = list[SweepMember]


@dataclass(frozen=True)
class Start:
    """What a sweep run does: its directory, sweep, members and command, and whether it
    resumes (``resume``) or replaces what pointgan wrote there (``force``)."""

    out: Path
    spec: SweepSpec
    members: MemberList
    command: str
    resume: bool
    force: bool


def check_flags(out: Path | None, resume: bool, force: bool) -> None:
    """The flag combinations refused before anything else is read."""
    if resume and out is None:
        raise UsageError("--resume needs --out DIR")
    if resume and force:
        raise UsageError("--force and --resume cannot be used together")


def load_sweep(sweep_dir: SweepDir) -> tuple[SweepSpec, MemberList, str]:
    """(SweepSpec, members, command) exactly as the sweep's ``sweep.json`` recorded them:
    resume uses the resolved member specs written at creation, never a config file read
    again."""
    from pydantic import ValidationError

    index = sweep_dir.index
    try:
        sweep = SweepSpec.model_validate(index.sweep)
        members = [SweepMember(e.id, e.group, RunSpec.model_validate(e.spec))
                   for e in index.entries]
    except (ValidationError, TypeError, ValueError):
        raise UsageError(f"--resume: {sweep_dir.index_file} is corrupt") from None
    return sweep, members, index.command


def start(out: Path | None, spec: SweepSpec | None, members: MemberList | None, *,
          resume: bool = False, force: bool = False) -> Start:
    """The sweep to run at ``out``: ``spec`` and ``members`` are what the user's flags name
    (None when ``--resume`` was given alone)."""
    check_flags(out, resume, force)
    if resume and spec is not None and out is not None and not SweepDir(out).exists:
        resume, force = False, True  # killed before sweep.json: start the named sweep there
    if resume:
        assert out is not None
        recorded, members, command = load_sweep(SweepDir(out))
        if spec is not None and spec.model_dump() != recorded.model_dump():
            raise UsageError(f"--resume: {out} holds another sweep ({short(command)}); drop "
                             "the sweep flags to continue it")
        spec = recorded
    else:
        if spec is None or members is None:
            raise UsageError("a sweep needs its flags (or --resume --out DIR)")
        if out is None:  # unique: two sweeps started in the same second get -2, -3...
            out = fsguard.unused_path(Path("runs") / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")
        command = sweep_command(spec, out)
    SweepDir(out).check_target(force, resume)
    return Start(Path(out), spec, members, command, resume, force)
