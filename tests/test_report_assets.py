"""The report's explorer page (``report/assets`` inlined by ``report.html``) on real runs and
sweeps, acting in a real headless Chromium (skipped where no chromium binary is installed): a
group's row draws its members, a seed opens its run, the slider moves D's curve, a link opens
the same view, a map cell opens its group, and without JavaScript the printed report is all
there is; plus what the page embeds and ships."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import time

import chromium
import numpy as np
import pytest
from conftest import invoke, needs_chromium
from PIL import Image, ImageChops
from test_report_explore import synthetic_sweep_model, unpack

from pointgan_cli.store.rundir import load_run


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two presets x 3 seeds (groups ``baseline`` and ``fixed``, seeds 217-219), a 2 x 2 map of
    one seed per cell, a run and a Dirac-GAN run, each with its report."""
    root = tmp_path_factory.mktemp("explore")
    pair, grid = root / "pair", root / "grid"
    run, dirac = root / "run", root / "dirac"
    invoke("sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "217-219",
           "--steps", "300", "--workers", "1", "--out", pair, "-q")
    invoke("sweep", "--preset", "baseline", "--seeds", "0", "--steps", "200", "--grid",
           "lr_d=0.01,0.003", "--grid", "noise_scale=0,1.5", "--workers", "1", "--out", grid,
           "-q")
    invoke("train", "--seed", "3", "--steps", "300", "--out", run, "-q")
    invoke("train", "--game", "dirac", "--steps", "200", "--out", dirac, "-q")
    noisy = root / "noisy"
    invoke("train", "--game", "dirac", "--steps", "100", "--instance-noise", "0.4", "--r1", "0.3",
           "--consensus", "0.1", "--label-easing", "0.1", "--out", noisy, "-q")
    for p in (pair, grid, run, dirac, noisy):
        invoke("report", p)
    return {"pair": pair, "grid": grid, "run": run, "dirac": dirac, "noisy": noisy}


def embedded(path) -> dict:
    text = (path / "report.html").read_text()
    m = re.search(r'<script type="application/json" id="pg-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_a_members_snapshots_are_embedded_once_as_its_metrics_say(made):
    data = embedded(made["run"])
    loaded = load_run(made["run"])
    (m,) = data["members"]
    table = unpack(m["p"], len(data["columns"]))
    steps = data["steps"][m["st"]]
    assert steps == loaded.steps  # 31 snapshots: under the cap, all kept
    for k, row in enumerate(loaded.metrics):
        for j, name in enumerate(data["columns"]):
            assert table[k, j] == pytest.approx(row[name], rel=1e-3, abs=1e-4)
    assert m["c"] == loaded.summary["class"] and m["seed"] == 3


def test_the_map_and_every_member_of_a_sweep_are_embedded(made):
    data = embedded(made["grid"])
    (plane,) = data["maps"]
    assert plane["x"]["field"] == "lr_d" and plane["y"]["field"] == "noise_scale"
    assert len(plane["cells"]) == 4 == len(data["groups"])
    summary = json.loads((made["grid"] / "summary.json").read_text())
    assert [g["name"] for g in data["groups"]] == [g["group"] for g in summary["groups"]]
    assert [g["converged"] for g in data["groups"]] == [g["converged"] for g in
                                                        summary["groups"]]
    pair = embedded(made["pair"])
    assert pair["maps"] == [] and [g["name"] for g in pair["groups"]] == ["baseline", "fixed"]
    assert sorted(m["seed"] for m in pair["members"]) == [217, 217, 218, 218, 219, 219]


def test_every_asset_is_inlined_and_shipped_as_package_data():
    import fnmatch
    import tomllib
    from pathlib import Path

    from pointgan_cli.report import html

    folder = Path(html.__file__).parent / "assets"
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(html.ASSETS + html.STYLES)
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]
    globs = [f"report/{g}" for g in data.get("pointgan_cli.report", [])] + data["pointgan_cli"]
    assert all(any(fnmatch.fnmatch(f"report/assets/{f}", g) for g in globs) for f in files)
    for name in html.ASSETS:  # nothing in the code can end the inline <script> early
        assert "</script" not in html.asset(name).lower()


def test_embedded_data_cannot_close_its_script_element():
    from pointgan_cli.report.html import data_json, render

    evil = "</script><script>alert(1)</script><!--"
    data = {"kind": "sweep", "groups": [{"name": evil}], "members": []}
    text = render({"title": "t", "path": "p", "command": "c", "sections": [
        {"heading": "h", "text": ["x"]}], "explorer": data})
    assert "alert(1)</script>" not in text and text.count("</script>") == 2
    assert json.loads(data_json(data)) == data
    assert json.loads(data_json({"x": [float("nan"), float("inf"), 1.5]})) == {"x": [None, None,
                                                                                  1.5]}


# -- the page in Chromium ---------------------------------------------------------------------


def element_png(page: chromium.Page, selector: str) -> Image.Image:
    r = page.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: "center"}}); const b = e.getBoundingClientRect();
        return [b.x + scrollX, b.y + scrollY, b.width, b.height]; }})()""")
    shot = page.call("Page.captureScreenshot", {"format": "png", "clip": {
        "x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": 1},
        "captureBeyondViewport": True})
    return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")


def view(page: chromium.Page) -> dict:
    return page.eval("""JSON.stringify({
        view: document.getElementById('explorer').dataset.view,
        group: (document.querySelector('#pg-group h3') || {}).textContent || null,
        drawn: document.getElementById('pg-group').dataset.drawn || null,
        total: document.getElementById('pg-group').dataset.total || null,
        member: document.getElementById('pg-run').dataset.member || null,
        step: document.getElementById('pg-run').dataset.step || null,
        curve: (document.getElementById('pg-d-curve') || {getAttribute: () => null})
            .getAttribute('d'),
        hash: location.hash})""")


def state(page):
    return json.loads(view(page))


@needs_chromium
def test_a_group_row_draws_its_members_and_a_seed_opens_its_run(made):
    url = chromium.file_url(made["pair"] / "report.html")
    with chromium.Page() as page:
        page.goto(url)
        assert state(page)["view"] == "study"
        page.click('#groups tr[data-key="fixed"] td:nth-child(2)')
        s = state(page)
        assert s["view"] == "group" and s["group"] == "Group fixed"
        assert s["drawn"] == s["total"] == "3"
        for name in ("w", "b"):  # one faint line per seed in each chart, plus the median
            assert page.eval(f"document.querySelectorAll('#pg-group-{name} path.pg-member')"
                             ".length") == 3
            assert page.eval(f"document.querySelectorAll('#pg-group-{name} path.pg-median')"
                             ".length") == 1
        assert "All 3 seeds shown" in page.eval("document.getElementById('pg-group').innerText")
        fixed = next(g for g in embedded(made["pair"])["groups"] if g["name"] == "fixed")
        said = page.eval("document.querySelector('#pg-group .pg-classes').textContent")
        assert (f"inside the tolerance to the end by step {fixed['at'][1]}." in said
                if len(fixed["at"]) >= 2 else "Fewer than half" in said), said
        assert page.eval("document.querySelector('#groups tr.pg-selected').dataset.key") == \
            "fixed"
        page.click('#pg-seeds tr[data-seed="218"]')
        s = state(page)
        assert s["view"] == "run" and s["member"] == "fixed-s0218"
        assert s["hash"].startswith("#group=fixed&seed=218")
        text = page.eval("document.getElementById('pg-run').innerText")
        assert "Seed 218 of fixed" in text and "play" in text
        failed = page.eval("document.querySelector('#failed tr[data-key]').dataset.key")
        page.click(f'#failed tr[data-key="{failed}"] td:nth-child(1)')  # a failure's row
        assert state(page)["member"] == failed and state(page)["view"] == "run"
        assert page.errors() == []


@needs_chromium
def test_the_slider_changes_ds_curve_and_the_link_opens_the_same_view(made):
    url = chromium.file_url(made["pair"] / "report.html")
    with chromium.Page() as page:
        page.goto(url + "#group=fixed&seed=218")
        before, curve = element_png(page, "#pg-main"), state(page)["curve"]
        assert state(page)["step"] == "300"  # a run opens at its last snapshot
        # A real click on the slider's track, a fifth of the way along: the thumb jumps there.
        box = page.eval("""(() => { const s = document.getElementById('pg-slider');
            s.scrollIntoView({block: 'center'}); const r = s.getBoundingClientRect();
            return [r.x + r.width * 0.2, r.y + r.height / 2]; })()""")
        for kind in ("mousePressed", "mouseReleased"):
            page.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})
        page.settle()
        moved = state(page)
        assert moved["step"] not in ("300", None) and moved["curve"] != curve
        after = element_png(page, "#pg-main")
        assert ImageChops.difference(before, after).getbbox() is not None  # pixels changed
        assert moved["hash"] == f"#group=fixed&seed=218&step={moved['step']}"
        page.click("#pg-play")  # plays on from there, a snapshot every 80 ms
        page.eval("new Promise(r => setTimeout(r, 400))")
        page.click("#pg-play")  # pause
        played = state(page)
        assert int(played["step"]) > int(moved["step"]) and played["curve"] != moved["curve"]
        page.goto(url + moved["hash"])  # back to the slider's snapshot, in this browser
        errors = page.errors()
    assert errors == []
    with chromium.Page() as page:  # a fresh browser context (profile), the link alone
        page.goto(url + moved["hash"])
        again = state(page)
        assert {k: again[k] for k in ("view", "member", "step", "curve")} == \
            {k: moved[k] for k in ("view", "member", "step", "curve")}
        assert ImageChops.difference(after, element_png(page, "#pg-main")).getbbox() is None
        page.goto(url + "#group=fixed&seed=218&step=3000")  # past the end: the last snapshot
        assert state(page)["step"] == "300" and state(page)["member"] == "fixed-s0218"
        assert page.errors() == []


@needs_chromium
def test_sorting_the_table_and_a_map_cell_opening_its_group(made):
    url = chromium.file_url(made["grid"] / "report.html")
    with chromium.Page() as page:
        page.goto(url)
        order = "Array.from(document.querySelectorAll('#groups tbody tr')).map(r => r.dataset.key)"
        first = page.eval(order)
        page.click("#groups thead th:nth-child(2)")  # by group name, ascending
        assert page.eval(order) == sorted(first)
        page.click("#groups thead th:nth-child(2)")
        assert page.eval(order) == sorted(first, reverse=True)
        assert page.eval("document.querySelectorAll('table.pg-map td.pg-cell').length") == 4
        cell = page.eval("document.querySelector('table.pg-map td.pg-cell').dataset.group")
        page.click("table.pg-map td.pg-cell")
        s = state(page)
        assert s["view"] == "group" and s["group"] == f"Group {cell}"
        assert s["drawn"] == s["total"] == "1"
        sel = "#pg-convergence path.pg-selected, #pg-tolerance path.pg-selected"
        assert page.eval(f"Array.from(document.querySelectorAll('{sel}'))"
                         ".map(p => p.dataset.group)") == [cell, cell]
        other = next(k for k in first if k != cell)  # shift-click: compare, stay in the group
        page.click(f'#groups tr[data-key="{other}"] td:nth-child(2)', modifiers=8)
        assert state(page)["group"] == f"Group {cell}"
        assert sorted(page.eval(f"Array.from(document.querySelectorAll('{sel}'))"
                                ".map(p => p.dataset.group)")) == sorted([cell, cell, other, other])
        assert page.eval("document.querySelectorAll('#groups tr.pg-selected').length") == 2
        assert page.errors() == []


@needs_chromium
@pytest.mark.parametrize("which", ["run", "dirac"])
def test_a_runs_report_opens_on_its_run(made, which):
    with chromium.Page() as page:
        page.goto(chromium.file_url(made[which] / "report.html"))
        s = state(page)
        assert s["view"] == "run" and s["member"] == made[which].name
        summary = json.loads((made[which] / "summary.json").read_text())
        assert summary["class"] in page.eval("document.getElementById('pg-run').innerText")
        if which == "dirac":  # (theta, psi) over the field's arrows
            assert page.eval("document.querySelectorAll('#pg-main path.pg-arrow').length") > 100
            assert page.eval("document.getElementById('pg-progress').getAttribute('d')")
        else:
            assert s["curve"].count("L") == 199  # D's curve over 200 values of v
        assert page.errors() == []


@needs_chromium
@pytest.mark.parametrize("which", ["dirac", "noisy"])
def test_the_pages_dirac_field_is_the_games_expected_field(made, which):
    """The arrows' directions agree with ``dirac.expected_field`` (instance noise, R1,
    consensus and label easing included)."""
    import torch

    from pointgan_cli.engine.dirac import expected_field

    spec = load_run(made[which]).spec
    points = [(0.7, -0.4), (-1.2, 0.9), (0.3, 1.5), (-0.5, -1.1)]
    want = expected_field(torch.tensor(points, dtype=torch.float64), spec).detach().numpy()
    with chromium.Page() as page:
        page.goto(chromium.file_url(made[which] / "report.html"))
        got = page.eval(f"JSON.stringify({json.dumps(points)}.map(([t, p]) => "
                        "PG.dirac.field(t, p, PG.data.raw.groups[0].field)))")
    np.testing.assert_allclose(np.array(json.loads(got)), want, rtol=1e-4, atol=1e-6)


LOSSES_IN_PAGE = """JSON.stringify((() => {
    const m = PG.data.member(0);
    const [g, d] = PG.run.lossSeries(Object.assign({}, m, {hasLosses: false}));
    return {steps: m.steps, g, d};
})())"""


@needs_chromium
@pytest.mark.parametrize("which", ["run", "dirac"])
def test_losses_computed_in_the_page_when_a_member_stores_parameters_only(made, which):
    """The Dirac-GAN's snapshot losses are exact functions of (theta, psi): the page's equal
    the recorded ones. PointGAN's depend on the step's x: the page's are their expectation over
    x in [-1, 1] (64 midpoints), equal to numpy's from the exact parameters, and near the
    recorded batch values."""
    run = load_run(made[which])
    with chromium.Page() as page:
        page.goto(chromium.file_url(made[which] / "report.html"))
        got = json.loads(page.eval(LOSSES_IN_PAGE))
        assert page.errors() == []
    rows = {r["step"]: r for r in run.metrics}
    assert got["steps"] == sorted(rows)
    recorded = np.array([[rows[s]["g_loss"], rows[s]["d_loss"]] for s in got["steps"]])
    page_losses = np.array([got["g"], got["d"]]).T
    if which == "dirac":
        np.testing.assert_allclose(page_losses, recorded, rtol=1e-2, atol=1e-3)  # float16 params
        return
    x = -1 + (2 * np.arange(64) + 1) / 64
    want = []
    for s in got["steps"]:
        r = rows[s]
        d = [np.float16(r[f"d_{n}"]).astype(float) for n in
             ("W1_0", "W1_1", "c1_0", "c1_1", "W2_0", "W2_1", "c2")]
        w, b = (np.float16(r[k]).astype(float) for k in ("w", "b"))

        def logit(v, d=d):
            return d[4] * np.tanh(d[0] * v + d[2]) + d[5] * np.tanh(d[1] * v + d[3]) + d[6]

        zf, zr = logit(w * x + b), logit(run.spec.real_value)
        want.append([np.logaddexp(0, -zf).mean(),
                     (np.logaddexp(0, zf).mean() + np.logaddexp(0, zr) - zr) / 2])
    np.testing.assert_allclose(page_losses, np.array(want), rtol=1e-9, atol=1e-12)
    assert np.abs(page_losses - recorded).mean() < 0.05  # a batch of 64 x vs the expectation


@needs_chromium
def test_without_javascript_the_printed_report_shows(made):
    page = chromium.load(chromium.file_url(made["pair"] / "report.html"), javascript=False)
    facts = page["facts"]
    assert page["errors"] == [] and facts["external"] == []
    assert facts["tables"][0] == 1 + 2  # header + the two groups
    assert "Results per group" in facts["text"] and "Charts" in facts["text"]
    assert "Click a group" not in facts["text"]  # the explorer's container stays hidden
    assert facts["images"] and all(i["complete"] and i["natural"] > 0 for i in facts["images"])


@pytest.mark.long
@needs_chromium
def test_a_1024_member_page_is_small_and_its_first_view_fast(tmp_path):
    from pointgan_cli.report.html import render

    text = render(synthetic_sweep_model(1024, 121))
    page_file = tmp_path / "report.html"
    page_file.write_text(text)
    size = page_file.stat().st_size
    # The explorer's share; a real sweep's page adds its charts (benchmarks/bench_report.py
    # measures a real 1,024-member sweep: docs/results.md).
    assert size <= 4.0e6, size
    with chromium.Page() as page:
        start = time.monotonic()
        page.goto(chromium.file_url(page_file))
        shown = chromium.explorer_shown(page)
        wall = time.monotonic() - start
        assert shown < 2000 and wall < 2.0, (shown, wall)
        page.click('#groups tr[data-key="g0"] td:nth-child(2)')  # 256 seeds, all drawn
        assert state(page)["drawn"] == "256" and page.errors() == []
    assert math.isfinite(size)
