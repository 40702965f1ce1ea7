"""Shared test helpers: a CLI runner and a way to run the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ.setdefault("MPLBACKEND", "Agg")

from pointgan_cli.cli.app import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli():
    """Invoke the typer app in-process: ``cli(["train", ...])`` -> click Result."""
    runner = CliRunner()

    def invoke(args):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def run_cli(args, cwd=None, timeout=300, **kw):
    """Run ``python -m pointgan_cli`` as a real process (exit codes, signals, stderr)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "pointgan_cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw,
    )


def popen_cli(args, cwd=None):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen(
        [sys.executable, "-m", "pointgan_cli", *map(str, args)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
