"""The animation's layout: a converged b keeps room above it, the G loss has its own colour,
a long run name stops before the step readout, the sweep grid has axis labels."""

from __future__ import annotations

import numpy as np
from conftest import assert_text_inside
from matplotlib.colors import to_hex

from pointgan_cli.render.data import Cell, Limits, _span
from pointgan_cli.render.scene import G_COLOR, grid_scene, run_scene

LIM = Limits(v=(-1.2, 2.0), y=(-0.5, 1.5), params=(-1.0, 1.2), loss=(0.0, 1.5), last_step=10000)


def test_a_value_sitting_on_the_target_stays_off_the_frame():
    lo, hi = _span(0.0, 1.0, [1.0, 0.0], room=0.15)  # w and b ended exactly on 0 and 1
    assert lo <= -0.15 and hi >= 1.15


def test_history_has_one_y_axis_per_quantity_and_a_colour_per_line():
    """w and b on one axis, the losses on another below it (a D loss near 1 never sits on
    the b = 1 line); w, b, G loss and D loss each in a colour of its own."""
    scene, _, hist = run_scene(720, 540, 100, LIM, 1.0, "run")
    colours = {name: to_hex(line.get_color()) for name, line in
               (("w", hist.w), ("b", hist.b), ("g", hist.g_loss), ("d", hist.d_loss))}
    assert colours["w"] == G_COLOR and len(set(colours.values())) == 4
    assert hist.w.axes is hist.b.axes and hist.g_loss.axes is hist.d_loss.axes
    assert hist.w.axes is not hist.g_loss.axes
    assert hist.w.axes.get_ylim() == LIM.params and hist.g_loss.axes.get_ylim() == LIM.loss
    # no twin axes: no two axes of the figure share a rectangle
    boxes = [tuple(np.round(ax.get_position().bounds, 4)) for ax in scene.fig.axes]
    assert len(boxes) == len(set(boxes)) == 3
    renderer = scene.canvas.get_renderer()
    scene.canvas.draw()
    params, losses = hist.w.axes, hist.g_loss.axes
    assert params.get_window_extent(renderer).y0 > losses.get_window_extent(renderer).y1


def test_a_long_run_name_is_shortened_and_never_meets_the_step_readout():
    name = ("runs/20261126-092628-fixed+steps3000+lrd0.005+wd0.05+noise1.2+batch32+inner8 "
            "(fixed, seed 1): converged")
    scene, _, _ = run_scene(720, 540, 100, LIM, 1.0, name)
    title = next(t for t in scene.fig.texts if t.get_text().startswith("runs/"))
    assert title.get_text().endswith("…") and len(title.get_text()) < len(name)
    renderer = scene.canvas.get_renderer()
    box = title.get_window_extent(renderer)
    assert box.x1 <= 0.91 * 720  # within the panels' width
    scene.title.set_text("step 10000/10000  w=+0.000  b=+0.000")
    x, y_top = scene.title.get_transform().transform(scene.title.xy)
    assert y_top <= box.y0  # the readout's line is below the title's
    short, _, _ = run_scene(720, 540, 100, LIM, 1.0, "x (baseline, seed 102): stuck")
    assert any(t.get_text() == "x (baseline, seed 102): stuck" for t in short.fig.texts)


def test_sweep_grid_panels_have_axis_labels():
    cells = [Cell(label=f"m{i}", converged=bool(i % 2)) for i in range(3)]
    scene, panels = grid_scene(cells, 720, 540, 100, 2, LIM, [1.0] * 3, "sweep")
    axes = [p.ax for p in panels]
    assert [ax.get_ylabel() != "" for ax in axes] == [True, False, True]  # left column
    assert [ax.get_xlabel() != "" for ax in axes] == [False, True, True]  # bottom of columns
    assert np.all([ax.get_xlim() == LIM.v for ax in axes])


def test_a_long_dirac_title_wraps_inside_the_still(cli, tmp_path):
    """The Dirac-GAN picture's title (run name and method) wraps onto more lines instead of
    running off both sides of the square frame."""
    from pointgan_cli.render.animation import renderer_for
    from pointgan_cli.render.data import plan_for

    out = tmp_path / "runs-20261207-120000-dirac+steps40+simultaneous+sgd+lrd0.01+lrg0.01"
    res = cli(["train", "--game", "dirac", "--steps", "40", "--update", "simultaneous",
               "--optimizer", "sgd", "--out", out, "-q"])
    assert res.exit_code == 0, res.output
    r = renderer_for(plan_for(out, False, None, 4), 100)
    title = r.fig.get_suptitle()
    assert "\n" in title and "".join(title.split()).startswith(out.name)
    assert_text_inside(r.fig)


def test_wrap_text_breaks_at_spaces_and_inside_a_long_word():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pointgan_cli.render.scene import wrap_text

    fig = plt.figure(figsize=(3, 2), dpi=100)
    fig.canvas.draw()
    t = fig.suptitle("short words that need two lines at this width", fontsize=10)
    wrap_text(t, 280)
    assert t.get_text().count("\n") >= 1 and "  " not in t.get_text()
    t2 = fig.text(0.5, 0.5, "x" * 200, fontsize=10)
    wrap_text(t2, 280, max_lines=2)
    assert t2.get_text().count("\n") == 1 and t2.get_text().endswith("…")
    fig.canvas.draw()
    for line in t.get_text().split("\n"):
        t.set_text(line)
        assert t.get_window_extent(fig.canvas.get_renderer()).width <= 280
    plt.close(fig)
