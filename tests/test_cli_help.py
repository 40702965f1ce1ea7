"""What ``--help`` and TAB completion show: every default, flags as flags, only the flags a
command accepts, one list of presets, text wrapped by the terminal; and that starting the CLI
loads none of the heavy libraries (the start-up time itself is measured by
benchmarks/bench_startup.py, not here)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import typing

import pytest
import typer
from conftest import ROOT

from pointgan_cli import __version__
from pointgan_cli.cli import diagnose as diagnose_cli
from pointgan_cli.cli import docgen
from pointgan_cli.cli.app import app
from pointgan_cli.spec import PRESETS, SPEC_FIELDS, RunSpec, flag_name
from pointgan_cli.sweep.spec import STUDIES

WIDE = {"COLUMNS": "300"}


def help_text(cli_runner, args: list[str]) -> str:
    res = cli_runner.invoke(app, [*args, "--help"], env=WIDE)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


def _row(text: str, flag: str) -> str:
    """The help of ``flag``: its line and the continuation lines under it, joined."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(rf"\W*{re.escape(flag)}\b(?!-)", line)]
    assert starts, f"{flag} not in help"
    block = [lines[starts[0]]]
    for line in lines[starts[0] + 1:]:
        if re.match(r"\W*-", line) or not line.strip("│ "):
            break
        block.append(line)
    return " ".join(" ".join(line.strip("│ ").split()) for line in block)


def test_train_help_shows_the_default_of_every_spec_flag(runner):
    text = help_text(runner, ["train"])
    for field in SPEC_FIELDS:
        if field == "preset":
            assert "[default: baseline]" in _row(text, "--preset")
            continue
        default = RunSpec.model_fields[field].default
        assert f"[default: {default}]" in _row(text, flag_name(field)), field
    assert "[default: runs/<time>-<preset>+<overrides>]" in _row(text, "--out")


def test_flags_show_no_value_type(runner):
    root = typer.main.get_command(app)
    for ctx in docgen.walk(typer.Context(root, info_name="pointgan")):
        text = help_text(runner, ctx.command_path.split()[1:])
        assert "<bool>" not in text, ctx.command_path
    assert "<bool>" not in help_text(runner, [])
    assert re.search(r"--json +Print one JSON", help_text(runner, ["train"]))


def test_sweep_help_lists_only_flags_sweep_accepts(runner, cli):
    text = help_text(runner, ["sweep"])
    assert not re.search(r"--seed\b(?!s)", text) and "--seeds" in text
    res = cli(["sweep", "--seed", "3"])
    assert res.exit_code == 2 and "--seed" in res.stderr


def test_one_list_of_presets_in_help_and_errors(runner, cli):
    names = ", ".join(PRESETS)
    assert names in help_text(runner, ["train"]).replace("\n", " ")
    assert names in help_text(runner, ["sweep"])
    assert names in help_text(runner, ["spec", "show"])
    res = cli(["train", "--preset", "nope"])
    assert res.exit_code == 2 and names in res.stderr


def test_help_paragraphs_wrap_to_the_terminal(runner):
    text = help_text(runner, ["diagnose", "stability"])
    # the docstring's lines break mid-sentence; on a wide terminal the first line runs on
    source = inspect.getdoc(diagnose_cli.stability).splitlines()[0].strip()
    first = next(line for line in text.splitlines() if source in line).strip()
    assert first.startswith(source) and len(first) > len(source) + 40, (source, first)
    narrow = runner.invoke(app, ["diagnose", "stability", "--help"],
                           env={"COLUMNS": "60"}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 60


def test_defaults_in_brackets_survive_rich_markup(runner):
    text = help_text(runner, ["diagnose", "stability"])
    assert "[default: the last]" in _row(text, "--step")
    assert "[default: RUN_DIR/diagnose]" in _row(text, "--out")


def test_importing_the_app_loads_no_heavy_library():
    code = ("import sys, typer; import pointgan_cli.cli.app as a; typer.main.get_command(a.app); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'imageio', 'numpy', 'mlflow', "
            "'wandb', 'ray', 'PIL') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_version_alone_builds_no_command_tree():
    code = ("import sys; from pointgan_cli.cli.app import main; main(['--version']); "
            "print(sorted(m for m in ('typer', 'pydantic', 'rich', 'torch') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"pointgan {__version__}", "[]"]


def complete(words: str) -> list[str]:
    """What bash completion offers for ``words`` (the last word is being typed): the app's
    completion protocol in-process (the real console script's: tests/test_docs.py)."""
    from typer.testing import CliRunner

    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {"_POINTGAN_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    res = CliRunner().invoke(app, [], env=env, prog_name="pointgan")
    assert res.exit_code == 0, res.output
    return res.stdout.split()


def test_completion_offers_presets_studies_formats_and_devices():
    assert complete("pointgan train --preset ") == list(PRESETS)
    assert complete("pointgan train --preset w") == ["weighted", "weight-decay", "wgan-gp"]
    assert complete("pointgan sweep --preset fi") == ["fixed"]
    assert complete("pointgan sweep --study ") == list(STUDIES)
    assert complete("pointgan animate runs/x --format ") == ["gif", "mp4"]
    assert complete("pointgan sweep --format t") == ["table", "tsv"]
    assert complete("pointgan train --device cu")[:2] == ["cuda", "cuda:0"]
    assert complete("pointgan train --loss ") == ["bce", "lsgan", "hinge", "wgan"]


def test_max_batch_help_names_the_cpu_batch_the_engine_uses():
    from pointgan_cli.cli.app import app as root
    from pointgan_cli.engine.batching import CPU_BATCH

    sweep = typer.main.get_command(root).commands["sweep"]
    option = next(p for p in sweep.params if p.name == "max_batch")
    assert f"a CPU ({CPU_BATCH})" in option.help


def test_every_command_takes_dash_h(runner):
    root = typer.main.get_command(app)
    for ctx in docgen.walk(typer.Context(root, info_name="pointgan")):
        args = ctx.command_path.split()[1:]
        short = runner.invoke(app, [*args, "-h"], env=WIDE)
        assert short.exit_code == 0, (ctx.command_path, short.output)
        assert short.stdout == help_text(runner, args), ctx.command_path


def test_help_shows_no_type_noise_and_every_fixed_choice(runner):
    """No ``<list[str]>``/``<int range> [x>=1]``/``<str>`` on an option; an option that takes one of
    fixed values names each of them on its help row (type column or text)."""
    root = typer.main.get_command(app)
    for ctx in docgen.walk(typer.Context(root, info_name="pointgan")):
        text = help_text(runner, ctx.command_path.split()[1:])
        for noise in ("<list[", "range>", "[x>=", "[x<"):
            assert noise not in text, (ctx.command_path, noise)
        bare = re.search(r"--[\w-]+ +(-\w +)?<(str|text)>", text)  # an option: say what it takes
        assert bare is None, (ctx.command_path, bare)
    fixed = {("train", "--preset"): PRESETS, ("sweep", "--preset"): PRESETS,
             ("sweep", "--study"): STUDIES, ("sweep", "--executor"): ("local", "ray"),
             ("animate", "--format"): ("gif", "mp4"), ("ls", "--format"): ("table", "tsv", "csv"),
             ("train", "--tracker"): ("none", "mlflow", "wandb")}
    for field in SPEC_FIELDS:
        values = RunSpec.model_fields[field].annotation
        if getattr(values, "__origin__", None) is typing.Literal:
            for cmd in ("train", "sweep", "spec show"):
                fixed[(cmd, flag_name(field))] = typing.get_args(values)
    assert ("train", "--optimizer") in fixed and ("sweep", "--update") in fixed
    for (cmd, flag), values in fixed.items():
        row = _row(help_text(runner, cmd.split()), flag)
        for v in values:
            assert re.search(rf"(?<![\w-]){re.escape(str(v))}(?![\w-])", row), (cmd, flag, v, row)


def test_the_command_tree_loads_without_collections_and_commands_run_with_them(monkeypatch):
    """``app.main`` pauses the garbage collector while the tree's libraries load, then freezes
    what they made and turns it on again before the command runs (a command never runs with
    the collector off)."""
    import gc
    import signal

    import typer

    from pointgan_cli.cli import app as app_module

    seen: dict = {}

    class Command:
        def main(self, args, prog_name):
            seen.update(running=gc.isenabled(), frozen=gc.get_freeze_count())

    def get_command(_app):
        seen["loading"] = gc.isenabled()
        return Command()

    monkeypatch.setattr(typer.main, "get_command", get_command)
    monkeypatch.setattr(app_module, "_quick_exit", lambda: None)
    handler = signal.getsignal(signal.SIGTERM)
    gc.unfreeze()
    try:
        app_module.main(["ls"])
    finally:
        signal.signal(signal.SIGTERM, handler)
        gc.unfreeze()
        gc.enable()
    assert seen["loading"] is False and seen["running"] is True
    assert seen["frozen"] > 0
