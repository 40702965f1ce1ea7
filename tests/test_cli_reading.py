"""Commands that only read runs and sweeps import no torch: ``ls``, ``compare`` and
``report`` of sweeps, ``diagnose run`` of a sweep (each member's class and D's shape from its
stored parameters) and of a run (its npz checkpoint). Checked in a fresh process, on
``sys.modules`` after the command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointgan_cli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder holding two small sweeps and a run (made in this process: only the commands
    that read them are checked in a fresh one)."""
    runner = CliRunner()
    base = tmp_path_factory.mktemp("reading")
    for name, seeds in (("sw1", "0-1"), ("sw2", "1-2")):
        res = runner.invoke(app, ["sweep", "--preset", "baseline", "--preset", "fixed",
                                  "--seeds", seeds, "--steps", "120", "--workers", "1", "-q",
                                  "-o", str(base / name)])
        assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["train", "--steps", "120", "-q", "-o", str(base / "run")])
    assert res.exit_code == 0, res.stderr
    return base


def loaded(args: list[str], cwd: Path) -> tuple[int, list[str]]:
    """(exit code, heavy modules loaded) after ``pointgan ARGS`` in a fresh process."""
    code = ("import sys\nfrom pointgan_cli.cli.app import main\nrc = 0\ntry:\n"
            f"    main({args!r})\nexcept SystemExit as e:\n    rc = e.code or 0\n"
            "print('@@', rc, sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=cwd)
    line = [x for x in res.stdout.splitlines() if x.startswith("@@ ")]
    assert line, res.stderr
    _, rc, mods = line[-1].split(" ", 2)
    return int(rc), eval(mods)  # noqa: S307 - our own print of a list of names


@pytest.mark.parametrize("args", [["ls"], ["compare", "sw1", "sw2"],
                                  ["report", "sw1"], ["diagnose", "run", "sw2"],
                                  ["diagnose", "run", "run"]],
                         ids=["ls", "compare", "report", "diagnose-sweep", "diagnose-run"])
def test_reading_commands_import_no_torch(folder, args):
    rc, mods = loaded(args, folder)
    assert rc == 0
    assert "torch" not in mods


def test_the_check_sees_torch_when_a_command_needs_it(folder):
    """The same probe on a command that must load torch (training on the torch engine): it is
    there, so the check above can fail."""
    rc, mods = loaded(["train", "--engine", "torch", "--steps", "20", "-q", "-o",
                       "trained-with-torch"], folder)
    assert rc == 0
    assert "torch" in mods
