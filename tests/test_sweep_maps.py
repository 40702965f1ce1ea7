"""Stability maps: grid ranges, the map's cells against the sweep summary, the map study."""

import csv
import json

import numpy as np
import pytest
from conftest import assert_text_inside

from pointgan_cli.errors import UsageError
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep import mapplot, maps
from pointgan_cli.sweep.ranges import format_range, parse_grid, parse_seeds
from pointgan_cli.sweep.spec import MAP_VARIANTS, build_sweep_spec, expand, sweep_command


def test_ranges_even_and_log():
    g = parse_grid(["noise_scale=0:2:5", "weight_decay=1e-4:1:5:log", "inner_batch=1:64:7:log",
                    "lr_d=1e-5:1:11:log", "steps=100:500:5"])
    assert g["noise_scale"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert g["weight_decay"] == [0.0001, 0.001, 0.01, 0.1, 1.0]
    assert g["inner_batch"] == [1, 2, 4, 8, 16, 32, 64]
    assert g["steps"] == [100, 200, 300, 400, 500]
    # inner values printed to 6 significant digits, so labels and ids stay readable
    assert [str(v) for v in g["lr_d"][:4]] == ["1e-05", "3.16228e-05", "0.0001", "0.000316228"]
    assert parse_grid(["noise_scale=2:0:3"])["noise_scale"] == [2.0, 1.0, 0.0]


@pytest.mark.parametrize("text", ["noise_scale=0:2:5", "weight_decay=1e-4:1:5:log",
                                  "lr_d=1e-5:1:11:log", "inner_batch=1:64:7:log",
                                  "noise_scale=0.1:0.3:3", "lr_g=3e-4:3e-2:9:log"])
def test_ranges_round_trip_through_the_recorded_text(text):
    field, values = next(iter(parse_grid([text]).items()))
    again = parse_grid([f"{field}={format_range(values)}"])[field]
    assert again == values and [type(v) for v in again] == [type(v) for v in values]


def test_a_list_that_is_no_range_stays_a_list():
    assert format_range([0.1, 0.2, 0.5]) is None
    assert format_range([1.0, 2.0]) is None


@pytest.mark.parametrize("bad, needle", [
    ("noise_scale=0:2:1", "N must be at least 2"),
    ("noise_scale=0:2:0", "N must be at least 2"),
    ("weight_decay=0:1:5:log", "above 0"),
    ("weight_decay=-1:1:5:log", "above 0"),
    ("nope=0:1:3", "unknown spec field"),
    ("loss=0:1:3", "numeric field"),
    ("noise_scale=0:2", "START:STOP:N"),
    ("noise_scale=0:2:3:lin", "START:STOP:N"),
    ("noise_scale=a:2:3", "must be numbers"),
    ("noise_scale=0:2:2.5", "whole number"),
    ("noise_scale=1:1:3", "not distinct"),
    ("steps=1:2:5", "not distinct"),
    ("steps=1.5:20:3", "integers"),
    ("noise_scale=1,0.5,1.0", "twice"),
])
def test_bad_ranges_name_the_grid(bad, needle):
    with pytest.raises(UsageError, match="^--grid: .*" + needle):
        parse_grid([bad])


@pytest.mark.parametrize("bad", ["noise_scale=0:2:1", "weight_decay=0:1:5:log", "nope=0:1:3"])
def test_bad_range_on_the_cli_is_one_line_exit_2_nothing_created(cli, tmp_path, bad):
    res = cli(["sweep", "--preset", "fixed", "--grid", bad, "--steps", "10",
               "--out", tmp_path / "s"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --grid:"), res.stderr
    assert list(tmp_path.iterdir()) == []


def test_range_members_ids_and_recorded_command():
    spec = build_sweep_spec(["fixed"], None, parse_grid(["noise_scale=0:2:5",
                            "weight_decay=1e-4:1:5:log"]), [0, 1], None, {"steps": 100})
    members = expand(spec)
    assert len(members) == 50 and len({m[1] for m in members}) == 25
    ids = {m[0] for m in members}
    assert "fixed_noise-scale=1.5_weight-decay=0.1-s0001" in ids
    cmd = sweep_command(spec, "out")
    assert "--grid noise_scale=0.0:2.0:5 --grid weight_decay=0.0001:1.0:5:log" in cmd


def _read_members(out, ids):
    return SweepDir(out).members.summaries(ids)


def test_two_numeric_axes_write_a_map_equal_to_the_summary(cli, tmp_path):
    out = tmp_path / "m"
    res = cli(["sweep", "--preset", "fixed", "--grid", "noise_scale=0:1.5:2",
               "--grid", "weight_decay=1e-3:1e-1:3:log", "--seeds", "0-1", "--steps", "300",
               "--workers", "1", "--out", out, "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["maps"] == [str(out / f) for f in ("map.csv", "map.json",
                                                                     "map.png")]
    for f in ("map.png", "map.json", "map.csv"):
        assert (out / f).stat().st_size > 0
    doc = json.loads((out / "map.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    groups = {g["group"]: g for g in summary["groups"]}
    assert doc["x"]["field"] == "noise_scale" and doc["x"]["scale"] == "linear"
    assert doc["y"]["field"] == "weight_decay" and doc["y"]["scale"] == "log"
    assert len(doc["cells"]) == 6 and doc["seeds"] == [0, 1]
    seen = set()
    for cell in doc["cells"]:
        x, y = cell["noise_scale"], cell["weight_decay"]
        g = groups[f"fixed noise-scale={x:g} weight-decay={y:g}"]
        seen.add(g["group"])
        assert (cell["n"], cell["converged"], cell["rate"], cell["wilson_low"],
                cell["wilson_high"]) == (g["n"], g["converged"], g["success_rate"],
                                         g["wilson_low"], g["wilson_high"]) and cell["n"] == 2
        assert sorted(cell["members"]) == sorted(g["members"])
        runs = _read_members(out, cell["members"])
        assert sum(r["converged"] for r in runs) == cell["converged"]
        assert sum(cell["classes"].values()) == 2
        assert cell["classes"]["converged"] == cell["converged"]
        for c, k in cell["classes"].items():
            assert k == sum(r["class"] == c for r in runs) == g["classes"].get(c, 0)
        failed = {c: k for c, k in cell["classes"].items() if c != "converged" and k}
        assert cell["dominant_failure"] == (max(failed, key=failed.get) if failed else None)
    assert len(seen) == 6
    # the study's fix (noise 1.5, wd 0.1) and its weight decays without noise lie on this plane
    assert doc["study_points"] == [
        {"label": "weight-decay=0.1", "noise_scale": 0.0, "weight_decay": 0.1},
        {"label": "weight-decay=0.001", "noise_scale": 0.0, "weight_decay": 0.001},
        {"label": "fixed", "noise_scale": 1.5, "weight_decay": 0.1}]
    with open(out / "map.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    for row, cell in zip(rows, doc["cells"]):
        assert float(row["noise_scale"]) == cell["noise_scale"]
        assert (int(row["n"]), int(row["converged"]), float(row["rate"])) == (
            cell["n"], cell["converged"], cell["rate"])
        assert float(row["wilson_low"]) == cell["wilson_low"]
    # the map files are pointgan's own: --force may replace the sweep
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0", "--steps", "50", "--workers", "1",
               "--out", out, "--quiet", "--force"])
    assert res.exit_code == 0, res.stderr
    assert not (out / "map.png").exists() and (out / "summary.json").exists()


def _plane_names(presets, grid, study=None, overrides=None):
    spec = build_sweep_spec(presets, study, parse_grid(grid), [0], None, overrides or {})
    return [(p.name, p.x.field, p.y.field) for p in maps.planes(spec)]


def test_which_sweeps_draw_maps():
    assert _plane_names(["fixed"], ["noise_scale=0,1", "weight_decay=0.1,1"]) == [
        (None, "noise_scale", "weight_decay")]
    # one-valued axes are constants, not a third axis
    assert _plane_names(["fixed"], ["noise_scale=0,1", "steps=100", "lr_d=1e-3,1e-2"]) == [
        (None, "noise_scale", "lr_d")]
    assert _plane_names(["fixed"], ["noise_scale=0,1"]) == []
    assert _plane_names(["fixed"], ["noise_scale=0,1", "lr_d=1,2", "lr_g=1,2"]) == []
    assert _plane_names(["fixed"], ["noise_scale=0,1", "loss=bce,hinge"]) == []
    assert _plane_names(["baseline", "fixed"], ["lr_g=0.001,0.01", "lr_d=0.001,0.01"]) == [
        ("baseline", "lr_g", "lr_d"), ("fixed", "lr_g", "lr_d")]


def test_the_map_study_has_two_planes_and_is_finer_on_cuda():
    cpu = build_sweep_spec([], "map", {}, None, None, {})
    assert [(p.name, p.x.field, p.y.field) for p in maps.planes(cpu)] == [
        ("fixed", "noise_scale", "weight_decay"), ("baseline", "lr_g", "lr_d")]
    assert cpu.seeds == parse_seeds("0-31")
    fixed = maps.planes(cpu)[0]
    # the region around the study's fix: noise 1.5 and weight decay 0.1 are grid values
    assert 1.5 in fixed.x.values and 0.1 in fixed.y.values and fixed.y.log
    assert fixed.x.values[0] < 1.5 < fixed.x.values[-1]
    assert fixed.y.values[0] < 0.1 < fixed.y.values[-1]
    gpu = build_sweep_spec([], "map", {}, None, None, {"device": "cuda"})
    assert len(expand(gpu)) > 4 * len(expand(cpu))
    assert sweep_command(cpu, "o").startswith("pointgan sweep --study map --seeds 0-31 ")
    assert "--study map" in sweep_command(gpu, "o") and "--device cuda" in sweep_command(gpu, "o")
    assert "--grid" not in sweep_command(cpu, "o")
    with pytest.raises(UsageError, match="^--study map .*drop --grid"):
        build_sweep_spec([], "map", parse_grid(["lr_d=1,2"]), None, None, {})
    assert build_sweep_spec(["fixed"], None, {}, None, None, {}).seeds == list(range(10))
    assert set(MAP_VARIANTS) == {"cpu", "cuda"}


def test_study_points_mark_the_studys_settings_on_each_plane():
    spec = build_sweep_spec([], "map", {}, [0], None, {"steps": 200})
    fixed, base = maps.planes(spec)
    got = {p["label"]: (p["noise_scale"], p["weight_decay"])
           for p in maps.study_points(fixed, spec)}
    # wd 1e-5 lies below this plane's range; noise 0.5/1.5 alone have no weight decay (not on
    # a log axis)
    assert got == {"fixed": (1.5, 0.1), "weight-decay=0.1": (0.0, 0.1),
                   "weight-decay=0.001": (0.0, 0.001)}
    got = {p["label"]: (p["lr_g"], p["lr_d"]) for p in maps.study_points(base, spec)}
    assert got == {"baseline lr=0.01": (0.01, 0.01), "baseline lr=0.003": (0.003, 0.003)}
    lrs = parse_grid(["lr_g=1e-3:1e-1:3:log", "lr_d=1e-3:1e-1:3:log"])
    fix = build_sweep_spec(["fixed"], None, lrs, [0], None, {})
    assert [p["label"] for p in maps.study_points(maps.planes(fix)[0], fix)] == [
        "fixed lr=0.01", "fixed lr=0.003"]
    # a method the study never ran has no marks
    hinge = build_sweep_spec(["hinge"], None, lrs, [0], None, {})
    assert maps.study_points(maps.planes(hinge)[0], hinge) == []
    assert resolve_spec("fixed").noise_scale == 1.5  # the mark above is the preset's value


def test_figure_draws_planes_without_a_contour_crossing():
    cells = [{"noise_scale": x, "weight_decay": y, "n": 4, "converged": 4, "rate": 1.0,
              "dominant_failure": None} for x in (0.0, 1.0) for y in (0.01, 0.1)]
    doc = {"variant": "fixed", "x": {"field": "noise_scale", "label": "noise", "scale": "linear",
                                      "values": [0.0, 1.0]},
           "y": {"field": "weight_decay", "label": "wd", "scale": "log", "values": [0.01, 0.1]},
           "fixed": {}, "criterion": {"tolerance": 0.1, "success_window": 0.2, "steps": 100},
           "seeds": [0, 1, 2, 3], "study_points": [], "cells": cells}
    png = mapplot.draw(doc)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def zero_row_doc() -> dict:
    """A 4 x 3 map with weight decay 0, 0.01, 0.1 and study settings at wd 1e-3 and 1e-5
    (between the 0 and 0.01 rows) and on a cell (fixed)."""
    xs, ys = [0.0, 0.5, 1.0, 1.5], [0.0, 0.01, 0.1]
    rate = np.array([[0.0, 0.25, 0.5, 0.75], [0.0, 0.5, 1.0, 1.0], [0.25, 0.75, 1.0, 1.0]])
    cells = [{"noise_scale": x, "weight_decay": y, "n": 4, "converged": int(4 * rate[i, j]),
              "rate": float(rate[i, j]), "dominant_failure": None if rate[i, j] == 1 else "stuck"}
             for i, y in enumerate(ys) for j, x in enumerate(xs)]
    return {"variant": "fixed",
            "x": {"field": "noise_scale", "label": "noise", "scale": "linear", "values": xs},
            "y": {"field": "weight_decay", "label": "wd", "scale": "linear", "values": ys},
            "fixed": {}, "criterion": {"tolerance": 0.1, "success_window": 0.2, "steps": 100},
            "seeds": [0, 1, 2, 3], "cells": cells,
            "study_points": [
                {"label": "weight-decay=0.001", "noise_scale": 0.0, "weight_decay": 1e-3},
                {"label": "weight-decay=1e-05", "noise_scale": 0.5, "weight_decay": 1e-5},
                {"label": "fixed", "noise_scale": 1.5, "weight_decay": 0.1}]}


def test_map_cells_are_equal_with_a_zero_row_and_stars_sit_where_the_study_ran():
    doc = zero_row_doc()
    ya = doc["y"]
    assert [mapplot.position(v, ya) for v in (0.0, 0.01, 0.1)] == [0, 1, 2]
    assert mapplot.position(1e-3, ya) == mapplot.position(1e-5, ya) == 0.5  # between 0, 0.01
    log = {"values": [1e-3, 1e-2, 1e-1], "scale": "log"}
    assert mapplot.position(10 ** -2.5, log) == pytest.approx(0.5)
    assert mapplot.position(0.003, {"values": [0.0, 0.01], "scale": "linear"}) == 0.5
    fig = mapplot.figure(doc)
    try:
        ax, bx = fig.axes[0], fig.axes[1]
        assert ax.get_ylim() == (-0.5, 2.5) and ax.get_xlim() == (-0.5, 3.5)  # equal cells
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.01", "0.1"]
        stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
        assert sorted((float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in stars) == [
            (0.0, 0.5), (1.0, 0.5), (3.0, 2 + mapplot.STAR_UP)]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        counts = [t for t in ax.texts if "/" in t.get_text()]
        assert len(counts) == 12
        for star in stars:  # no count under a star
            sb = star.get_window_extent(renderer)
            assert not any(sb.overlaps(t.get_window_extent(renderer)) for t in counts)
        # contours stay inside the grid (no stray lines off a log of 0)
        for ln in ax.get_lines():
            if ln.get_marker() in ("", "None", None) and len(ln.get_xdata()) > 1:
                xy = np.column_stack([ln.get_xdata(), ln.get_ydata()])
                assert np.all(xy >= -0.5) and np.all(xy[:, 0] <= 3.5) and np.all(xy[:, 1] <= 2.5)
        assert bx.get_ylim() == (-0.5, 2.5)
        assert_text_inside(fig)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_each_failure_class_is_drawn_in_its_legend_colour():
    # every kind of cell of the class panel in the colour its legend patch shows (a norm with
    # fewer bins than colours drew still_approaching cells in the diverging colour)
    from matplotlib.colors import to_rgba

    kinds = [None, "orbiting", "stuck", "still_approaching", "diverging", "drifting", "diverged",
             "no such class"]
    xs, ys = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0]
    doc = zero_row_doc()
    doc["x"]["values"], doc["y"]["values"], doc["study_points"] = xs, ys, []
    doc["cells"] = [{"noise_scale": x, "weight_decay": y, "n": 4, "converged": 4 * (k is None),
                     "rate": float(k is None), "dominant_failure": k}
                    for (y, x), k in zip([(y, x) for y in ys for x in xs], kinds)]
    fig = mapplot.figure(doc)
    try:
        mesh = fig.axes[1].collections[0]
        faces = mesh.cmap(mesh.norm(np.asarray(mesh.get_array()).ravel()))
        want = [mapplot.CLASS_COLOURS[k if k in mapplot.CLASS_COLOURS else "unclassified"]
                for k in kinds]
        assert [tuple(np.round(f, 3)) for f in faces] == [
            tuple(np.round(to_rgba(c), 3)) for c in want]
    finally:
        import matplotlib.pyplot as plt
        plt.close(fig)

