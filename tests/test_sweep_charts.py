"""The sweep charts: one pair of panels (w over b) per group, seeds coloured by outcome, shared
y-limits that a runaway run cannot stretch, each panel's x-axis its group's own steps; the
success dot plot, readable for the article study's 72 groups; no text outside a figure."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_text_inside

from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.sweep.charts import evenly, robust_limits, split_group, weights_figure


@pytest.mark.parametrize("name, parts", [
    ("baseline", ("baseline", "")),
    ("R1 lr=0.003", ("R1", "lr=0.003")),
    ("instance noise lr=0.01 steps=3000", ("instance noise", "lr=0.01 steps=3000")),
    ("baseline lr-d=0.05", ("baseline", "lr-d=0.05")),
])
def test_split_group_into_experiment_and_point(name, parts):
    assert split_group(name) == parts


def test_limits_hold_the_target_and_the_bulk_but_not_a_runaway():
    rng = np.random.default_rng(0)
    values = np.concatenate([1 + 0.1 * rng.standard_normal(5000), [1e6, np.nan, np.inf]])
    lo, hi, clipped = robust_limits(values, 1.0, (0.2, 0.3))
    assert lo < 0.2 and 1.2 < hi < 2.0 and clipped
    lo, hi, clipped = robust_limits(np.linspace(0.2, 1.0, 50), 1.0, (0.2, 0.2))
    assert lo < 0.2 and hi > 1.0 and not clipped


def test_weights_chart_has_a_panel_pair_per_group_nothing_overlaid(cli, tmp_path):
    """One panel pair per group, an experiment's grid points side by side (two experiments of
    two points share a row), w over b; one figure legend above the panels, outside every
    axes."""
    out = tmp_path / "s"
    res = cli(["sweep", "--preset", "baseline", "--preset", "fixed", "--grid", "lr_d=0.01,0.02",
               "--seeds", "0-1", "--steps", "60", "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == 8  # 4 groups, w above b
        titles = [ax.get_title() for ax in axes if ax.get_title()]
        assert len(titles) == 4 and titles[1].startswith("lr-d=0.02: ")
        assert titles[0].startswith("baseline lr-d=0.01: ") and titles[2].startswith("fixed ")
        assert [ax.get_ylabel() for ax in axes] == ["w", "b"] + [""] * 6  # one row
        assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend = fig.legends[0].get_window_extent(renderer)
        assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in axes)
        assert_text_inside(fig)
    finally:
        plt.close(fig)


def test_charts_are_palette_pngs_that_look_like_matplotlibs_render(cli, tmp_path):
    """The charts are written as 8-bit palette PNGs (a quarter of the bytes); every pixel stays
    close to matplotlib's own RGBA rendering of the same figure."""
    import io

    from PIL import Image

    from pointgan_cli.sweep.charts import DPI, _png

    out = tmp_path / "s"
    res = cli(["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-7",
               "--steps", "100", "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    written = Image.open(out / "weights.png")
    assert written.mode == "P"
    summary = json.loads((out / "summary.json").read_text())
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    fig2, plt = weights_figure(SweepDir(out), summary, 1.0)
    ours = Image.open(io.BytesIO(_png(fig2, plt)))
    plt.close(fig)
    theirs = np.asarray(Image.open(buf).convert("RGB"), dtype=np.int16)
    mine = np.asarray(ours.convert("RGB"), dtype=np.int16)
    assert ours.mode == "P" and mine.shape == theirs.shape
    assert np.array_equal(mine, np.asarray(written.convert("RGB"), dtype=np.int16))
    diff = np.abs(mine - theirs)
    assert diff.mean() < 2.0 and diff.max() <= 24, (diff.mean(), diff.max())
    assert len(buf.getvalue()) > len((out / "weights.png").read_bytes())


def test_at_most_a_cap_of_curves_is_drawn_evenly_spaced_with_both_ends():
    idx = np.arange(10, 1010)
    kept = evenly(idx, 512)
    assert len(kept) == 512 and kept[0] == 10 and kept[-1] == 1009
    assert len(set(kept.tolist())) == 512 and np.all(np.diff(kept) > 0)
    gaps = np.diff(kept)
    assert gaps.max() - gaps.min() <= 1  # evenly spaced
    assert np.array_equal(evenly(idx[:5], 512), idx[:5])


def test_a_big_group_draws_at_most_the_cap_and_says_so(cli, tmp_path, monkeypatch):
    from matplotlib.collections import LineCollection

    from pointgan_cli.sweep import charts

    out = tmp_path / "s"
    res = cli(["sweep", "--preset", "baseline", "--seeds", "0-11", "--steps", "40",
               "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    monkeypatch.setattr(charts, "MAX_DRAWN", 5)
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    try:
        drawn = [len(c.get_segments()) for ax in fig.axes for c in ax.collections
                 if isinstance(c, LineCollection)]
        g = summary["groups"][0]
        failed = len(g["failed"])
        want = [min(5, g["n"] - failed), min(5, failed)] * 2  # w and b panels
        assert drawn == [n for n in want if n]  # an outcome no seed had draws nothing
        assert "at most 5 seeds per group and outcome drawn" in \
            fig.get_suptitle().replace("\n", " ")
    finally:
        plt.close(fig)
    # a long note (the thinning and the shared limits together in a one-panel chart) wraps to
    # the figure's width, and the panels move down for it: nothing is cut or overlapped
    real = charts.drawn_groups
    monkeypatch.setattr(charts, "drawn_groups",
                        lambda groups: (real(groups)[0], "a long note, " * 20 + "end"))
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    try:
        fig.canvas.draw()
        box, title = fig.bbox, fig._suptitle.get_window_extent()
        assert box.x0 <= title.x0 and title.x1 <= box.x1 and title.y1 <= box.y1
        assert fig.get_suptitle().count("\n") >= 3 and "note, end; at most" in \
            fig.get_suptitle().replace("\n", " ")
        legend = fig.legends[0].get_window_extent()
        assert legend.y1 <= title.y0 and all(legend.y0 >= ax.get_window_extent().y1
                                             for ax in fig.axes)
    finally:
        plt.close(fig)
    monkeypatch.undo()
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)  # the default cap: nothing thinned
    try:
        assert "at most" not in fig.get_suptitle()
    finally:
        plt.close(fig)


def article_like_summary() -> dict:
    """The article study's shape: 9 experiments x (2 learning rates x 4 budgets)."""
    groups = []
    for e in ("baseline", "easing", "weighted", "weight-decay=0.1", "weight-decay=0.001",
              "weight-decay=1e-05", "noise-scale=0.5", "noise-scale=1.5", "fixed"):
        for lr in ("0.01", "0.003"):
            for budget in ("3k", "6k", "10k", "20k"):
                k = len(groups) % 33
                groups.append({"group": f"{e} lr={lr} budget={budget}", "n": 32,
                               "converged": k, "success_rate": k / 32,
                               "wilson_low": max(0.0, k / 32 - 0.15),
                               "wilson_high": min(1.0, k / 32 + 0.15)})
    return {"groups": groups}


def test_article_success_chart_is_small_multiples_with_horizontal_labels():
    """72 groups: one panel per experiment, grid points as rows; under 1,800 px wide (was
    5,082), every label horizontal and inside the picture."""
    from pointgan_cli.sweep.successplot import success_figure

    fig, plt = success_figure(article_like_summary())
    try:
        w, h = fig.get_size_inches() * 110
        assert w <= 1800 and h <= 1400, (w, h)
        panels = [ax for ax in fig.axes if ax.get_title()]
        assert [ax.get_title() for ax in panels][:3] == ["baseline", "easing", "weighted"]
        assert len(panels) == 9
        for ax in panels:
            labels = [t.get_text() for t in ax.get_yticklabels()]
            assert labels[0] == "lr=0.01 budget=3k" and len(labels) == 8
            assert all(t.get_rotation() == 0 for t in ax.get_yticklabels())
        assert_text_inside(fig)
    finally:
        plt.close(fig)


def test_two_group_success_chart_keeps_its_title_inside():
    from pointgan_cli.sweep.successplot import success_figure

    summary = {"groups": [
        {"group": "baseline", "n": 4, "converged": 0, "success_rate": 0.0, "wilson_low": 0.0,
         "wilson_high": 0.49},
        {"group": "fixed", "n": 4, "converged": 2, "success_rate": 0.5, "wilson_low": 0.15,
         "wilson_high": 0.85}]}
    fig, plt = success_figure(summary)
    try:
        assert len(fig.axes) == 1
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["baseline", "fixed"]
        assert "Success rate" in fig.get_suptitle()
        assert_text_inside(fig)
    finally:
        plt.close(fig)


def test_weights_colour_per_outcome_shared_limits_and_each_budgets_own_x_axis(cli, tmp_path):
    """Seeds that converged and seeds that did not in two distinct colours; every w panel with
    the same y-limits, every b panel too; each panel's x-axis ends at its group's last step."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_hex

    from pointgan_cli.sweep import charts

    out = tmp_path / "s"
    res = cli(["sweep", "--preset", "fixed", "--grid", "steps=60,160", "--seeds", "0-5",
               "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    try:
        axes = fig.axes
        w_axes, b_axes = axes[0::2], axes[1::2]
        assert len({ax.get_ylim() for ax in w_axes}) == 1
        assert len({ax.get_ylim() for ax in b_axes}) == 1
        assert [ax.get_xlim()[1] for ax in w_axes] == [60, 160]
        colours = {}
        for ax in axes:
            for c in ax.collections:
                if isinstance(c, LineCollection) and len(c.get_segments()):
                    style = "dashed" if c.get_linestyle()[0][1] else "solid"
                    colours.setdefault(style, set()).add(to_hex(c.get_color()[0]))
        assert colours.get("solid", {charts.CONVERGED}) == {charts.CONVERGED}
        assert colours.get("dashed", {charts.NOT_CONVERGED}) == {charts.NOT_CONVERGED}
        assert charts.CONVERGED != charts.NOT_CONVERGED
        medians = [ln for ax in axes for ln in ax.get_lines() if ln.get_linewidth() > 1.5]
        assert len(medians) == len(axes)  # one bold median per panel, drawn on top
        assert all(to_hex(ln.get_color()) == "#000000" and ln.get_zorder() > 2
                   for ln in medians)
        assert_text_inside(fig)
    finally:
        plt.close(fig)


def test_article_layout_rows_per_experiment_and_columns_per_point():
    from pointgan_cli.sweep.charts import panel_layout

    rows = panel_layout(article_like_summary()["groups"])
    assert len(rows) == 9 and all(len(r) == 8 for r in rows)
    assert {split_group(g["group"])[0] for g in rows[3]} == {"weight-decay=0.1"}
    presets = [{"group": n} for n in ("baseline", "fixed", "r1", "r2", "hinge")]
    assert [len(r) for r in panel_layout(presets)] == [4, 1]
    methods = [{"group": f"{m} lr={lr}"} for m in ("baseline", "fixed", "R1", "R2", "WGAN-GP")
               for lr in ("0.01", "0.003")]  # the literature study's shape
    rows = panel_layout(methods)
    assert [len(r) for r in rows] == [8, 2] and rows[1][0]["group"] == "WGAN-GP lr=0.01"


def test_a_runaway_group_does_not_set_everyones_limits():
    from pointgan_cli.sweep.charts import shared_limits

    calm = [1 + 0.1 * np.sin(np.linspace(0, 9, 50))[None, :].repeat(4, 0) for _ in range(7)]
    wild = np.linspace(-15, 15, 50)[None, :].repeat(4, 0)
    lo, hi = shared_limits([*calm, wild], 1.0)
    assert -1.5 < lo < 0.9 and 1.1 < hi < 2.5  # the calm groups' range, not +-15
    assert shared_limits(calm, 1.0) == shared_limits([*calm, wild], 1.0)


def test_more_groups_than_the_cap_draw_that_many_evenly_spaced_and_say_so(monkeypatch):
    """A dense map's 1,089 groups: the charts draw at most ``MAX_GROUPS`` (first and last
    kept) and say how many of how many; at the cap or below every group is drawn."""
    from pointgan_cli.sweep import charts
    from pointgan_cli.sweep.successplot import success_figure

    monkeypatch.setattr(charts, "MAX_GROUPS", 10)
    groups = [{"group": f"fixed wd={i}", "n": 4, "converged": i % 5, "success_rate": i % 5 / 4,
               "wilson_low": 0.0, "wilson_high": 1.0} for i in range(1089)]
    drawn, note = charts.drawn_groups(groups)
    assert len(drawn) == 10 and drawn[0] is groups[0] and drawn[-1] is groups[-1]
    assert note == "10 of 1,089 groups drawn, evenly spaced; all in summary.csv"
    assert charts.drawn_groups(groups[:10]) == (groups[:10], "")
    fig, plt = success_figure({"groups": groups})
    try:
        rows = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
        assert len(rows) == 10 and rows[0] == "wd=0" and rows[-1] == "wd=1088"
        assert note in fig.get_suptitle().replace("\n", " ")
    finally:
        plt.close(fig)


def _convergence_summary(n: int) -> dict:
    """``n`` groups named like the article study's, each with a small Kaplan-Meier curve."""
    names = ["baseline", "fixed", "noise-scale=1.5", "weight-decay=0.001", "easing", "weighted"]
    groups = []
    for k in range(n):
        steps = [0, 200 + 10 * k, 900, 3000]
        frac = [0.0, 0.3, 0.6 + 0.004 * k, 0.7]
        groups.append({
            "group": f"{names[k % len(names)]} lr={(0.01, 0.003)[k % 2]} budget={k // 12}k",
            "n": 128, "converged": 90, "median_converged_at": 900 if k % 3 else None,
            "convergence_curve": [{"step": s, "fraction": f, "low": max(0, f - 0.1),
                                   "high": min(1, f + 0.1)} for s, f in zip(steps, frac)],
        })
    return {"groups": groups}


@pytest.mark.parametrize("n", [3, 72])
def test_the_convergence_chart_keeps_every_legend_entry_inside_without_a_warning(n):
    """The article study's 72 groups once made a legend taller than the figure (cut off, and
    matplotlib's tight-layout warning on stderr); now every entry is inside, each curve's
    colour and line style pair is its own, and nothing warns."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pointgan_cli.sweep.charts import convergence_figure, plot_convergence

    summary = _convergence_summary(n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = convergence_figure(summary)
        fig.canvas.draw()
        texts = [t.get_text() for leg in fig.legends + [fig.axes[0].get_legend()]
                 if leg is not None for t in leg.get_texts()]
        assert len(texts) == n
        assert_text_inside(fig)
        styles = {(line.get_color(), line.get_linestyle()) for line in fig.axes[0].get_lines()
                  if line.get_label() in texts}
        assert len(styles) == n
        plt.close(fig)
        assert plot_convergence(summary)[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_group_names_and_notes_wrap_instead_of_running_into_each_other(cli, tmp_path,
                                                                            monkeypatch):
    """A 2-axis grid names its groups at length (``fixed noise-scale=0 weight-decay=0.0001``):
    each panel's title wraps to its panel, no two titles overlap, the legend and the titles
    stay apart; the figure's notes wrap to its width instead of running off both sides."""
    from matplotlib.text import Text

    from pointgan_cli.sweep import charts

    out = tmp_path / "g"
    res = cli(["sweep", "--preset", "fixed", "--grid", "noise_scale=0:3:4", "--grid",
               "weight_decay=1e-4:1:3:log", "--seeds", "0-2", "--steps", "40", "--workers", "1",
               "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    monkeypatch.setattr(charts, "MAX_DRAWN", 1)  # thinned: a second, long note
    fig, plt = weights_figure(SweepDir(out), summary, 1.0)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        titles = [ax.title for ax in fig.axes if ax.get_title()]
        assert len(titles) == 12 and any("\n" in t.get_text() for t in titles)
        boxes = [t.get_window_extent(renderer) for t in titles]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        legend = fig.legends[0].get_window_extent(renderer)
        assert not any(legend.overlaps(b) for b in boxes)
        sup = next(t for t in fig.findobj(Text) if t.get_text().startswith("w and b over"))
        assert sup.get_text().count("\n") >= 1 and "at most 1 seeds" in sup.get_text()
        assert not legend.overlaps(sup.get_window_extent(renderer))
        assert_text_inside(fig)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("ylim, title, known, moved", [
    ((-1.0, 1.0), "group: 3/4", True, False),  # plain tick labels
    ((0.2, 1.7), "a long group name: 3/4 " * 3, True, False),
    ((1e-7, 3e-7), "group: 3/4", False, False),  # "1e-7" above the axis, clear of the title
    ((1e-7, 3e-7), "a long group name: 3/4 " * 3, False, True),  # ... under it: moved up
    ((1.000001, 1.000004), "a long group name: 3/4 " * 3, False, True),  # "+1"
])
def test_a_title_is_pinned_only_where_matplotlib_would_put_it_at_the_top(ylim, title, known,
                                                                          moved):
    """``title_place_known``: the weights chart pins a panel's title at ``y=1`` only where
    matplotlib's automatic place is known to be exactly there (no offset text, no ticks on
    top); the picture is the same either way."""
    import io

    import matplotlib.pyplot as plt

    from pointgan_cli.sweep.charts import title_place_known

    def png(pin: bool) -> tuple[bytes, float, bool]:
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], list(ylim))
        ax.set_ylim(*ylim)
        ax.set_title(title, fontsize=8, pad=3)
        place = title_place_known(ax)
        if pin and place:
            ax.set_title(ax.get_title(), fontsize=8, pad=3, y=1.0)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=60)
        y = ax.title.get_position()[1]
        plt.close(fig)
        return buf.getvalue(), y, place

    (auto, y_auto, place), (pinned, y_pinned, _) = png(False), png(True)
    assert place is known
    assert pinned == auto and y_pinned == y_auto
    assert bool(y_auto > 1.0) is moved


def test_a_panel_with_ticks_on_top_keeps_its_automatic_title():
    import matplotlib.pyplot as plt

    from pointgan_cli.sweep.charts import title_place_known

    fig, ax = plt.subplots()
    ax.set_title("t")
    ax.xaxis.tick_top()
    assert not title_place_known(ax)
    plt.close(fig)
