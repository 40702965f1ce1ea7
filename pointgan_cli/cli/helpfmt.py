"""How every ``--help`` reads, applied once to the whole command tree by the root group.

typer renders help through Rich markup, so text in square brackets (``[default: 0.01]``) would be
swallowed as a style tag; boolean flags would show a ``<bool>`` type as if they took a value; and
the hard line breaks of a docstring would stay in the middle of sentences. ``polish`` fixes the
three for every command, including ones added later: help text is plain text (escaped for Rich),
flags show no type, and each paragraph is one line that Rich wraps to the terminal. Lines that
start with ``Example`` keep a line of their own.
"""

from __future__ import annotations

import re
from typing import Any

import typer

#: Every command's help option, as in gh and uv (``-h`` too).
HELP_OPTIONS = ["-h", "--help"]

#: What Rich reads as a style tag: ``[`` then a letter, ``#``, ``/`` or ``@`` (rich.markup).
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """``text`` as Rich markup that shows it unchanged (as ``rich.markup.escape``, without
    loading Rich: ``--version`` and TAB completion never draw anything)."""
    return _TAG.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)


def reflow(text: str) -> str:
    """Join the lines of each paragraph (blank-line separated); ``Example:`` lines and the
    lines after them in a paragraph stay lines of their own."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = [x.strip() for x in para.splitlines() if x.strip()]
        if para.lstrip().startswith("\b"):
            out.append(para)
            continue
        prose: list[str] = []
        kept: list[str] = []
        for line in lines:
            if kept or re.match(r"Examples?:", line):
                kept.append(line)
            else:
                prose.append(line)
        out.append("\n\n".join([" ".join(prose)] * bool(prose) + kept))
    return "\n\n".join(out)


def plain(text: str) -> str:
    """The text a polished help string shows (undoes ``escape``), for the markdown reference."""
    return text.replace("\\[", "[")


def polish(command: Any) -> None:
    """Make ``command`` and everything under it follow the rules above (idempotent: each help
    text is escaped once, however often this runs)."""
    if not getattr(command, "_pointgan_polished", False):
        command._pointgan_polished = True
        if command.help:
            command.help = escape(reflow(command.help))
    params = list(command.params)
    # The help option is made (and kept) on first use: made here, with -h, for every command.
    help_option = command.get_help_option(typer.Context(command, help_option_names=HELP_OPTIONS))
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if getattr(param, "_pointgan_polished", False):
            continue
        param._pointgan_polished = True
        if getattr(param, "help", None):
            param.help = escape(" ".join(param.help.split()))
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # a flag takes no value: no <bool> beside it
        if getattr(param, "min", None) is not None or getattr(param, "max", None) is not None:
            # the help text says the range in words: no "<int range> [x>=1]" beside it
            param.metavar = param.metavar or "<int>"
            param._get_number_range_help_str = lambda: None
    for sub in getattr(command, "commands", {}).values():
        polish(sub)
