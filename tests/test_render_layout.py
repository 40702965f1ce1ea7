"""The animation's layout: a converged b keeps room above it, the G loss has its own colour,
a long run name stops before the step readout, the sweep grid has axis labels."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex

from pointgan_cli.render.data import Cell, Limits, _span
from pointgan_cli.render.scene import G_COLOR, grid_scene, run_scene

LIM = Limits(v=(-1.2, 2.0), y=(-0.5, 1.5), params=(-1.0, 1.2), loss=(0.0, 1.5), last_step=10000)


def test_a_value_sitting_on_the_target_stays_off_the_frame():
    lo, hi = _span(0.0, 1.0, [1.0, 0.0], room=0.15)  # w and b ended exactly on 0 and 1
    assert lo <= -0.15 and hi >= 1.15


def test_g_loss_is_not_the_colour_of_w_and_b():
    scene, _, hist = run_scene(720, 540, 100, LIM, 1.0, "run")
    colours = {name: to_hex(line.get_color()) for name, line in
               (("w", hist.w), ("b", hist.b), ("g", hist.g_loss), ("d", hist.d_loss))}
    assert colours["w"] == colours["b"] == G_COLOR
    assert colours["g"] not in (colours["w"], colours["d"])


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
