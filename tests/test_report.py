"""`pointgan report`: the page's contents from real runs and sweeps, and the page itself in a
real headless Chromium (skipped where no chromium binary is installed)."""

from __future__ import annotations

import base64
import io
import json
import re

import chromium
import pytest
from conftest import invoke, needs_chromium
from PIL import Image
from typer.testing import CliRunner

from pointgan_cli import report
from pointgan_cli.cli.app import app
from pointgan_cli.errors import UsageError
from pointgan_cli.store.rundir import load_run
from pointgan_cli.store.sweepdir import SweepDir


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A run with an animation and a diagnose picture, and a sweep of 4 groups (lr_d x
    noise_scale, so it draws a stability map too) with members that fail and a grid
    animation."""
    root = tmp_path_factory.mktemp("report")
    run = root / "baseline-3"
    invoke("train", "--seed", "3", "--steps", "300", "--out", run, "-q")
    invoke("animate", run, "--frames", "6", "--dpi", "40", "-q")
    (run / "diagnose").mkdir()
    Image.new("RGB", (60, 40), "purple").save(run / "diagnose" / "generator-landscape.png")
    sweep = root / "grid"
    invoke("sweep", "--preset", "baseline", "--seeds", "0-1", "--steps", "300", "--grid",
           "lr_d=0.01,0.003", "--grid", "noise_scale=0,1.5", "--workers", "1", "--out", sweep,
           "-q")
    invoke("animate", sweep, "--grid", "--grid-size", "2", "--frames", "4", "--dpi", "30", "-q")
    return {"run": run, "sweep": sweep}


def data_uris(text: str) -> list[tuple[str, bytes]]:
    return [(m, base64.b64decode(d))
            for m, d in re.findall(r'src="data:([a-z]+/[a-z0-9]+);base64,([^"]+)"', text)]


def test_run_report_is_self_contained_with_results_charts_animation(made):
    run = made["run"]
    res = invoke("report", run, "--json")
    info = json.loads(res.stdout)
    assert info == {"report": str(run / "report.html"), "kind": "run", "figures": 3,
                    "bytes": (run / "report.html").stat().st_size}
    text = (run / "report.html").read_text()
    loaded = load_run(run)
    # only the flags that differ from the preset: the full command is spec.json's
    short = f"pointgan train --preset baseline --seed 3 --steps 300 --out {run}"
    assert f'<code id="command">{short}</code>' in text
    assert "--lecam-decay" in loaded.command and "--lecam-decay" not in short
    assert f"<td>class</td><td>{loaded.summary['class']}</td>" in text
    media = data_uris(text)
    assert [m for m, _ in media] == ["image/png", "image/png", "image/gif"]
    assert media[1][1] == (run / "diagnose" / "generator-landscape.png").read_bytes()
    assert media[2][1] == (run / "animation.gif").read_bytes()
    assert Image.open(io.BytesIO(media[0][1])).size[0] > 400  # the training curves
    # Nothing outside the file: no links, no script files, no remote pictures (the explorer's
    # code is inline; the only URL in it is the SVG namespace, an identifier never fetched).
    assert not re.search(r"<script[^>]*\bsrc=", text)
    assert "http" not in text.replace("http-equiv", "").replace("http://www.w3.org/2000/svg", "")
    if loaded.summary["class"] != "converged":
        assert f"<h2>Diagnosis: {loaded.summary['class']}</h2>" in text


def test_sweep_report_has_the_group_table_every_chart_and_each_failure(made):
    sweep = made["sweep"]
    invoke("report", sweep)
    text = (sweep / "report.html").read_text()
    summary = json.loads((sweep / "summary.json").read_text())
    assert "pointgan sweep --preset baseline --seeds 0-1" in text
    for g in summary["groups"]:
        assert f"<td>{g['group']}</td>" in text
    charts = sorted(p.name for p in sweep.glob("*.png"))
    assert {"weights.png", "success.png", "map.png"} <= set(charts)
    media = data_uris(text)
    pictures = [data for mime, data in media if mime == "image/png"]
    assert sorted(pictures) == sorted((sweep / c).read_bytes() for c in charts)
    assert media[-1] == ("image/gif", (sweep / "animation.gif").read_bytes())  # the grid
    failed = [m for g in summary["groups"] for m in g["failed"]]
    assert f"did not converge ({len(failed)} of 8)" in text
    for mid in failed:
        row = re.search(rf"<tr[^>]*><td>{re.escape(mid)}</td><td>[^<]*</td><td>([a-z_]+)</td>"
                        r"<td>([^<]*)</td>", text)
        cls = SweepDir(sweep).members.summary(mid)["class"]
        assert row and row.group(1) == cls
        # compact: the diagnosis in numbers, not a paragraph
        assert row.group(2).startswith("dist ") and len(row.group(2)) < 90, row.group(2)
    assert "window-averaged generator" not in text  # the per-member prose
    ranks = [int(r) for r in re.findall(r"<tr[^>]*><td>(\d+)</td><td>", text)]
    assert ranks[:len(summary["groups"])] == list(range(1, len(summary["groups"]) + 1))


def test_report_of_a_member_stored_in_its_sweeps_batches(made, tmp_path):
    sweep = made["sweep"]
    mid = SweepDir(sweep).index.entries[0].id
    member = sweep / "members" / mid
    store = {p.name: p.read_bytes() for p in (sweep / "batches").iterdir()}
    assert report.write(member)["report"] == str(member / "report.html")  # beside the member
    assert (member / "report.html").is_file() and not member.is_symlink()
    assert {p.name: p.read_bytes() for p in (sweep / "batches").iterdir()} == store
    info = report.write(member, tmp_path / "m.html")
    text = (tmp_path / "m.html").read_text()
    assert info["kind"] == "run" and f"<h1>Run {mid}</h1>" in text
    assert f"<td>class</td><td>{SweepDir(sweep).members.summary(mid)['class']}</td>" in text


def test_report_escapes_what_it_shows(made, tmp_path):
    model = {"title": "Run <b>x</b>", "path": "a&b", "command": "pointgan train --out '<x>'",
             "sections": [{"heading": "<h>", "text": ["1 < 2"],
                           "table": {"columns": ["<c>"], "rows": [["<script>"]]}}]}
    from pointgan_cli.report.html import render

    text = render(model)
    assert "<b>" not in text and "<script>" not in text and "&lt;script&gt;" in text


def test_report_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        report.write(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="not a pointgan run directory"):
        report.write(tmp_path)
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and res.stderr.startswith("Error: ")
    assert list(tmp_path.iterdir()) == []


@needs_chromium
@pytest.mark.parametrize("which", ["sweep", "run"])
def test_report_in_headless_chromium(made, which, tmp_path):
    path = made[which]
    invoke("report", path)
    page = chromium.load(chromium.file_url(path / "report.html"))
    assert page["errors"] == []
    facts = page["facts"]
    assert facts["external"] == []
    pictures = len(data_uris((path / "report.html").read_text()))
    assert len(facts["images"]) == pictures >= 3
    for img in facts["images"]:  # every picture decoded and takes room on the page
        assert img["complete"] and img["natural"] > 0, img["alt"]
        assert img["width"] > 50 and img["height"] > 30, img["alt"]
    if which == "sweep":
        assert facts["tables"][0] == 1 + 4  # header + one row per group
        assert "Results per group" in facts["text"] and "Charts" in facts["text"]
    else:
        assert "Result" in facts["text"] and "Animation" in facts["text"]
    shot = Image.open(io.BytesIO(page["screenshot"])).convert("RGB")
    assert shot.size[0] > 1100 and shot.size[1] > 900  # the whole page, not the viewport
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tables, charts: not blank
    white = max(colours)[0] / (shot.size[0] * shot.size[1])
    assert white < 0.95
