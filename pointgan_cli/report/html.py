"""A page model (``collect``) as one self-contained HTML document.

Self-contained means the file works alone: opened from disk, mailed, or attached to a tracker
run. Styles are inline, every picture and video is a ``data:`` URI (base64), and nothing is
requested from anywhere else, so the page shows the same thing offline, years later. Every
text from the directory is escaped.

The page reads as a printed report without JavaScript: the tables and pictures are plain HTML.
The explorer (``explore`` builds its numbers) is an enhancement: its data is one
``<script type="application/json">`` block, its code the small modules in ``assets/`` (plain
JavaScript and CSS, shipped as package data), inlined here in ``ASSETS`` order; the explorer's
container stays hidden until that code runs.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from typing import Any

from .. import __version__
from ..store.fsguard import finite_json

#: The explorer's code, in load order (each file one module on ``window.PG``).
ASSETS = ("data.js", "plot.js", "losses.js", "study.js", "group.js", "dirac.js", "run.js",
          "app.js")
STYLES = ("explorer.css",)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 1180px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.path { color: #555; margin-top: 0; }
pre { background: #f5f5f5; padding: 0.7em 0.9em; white-space: pre-wrap;
      overflow-wrap: anywhere; border-radius: 4px; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; }
td:first-child { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0 1.6em; }
figure img, figure video { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
"""


def render(model: dict[str, Any]) -> str:
    """The whole document for ``model``."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(model['title'])} - pointgan report</title>",
        f"<style>{STYLE}</style>",
        *(f"<style>{asset(name)}</style>" for name in STYLES if model.get("explorer")),
        "</head>",
        "<body>",
        f"<h1>{esc(model['title'])}</h1>",
        f'<p class="path">{esc(model["path"])}</p>',
        "<h2>Command</h2>",
        f'<pre><code id="command">{esc(model["command"] or "(not recorded)")}</code></pre>',
    ]
    for i, section in enumerate(model["sections"]):
        parts.append(_section(section))
        if i == 0 and model.get("explorer"):  # below the results table: the explorer
            parts.append('<div id="explorer" hidden></div>')
    if model.get("explorer"):
        parts += [f'<script type="application/json" id="pg-data">{data_json(model["explorer"])}'
                  "</script>",
                  "<script>\n" + "\n".join(asset(name) for name in ASSETS) + "</script>"]
    parts += [f"<footer>Made by pointgan {esc(__version__)} (<code>pointgan report</code>) from "
              "the files in the directory above.</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def asset(name: str) -> str:
    """One of the explorer's files from ``pointgan_cli/report/assets``."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def data_json(data: dict[str, Any]) -> str:
    """The explorer's data as strict JSON (a non-finite number becomes null) that cannot end its
    ``<script>`` element early (every ``<`` written as the JSON escape ``\\u003c``)."""
    text = json.dumps(finite_json(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def _section(section: dict[str, Any]) -> str:
    esc = html.escape
    body = [f"<p>{esc(t)}</p>" for t in section.get("text", [])]
    if section.get("table") and section["table"]["rows"]:
        body.append(_table(section["table"]))
    for fig in section.get("figures", []):
        body.append(_figure(fig))
    inner = "\n".join(body)
    heading = esc(section["heading"])
    if section.get("collapsed"):
        return f"<section>\n<h2>{heading}</h2>\n<details><summary>show</summary>\n{inner}\n" \
               "</details>\n</section>"
    return f"<section>\n<h2>{heading}</h2>\n{inner}\n</section>"


def _table(table: dict[str, Any]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in table["columns"])
    keys = table.get("keys") or [None] * len(table["rows"])
    rows = "\n".join((f'<tr data-key="{esc(k)}">' if k is not None else "<tr>")
                     + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>"
                     for r, k in zip(table["rows"], keys))
    ident = f' id="{esc(table["id"])}"' if table.get("id") else ""
    return f"<table{ident}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n" \
           "</table>"


def _figure(fig: dict[str, Any]) -> str:
    esc = html.escape
    uri = f"data:{fig['mime']};base64,{base64.b64encode(fig['data']).decode('ascii')}"
    cap = esc(fig["caption"])
    if fig.get("video"):
        media = f'<video controls muted loop playsinline src="{uri}" title="{cap}"></video>'
    else:
        media = f'<img src="{uri}" alt="{cap}">'
    return f"<figure>{media}<figcaption>{cap}</figcaption></figure>"
