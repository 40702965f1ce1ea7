"""The sweep charts: one pair of panels (w over b) per experiment with its grid points as lines,
y-limits that a runaway run cannot stretch, and success labels above the interval caps."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pointgan_cli.sweep.charts import evenly, robust_limits, split_group, weights_figure


@pytest.mark.parametrize("name, parts", [
    ("baseline", ("baseline", "")),
    ("R1 lr=0.003", ("R1", "lr=0.003")),
    ("instance noise lr=0.01 steps=3000", ("instance noise", "lr=0.01 steps=3000")),
    ("baseline lr_d=0.05", ("baseline", "lr_d=0.05")),
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


def test_weights_chart_has_a_panel_pair_per_experiment(cli, tmp_path):
    out = tmp_path / "s"
    res = cli(["sweep", "--preset", "baseline", "--preset", "fixed", "--grid", "lr_d=0.01,0.02",
               "--seeds", "0-1", "--steps", "60", "--workers", "1", "--out", out, "-q"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    fig, plt = weights_figure(out, summary, 1.0)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == 4  # baseline and fixed, w above b
        titles = sorted(ax.get_title().split(" (")[0] for ax in axes if ax.get_title())
        assert titles == ["baseline", "fixed"]
        legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
        assert [t.split(" ")[0] for t in legend] == ["lr-d=0.01", "lr-d=0.02"]
        assert [ax.get_ylabel() for ax in axes] == ["w", "b", "w", "b"]
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
    fig, plt = weights_figure(out, summary, 1.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    fig2, plt = weights_figure(out, summary, 1.0)
    ours = Image.open(io.BytesIO(_png(fig2, plt)))
    plt.close(fig)
    theirs = np.asarray(Image.open(buf).convert("RGB"), dtype=np.int16)
    mine = np.asarray(ours.convert("RGB"), dtype=np.int16)
    assert ours.mode == "P" and mine.shape == theirs.shape
    assert np.array_equal(mine, np.asarray(written.convert("RGB"), dtype=np.int16))
    diff = np.abs(mine - theirs)
    assert diff.mean() < 2.0 and diff.max() <= 24, (diff.mean(), diff.max())
    assert len(buf.getvalue()) > len((out / "weights.png").read_bytes())


def test_the_chart_preload_thread_is_gone_when_the_sweep_returns(cli, tmp_path, monkeypatch):
    """Workers train in other processes while this one, given a free core, loads matplotlib
    on a thread; the thread is joined before the sweep returns, so the next sweep can still
    fork its workers."""
    import threading

    from pointgan_cli.sweep import charts

    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # two workers leave two cores free

    started = []
    real = charts.Preload.start

    def spy(self):
        started.append(self)
        real(self)

    charts.Preload.start = spy
    try:
        res = cli(["sweep", "--preset", "fixed", "--seeds", "0-3", "--steps", "40",
                   "--max-batch", "2", "--workers", "2", "--out", tmp_path / "s", "-q"])
    finally:
        charts.Preload.start = real
    assert res.exit_code == 0, res.stderr
    assert started and all(p._thread is not None for p in started)
    assert not any(t.name == "pointgan-preload" for t in threading.enumerate())


def test_charts_load_during_training_only_where_a_core_is_free():
    from pointgan_cli.sweep.run import wants_preload

    assert not wants_preload("local", 2, 4, 2, None)  # both cores train
    assert wants_preload("local", 2, 4, 4, None)
    assert wants_preload("local", 4, 2, 4, None)  # two jobs use two of the four cores
    assert not wants_preload("local", 1, 4, 4, None)  # trains in this process
    assert not wants_preload("local", 2, 1, 4, None)  # one job: no pool
    assert not wants_preload("ray", 2, 4, 4, None)  # a local Ray uses every core
    assert wants_preload("ray", 2, 4, 2, "10.0.0.1:6379")


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
    fig, plt = weights_figure(out, summary, 1.0)
    try:
        drawn = [len(c.get_segments()) for ax in fig.axes for c in ax.collections
                 if isinstance(c, LineCollection)]
        g = summary["groups"][0]
        failed = len(g["failed"])
        want = [min(5, g["n"] - failed), min(5, failed)] * 2  # w and b panels
        assert drawn == want
        assert "at most 5 seeds per group and outcome drawn" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    monkeypatch.undo()
    fig, plt = weights_figure(out, summary, 1.0)  # the default cap: nothing thinned
    try:
        assert "at most" not in fig._suptitle.get_text()
    finally:
        plt.close(fig)
