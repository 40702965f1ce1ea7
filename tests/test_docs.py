"""The docs and the CLI's self-description: the generated reference is current, every command
shows an example, shell completion works, and the run-directory doc names every file and field
a real run writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import typer
from conftest import ROOT

from pointgan_cli.cli import docgen
from pointgan_cli.cli.app import app
from pointgan_cli.naming import rerun_command
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import ckptfile
from pointgan_cli.training.train import Member, train_batch

DOCS = ROOT / "docs"


def commands() -> list[list[str]]:
    """The argv prefix of every registered command that does work (groups excluded, unless
    the group itself runs, as ``sweep`` does beside ``sweep export``)."""
    root = typer.main.get_command(app)
    out = []
    for ctx in docgen.walk(typer.Context(root, info_name="pointgan")):
        if ctx.command is root:
            continue
        if not hasattr(ctx.command, "list_commands") or getattr(
                ctx.command, "invoke_without_command", False):
            out.append(ctx.command_path.split()[1:])
    return out


def test_cli_reference_is_up_to_date():
    current = (DOCS / "cli.md").read_text(encoding="utf-8") if (DOCS / "cli.md").exists() else ""
    assert current == docgen.render(), (
        f"docs/cli.md is out of date with the CLI; regenerate it with: {docgen.REGENERATE}"
    )


def test_docgen_runs_as_a_module():
    res = subprocess.run([sys.executable, "-m", "pointgan_cli.cli.docgen"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT, env=dict(os.environ, COLUMNS="40"))
    assert res.returncode == 0, res.stderr
    assert res.stdout == docgen.render()  # independent of the terminal


def test_reference_covers_every_command_and_option():
    text = docgen.render()
    paths = commands()
    assert ["train"] in paths and ["spec", "show"] in paths
    root = typer.main.get_command(app)
    for ctx in docgen.walk(typer.Context(root, info_name="pointgan")):
        assert f"\n## {ctx.command_path}\n" in text
        for param in ctx.command.get_params(ctx):
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and not getattr(param, "hidden", False):
                    assert opt in text, f"{ctx.command_path} {opt} missing from the reference"
    assert "| `--tracker <none\\|mlflow\\|wandb>` |" in text


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_command_help_shows_an_example(cli, path):
    res = cli([*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output, f"`pointgan {' '.join(path)} --help` shows no Example: line"
    assert re.search(rf"pointgan {re.escape(' '.join(path))}\b", res.output)


def test_show_completion_prints_a_script():
    # typer finds the shell among the parent processes; CI (or `setsid`) may have none, so the
    # command runs inside a bash as a user's would (`; exit` keeps bash from exec'ing it).
    res = subprocess.run(["bash", "-c", '"$0" -m pointgan_cli --show-completion; exit $?',
                          sys.executable], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MPLBACKEND="Agg"))
    assert res.returncode == 0, res.stderr
    assert "_POINTGAN_COMPLETE" in res.stdout and "pointgan" in res.stdout


def test_completion_protocol_completes_commands_and_options():
    def complete(words: str) -> list[str]:
        env = dict(os.environ, _POINTGAN_COMPLETE="complete_bash", COMP_WORDS=words,
                   COMP_CWORD=str(len(words.split()) - 1))
        res = subprocess.run([sys.executable, "-m", "pointgan_cli"], capture_output=True,
                             text=True, timeout=60, env=env)
        assert res.returncode == 0, res.stderr
        return res.stdout.split()

    assert "train" in complete("pointgan tr")
    assert {"--tracker", "--tracking-uri"} <= set(complete("pointgan train --tra"))
    script = subprocess.run([sys.executable, "-m", "pointgan_cli"], capture_output=True,
                            text=True, timeout=60,
                            env=dict(os.environ, _POINTGAN_COMPLETE="source_bash"))
    assert "complete " in script.stdout and "_pointgan_completion" in script.stdout


def test_version(cli):
    from pointgan_cli import __version__

    res = cli(["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"pointgan {__version__}"


def _documented(doc: str) -> set[str]:
    """Every `code span` of a markdown document, split on commas and slashes."""
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", doc, flags=re.S))
    return {w.strip() for s in spans for w in re.split(r"[,/]\s*", s)} | set(spans)


def test_run_directory_doc_names_every_file_and_field(tmp_path):
    out = tmp_path / "r"
    spec = resolve_spec("baseline", overrides={"steps": 500, "checkpoint_every": 250})
    train_batch([Member(spec=spec, out=out, command=rerun_command(spec, str(out)))])
    doc = (DOCS / "run-directory.md").read_text(encoding="utf-8")
    names = _documented(doc)
    for f in sorted(out.rglob("*")):
        name = re.sub(r"step-\d{6}", "step-NNNNNN", f.name)
        if name != "step-NNNNNN.npz":
            assert f.name in doc, f"run-directory.md does not mention {f.name}"
    assert "step-NNNNNN.npz" in doc
    spec_doc = json.loads((out / "spec.json").read_text())
    missing = [k for k in [*spec_doc, *spec_doc["versions"]] if k not in names]
    reference = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing += [k for k in spec_doc["spec"]  # spec fields: documented as train's flags
                if k != "schema_version" and f"`--{k.replace('_', '-')} " not in reference]
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    summary = json.loads((out / "summary.json").read_text())
    ckpt = ckptfile.load(out / "checkpoints" / "last.npz")
    missing += [k for k in [*row, *summary, *ckpt, *ckpt["optim_g"], *ckpt["rng"]]
                if k not in names]
    assert not missing, f"run-directory.md does not document: {missing}"


def test_docs_link_to_files_that_exist():
    for page in ("getting-started.md", "run-directory.md", "trackers.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", text):
            assert (DOCS / target).is_file(), f"{page} links to missing {target}"


def test_doc_commands_exist():
    """Every `pointgan <command>` in the docs' code blocks names a registered command."""
    known = {" ".join(p) for p in commands()}
    groups = {p[0] for p in commands() if len(p) > 1}
    for page in ("getting-started.md", "trackers.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            for line in block.splitlines():
                m = re.match(r"\s*pointgan ((?:[a-z][\w-]* ?){1,2})", line)
                if not m or m.group(1).startswith("-"):
                    continue
                words = m.group(1).split()
                name = " ".join(words[:2]) if words[0] in groups else words[0]
                assert name in known, f"{page}: `{line.strip()}` uses an unknown command"
