"""README's "Use" block and docs/getting-started.md work when copied: every ``pointgan`` line of
their ``bash`` blocks runs, in order, in an empty folder, and exits 0.

The lines run in-process (the CLI runner) exactly as written, with only the run length cut by
options the docs themselves show: ``train`` gets ``--steps 300``; ``sweep`` runs seeds 0-1 for
100 steps on one worker (``--seeds``, ``--steps``, ``--workers``); ``animate`` draws 10 frames.
The "see it fail" example of getting-started runs at its full length and must not converge.
Not run: getting-started's Install section (it creates a virtual environment, installs
packages and edits the shell's start-up files).
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from conftest import ROOT

SHORT_TRAIN = ["--steps", "300"]
SHORT_SWEEP = ["--steps", "100", "--workers", "1"]
SHORT_ANIMATE = ["--frames", "10"]


def bash_lines(markdown: str) -> list[str]:
    """The ``pointgan`` command lines of a markdown text's ```bash blocks, comments removed."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "pointgan":
                out.append(shlex.join(words))
    return out


def readme_use() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Use\n", 1)[1].split("\n## ", 1)[0]
    return bash_lines(section)


def getting_started() -> list[str]:
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    after_install = text.split("\n## A first run\n", 1)[1]
    return bash_lines(after_install)


def shortened(line: str) -> list[str]:
    args = shlex.split(line)[1:]
    if args[:1] == ["train"] and "--resume" not in args:
        args += SHORT_TRAIN
    elif args[:1] == ["animate"]:
        args += SHORT_ANIMATE
    elif args[:1] == ["sweep"]:
        if "--seeds" in args:
            i = args.index("--seeds")
            args[i + 1] = "0-1"
        else:
            args += ["--seeds", "0-1"]
        args += SHORT_SWEEP
    return args


@pytest.mark.parametrize("doc, lines", [("README.md Use", readme_use),
                                        ("docs/getting-started.md", getting_started)])
@pytest.mark.long
def test_doc_runs_top_to_bottom_in_an_empty_folder(cli, tmp_path, monkeypatch, doc, lines):
    monkeypatch.chdir(tmp_path)
    commands = lines()
    assert len(commands) >= 8, commands  # the blocks were found
    for line in commands:
        res = cli(shortened(line))
        assert res.exit_code == 0, f"{doc}: `{line}` failed: {res.stderr}"


def test_the_see_it_fail_example_fails(cli, tmp_path, monkeypatch):
    """getting-started's "see it fail" command, at its full length, does not converge."""
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = text.split("see it fail", 1)[1]
    line = bash_lines(block)[0]
    assert "--preset baseline" in line
    res = cli([*shlex.split(line)[1:], "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["converged"] is False and doc["class"] != "converged", doc
