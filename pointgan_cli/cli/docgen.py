"""Render the CLI reference (``docs/cli.md``) from the application itself.

    python -m pointgan_cli.cli.docgen > docs/cli.md

Walks the command tree that ``pointgan`` actually runs (``typer.main.get_command(app)``) with
the command objects' public help API (``Context``, ``collect_usage_pieces``, ``get_params``,
``get_help_record``), so the reference cannot drift from ``--help``; ``tests/test_docs.py``
fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import typer

from .helpfmt import plain

REGENERATE = "python -m pointgan_cli.cli.docgen > docs/cli.md"
HEADER = f"""# CLI reference

<!-- Generated from the application by `{REGENERATE}`; do not edit by hand. -->

Every command prints results on stdout (`--json`: exactly one JSON document) and progress and
logs on stderr. Errors are one line, `Error: ...`, on stderr, with exit code 2 for bad input and
1 for a failure while working; an interrupted run exits with 130.
"""


def walk(ctx: typer.Context) -> Iterator[typer.Context]:
    """``ctx`` and a context for every visible command below it, depth first, in the order
    the group lists them."""
    yield ctx
    command: Any = ctx.command
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        yield from walk(typer.Context(sub, info_name=name, parent=ctx))


def render(app: typer.Typer | None = None) -> str:
    """The whole reference as markdown."""
    if app is None:
        from .app import app as app_
        app = app_
    root = typer.main.get_command(app)
    contexts = list(walk(typer.Context(root, info_name="pointgan")))
    out = [HEADER, "## Commands\n"]
    for ctx in contexts:
        short = ctx.command.get_short_help_str(limit=100)
        out.append(f"- [`{ctx.command_path}`](#{_anchor(ctx.command_path)}): {_text(short)}")
    out.append("")
    for ctx in contexts:
        out.append(section(ctx))
    return "\n".join(out).rstrip() + "\n"


def section(ctx: typer.Context) -> str:
    """One command: description, usage, example(s), subcommands and option tables."""
    command: Any = ctx.command
    prose, examples = _split_help(plain(command.help or ""))
    lines = [f"## {ctx.command_path}", ""]
    lines += [_text(p) + "\n" for p in prose]
    usage = " ".join(["Usage:", ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]  # not get_usage(): that wraps to the terminal
    if examples:
        lines += ["Example" + ("s" if len(examples) > 1 else "") + ":", "", "```bash"]
        lines += examples + ["```", ""]
    if hasattr(command, "list_commands"):
        rows = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                rows.append((f"`{name}`", _text(sub.get_short_help_str(limit=100))))
        if rows:
            lines += _table("Commands", ("Command", "Description"), rows)
    panels: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        default = "Arguments" if param.param_type_name == "argument" else "Options"
        panel = getattr(param, "rich_help_panel", None) or default
        panels.setdefault(panel, []).append((_code(record[0]), _text(record[1])))
    for panel, rows in panels.items():
        lines += _table(panel, ("Option" if panel != "Arguments" else "Argument", "Description"),
                        rows)
    return "\n".join(lines)


def _split_help(text: str) -> tuple[list[str], list[str]]:
    """Paragraphs of a docstring, and the commands of its ``Example:`` lines (one per line;
    lines after an ``Example:`` line in the same paragraph are examples too)."""
    prose: list[str] = []
    examples: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        words: list[str] = []
        in_examples = False
        for line in (x.strip() for x in para.splitlines()):
            match = re.match(r"Examples?:\s*", line)
            if match:
                in_examples = True
                line = line[match.end():]
            if in_examples:
                examples += [line] if line else []
            elif line:
                words.append(line)
        if words:
            prose.append(" ".join(words))
    return prose, examples


def _table(title: str, head: tuple[str, str], rows: list[tuple[str, str]]) -> list[str]:
    lines = [f"**{title}**", "", f"| {head[0]} | {head[1]} |", "| --- | --- |"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return lines + [""]


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, spaces to dashes, punctuation dropped."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _text(s: str) -> str:
    """Plain help text for a markdown table cell."""
    s = " ".join(plain(s).split())
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _code(s: str) -> str:
    return "`" + " ".join(s.split()).replace("|", "\\|") + "`"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
