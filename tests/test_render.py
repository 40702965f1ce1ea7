"""The animate library: frame selection, what a frame shows, the writers, sweep grids."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import make_sweep
from hypothesis import given
from hypothesis import strategies as st

from pointgan_cli import render
from pointgan_cli.engine.models import d_logits_packed, d_prob_packed
from pointgan_cli.errors import RuntimeFailure, UsageError
from pointgan_cli.naming import rerun_command
from pointgan_cli.render import data as render_data
from pointgan_cli.render import writers as render_io
from pointgan_cli.render.scene import D_COLOR, G_COLOR, d_curve
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store.rundir import load_run
from pointgan_cli.store.sweepdir import SweepDir
from pointgan_cli.training.train import Member, train_batch

# -- shared fixtures: real runs, trained once per session ---------------------------------------


def shared_run(tmp_path_factory, name, preset="fixed", **overrides):
    """A real run directory, trained once per test session (summary.json is written last)."""
    path = tmp_path_factory.getbasetemp() / "animate-runs" / name
    if not (path / "summary.json").exists():
        # snapshots every 50 steps (13 frames), not the success window's denser default
        spec = resolve_spec(preset, overrides={"seed": 1, "steps": 600, "snapshot_every": 50,
                                               **overrides})
        train_batch([Member(spec=spec, out=path, command=rerun_command(spec, str(path)))])
    return path


def shared_sweep(tmp_path_factory):
    """A small real sweep: two baseline members (they fail at 600 steps) and two fixed ones
    (they converge), trained as two batches."""
    root = tmp_path_factory.getbasetemp() / "animate-sweep"
    if (root / "summary.json").exists():
        return root
    return make_sweep(root, [(f"{preset}-s{seed}", preset,
                              resolve_spec(preset, overrides={"seed": seed, "steps": 600}))
                             for preset in ("baseline", "fixed") for seed in (0, 1)])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return shared_run(tmp_path_factory, "fixed-600")  # 13 snapshots


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return shared_sweep(tmp_path_factory)


def decode(path):
    return [np.asarray(f) for f in iio.imiter(path)]


def no_temp_files(d):
    return [p.name for p in d.iterdir() if ".tmp" in p.name]


# -- frame selection ---------------------------------------------------------------------------


@given(st.integers(2, 5000), st.integers(2, 1200))
def test_select_frames_even_with_first_and_last(n, frames):
    idx = render_data.select_frames(n, frames)
    assert len(idx) == min(n, frames)
    assert idx[0] == 0 and idx[-1] == n - 1
    gaps = np.diff(idx)
    assert gaps.min() >= 1  # strictly increasing, no snapshot twice
    assert gaps.max() - gaps.min() <= 1  # evenly spread


def test_select_frames_small_cases():
    assert render_data.select_frames(13, 120) == list(range(13))
    assert render_data.select_frames(11, 3) == [0, 5, 10]
    assert render_data.select_frames(1001, 1000)[-2:] == [999, 1000]


# -- what a frame shows ------------------------------------------------------------------------


def test_samples_and_d_are_the_engines_own(run_dir):
    """Recomputed samples through the saved D reproduce the logged D(fake) and G loss."""
    track = render_data.Track(load_run(run_dir))
    for k, row in enumerate(load_run(run_dir).metrics):
        f = track.frame(k)
        assert f.samples.shape == (64,)
        d = torch.from_numpy(f.d)[None]
        v = torch.from_numpy(f.samples)[None]
        assert float(d_prob_packed(d, v).mean()) == pytest.approx(row["d_fake"], rel=1e-9)
        g_loss = float(torch.nn.functional.softplus(-d_logits_packed(d, v)).mean())
        assert g_loss == pytest.approx(row["g_loss"], rel=1e-9)
        assert (f.step, f.w, f.b) == (row["step"], row["w"], row["b"])


def test_limits_hold_everything_and_cap_blowups(run_dir):
    track = render_data.Track(load_run(run_dir))
    lim = render_data.limits([track])
    lo, hi = track.b - np.abs(track.w), track.b + np.abs(track.w)
    assert lim.v[0] < min(lo.min(), -1.0) and lim.v[1] > max(hi.max(), 1.0)
    assert lim.y[0] < min(lo.min(), 0.0) and lim.y[1] > max(hi.max(), 1.0)
    assert lim.last_step == 600
    track.w = track.w.copy()
    track.w[5] = 1e6  # one diverging snapshot must not flatten the whole animation
    capped = render_data.limits([track])
    cap = render_data.AXIS_CAP
    assert capped.v[1] < 1.0 + cap + 1.0 and capped.v[0] > -1.0 - cap - 1.0


def _pixel(renderer, img, ax, x, y):
    px, py = ax.transData.transform((x, y))
    return img[renderer.size[1] - int(round(py)), int(round(px))]


def _near(renderer, img, ax, x, y, color, tol=60, r=2):
    """Some pixel within ``r`` of data point (x, y) has ``color`` (RGB 0-255) within ``tol``."""
    px, py = ax.transData.transform((x, y))
    row, col = renderer.size[1] - int(round(py)), int(round(px))
    patch = img[row - r:row + r + 1, col - r:col + r + 1, :3].astype(int)
    return int(np.abs(patch - np.array(color)).sum(-1).min()) <= tol


def _rgb(hex_color):
    return [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]


def test_frame_shows_generator_d_samples_and_real(run_dir):
    plan = render_data.plan_for(run_dir, False, None, 4)
    r = render.Renderer(plan, dpi=100)
    track = plan.tracks[0]
    step = 300
    img = np.asarray(r.draw(step)).copy()  # (H, W, 4)
    assert img.shape == (540, 720, 4)
    ax = r.panels[0].ax
    f = track.frame(track.index_at(step))
    for x in (-0.8, -0.3, 0.2):  # the generator line y = w x + b
        assert _near(r, img, ax, x, f.w * x + f.b, _rgb(G_COLOR))
    dv = d_curve(f.d, np.array([-1.0, 0.0, 1.4]))
    for v, p in zip((-1.0, 0.0, 1.4), dv):  # the discriminator curve
        assert _near(r, img, ax, v, p, _rgb(D_COLOR))
    assert _near(r, img, ax, 1.0, 0.0, (0, 0, 0))  # the real value: a black star on the axis
    px = _pixel(r, img, ax, float(np.median(f.samples)), 0.0)  # samples: blue dots on the axis
    assert px[2] > px[0] + 40
    assert r.scene.title.get_text() == f"step 300/600  w={f.w:+.3f}  b={f.b:+.3f}"
    hist_x = r.hist.w.get_xdata()
    assert hist_x[-1] == 300 and hist_x.max() == 300 and len(hist_x) == 7  # 0, 50, ..., 300
    # the readout really is drawn: dark pixels on its line, under the title (rows 35-50 of 540)
    assert (img[36:50, 65:400, :3] < 100).any()
    blank = render.Renderer(plan, dpi=100)
    blank.scene.title.set_visible(False)
    assert not (np.asarray(blank.draw(step))[36:50, 65:400, :3] < 100).any()
    # fixed axes: the limits do not move between frames
    before = (ax.get_xlim(), ax.get_ylim())
    r.draw(600)
    assert (ax.get_xlim(), ax.get_ylim()) == before


def test_readout_bitmap_handles_multiline_and_empty_lines():
    from matplotlib.transforms import IdentityTransform

    from pointgan_cli.render.scene import Readout

    r = Readout(0, 0, IdentityTransform(), 10, 100)
    r.set_text("step 10\n\nw=+0.123 gjq|")
    rgba = r._bitmap()
    assert rgba.shape[0] == 3 * r._line and rgba[..., 3].max() == 255
    assert rgba[r._line:2 * r._line, :, 3].max() == 0  # the empty middle line stays empty


def test_blit_frame_equals_a_full_redraw(run_dir):
    """The fast path (background + animated artists) gives the same picture as a full draw."""
    plan = render_data.plan_for(run_dir, False, None, 4)
    fast = np.asarray(render.Renderer(plan, 60).draw(450)).copy()
    slow = np.asarray(render.Renderer(plan, 60, animated=False).draw(450))  # full redraw
    assert fast.shape == slow.shape
    assert np.abs(fast.astype(int) - slow.astype(int)).mean() < 0.5


# -- writers and files -------------------------------------------------------------------------


def test_gif_frames_count_timing_and_fidelity(run_dir, tmp_path):
    out = tmp_path / "a.gif"
    info = render.animate(run_dir, out=out, frames=8, fps=25, dpi=50)
    assert info["frames"] == 8 and info["format"] == "gif" and info["seconds"] == 0.32
    frames = decode(out)
    assert len(frames) == 8
    assert frames[0].shape == (info["height"], info["width"], 3) == (270, 360, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 1000
    assert iio.immeta(out, index=0)["duration"] == 40  # ms per frame at 25 fps
    # the fixed palette keeps the picture: compare with the renderer's own last frame
    own = np.asarray(render.Renderer(render_data.plan_for(run_dir, False, None, 4), 50).draw(600))
    assert np.abs(frames[-1].astype(int) - own[..., :3].astype(int)).mean() < 1.0
    assert no_temp_files(tmp_path) == []


def test_mp4_is_h264_yuv420p_with_even_size(run_dir, tmp_path):
    out = tmp_path / "a.mp4"
    info = render.animate(run_dir, out=out, frames=10, fps=10, dpi=45)  # 324 x 243 -> 242
    assert (info["width"], info["height"]) == (324, 242) and info["format"] == "mp4"
    reader = iio2.get_reader(out, format="FFMPEG")
    meta = reader.get_meta_data()
    frames = [np.asarray(f) for f in reader]
    reader.close()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert len(frames) == 10 and frames[0].shape == (242, 324, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 1000


def test_missing_ffmpeg_is_a_runtime_failure_and_leaves_nothing(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(RuntimeFailure, match="--format gif"):
        render.animate(run_dir, out=tmp_path / "a.mp4", frames=4)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_failed_render_leaves_no_file(run_dir, tmp_path, monkeypatch, fmt):
    out = tmp_path / f"a.{fmt}"
    out.write_bytes(b"old")
    real_draw, calls = render.Renderer.draw, []

    def flaky(self, step):
        calls.append(step)
        if len(calls) == 5:
            raise OSError("disk full")
        return real_draw(self, step)

    monkeypatch.setattr(render.Renderer, "draw", flaky)
    with pytest.raises(RuntimeFailure, match="disk full"):  # one line, not a traceback
        render.animate(run_dir, out=out, frames=10, dpi=30)
    assert out.read_bytes() == b"old"  # the old file is untouched, no temp file is left
    assert no_temp_files(tmp_path) == []


def test_resolve_output():
    d = Path("r")
    assert render_io.resolve_output(d, None, None) == (d / "animation.gif", "gif")
    assert render_io.resolve_output(d, None, "MP4") == (d / "animation.mp4", "mp4")
    assert render_io.resolve_output(d, d / "x.mp4", None) == (d / "x.mp4", "mp4")
    for out, fmt in ((None, "avi"), (d / "x.gif", "mp4"), (d / "x.webm", None)):
        with pytest.raises(UsageError):
            render_io.resolve_output(d, out, fmt)


def test_still_is_the_animation_frame(run_dir, tmp_path):
    info = render.still(run_dir, 250, out=tmp_path / "s.png", dpi=50)
    png = iio.imread(tmp_path / "s.png")
    own = np.asarray(render.Renderer(render_data.plan_for(run_dir, False, None, 4), 50).draw(250))
    assert png.shape == (270, 360, 3) and info["step"] == 250
    assert np.array_equal(png, own[..., :3])
    with pytest.raises(UsageError, match="snapshots every 50"):
        render.still(run_dir, 260)
    with pytest.raises(UsageError, match="outside"):
        render.still(run_dir, 601)


# -- sweep grids -------------------------------------------------------------------------------


def _fake_sweep(root, converged, groups=None):
    """A real sweep of short members ``m0``, ``m1``... in the chosen groups, opened with chosen
    outcomes (its summaries replaced on the opened ``SweepDir``; None: no summary yet):
    selection logic only."""
    groups = groups or "g" * len(converged)
    make_sweep(root / "s", [(f"m{i}", groups[i], resolve_spec("fixed", overrides={
        "seed": i, "steps": 50})) for i in range(len(converged))])
    sweep = SweepDir(root / "s")
    real = dict(zip(sweep.ids, sweep.members.summaries(sweep.ids)))
    chosen = {mid: None if c is None else {**real[mid], "converged": c}
              for mid, c in zip(sweep.ids, converged)}
    sweep.members.summaries = lambda ids: [chosen[i] for i in ids]  # type: ignore[method-assign]
    sweep.members.summary = lambda mid: chosen[mid]  # type: ignore[method-assign]
    return sweep


def test_pick_members_alternates_failed_and_converged(tmp_path):
    sweep = _fake_sweep(tmp_path, [True, False, True, None, False, False, True])
    ids = [m.id for m in render_data.pick_members(sweep, None, 4)]
    assert ids == ["m1", "m0", "m4", "m2"]
    assert [m.id for m in render_data.pick_members(sweep, None, 5)] == ["m1", "m0", "m4", "m2",
                                                                   "m5"]
    assert [m.id for m in render_data.pick_members(sweep, ["m3", "m0"], 4)] == ["m3", "m0"]
    with pytest.raises(UsageError, match="no member 'zz'"):
        render_data.pick_members(sweep, ["zz"], 4)


def test_pick_members_fills_with_whatever_there_is(tmp_path):
    sweep = _fake_sweep(tmp_path, [True, True, True, False])
    assert [m.id for m in render_data.pick_members(sweep, None, 4)] == ["m3", "m0", "m1", "m2"]


def test_pick_members_spans_the_groups(tmp_path):
    sweep = _fake_sweep(tmp_path, [True, True, True, False, False, False], groups="AABABA")
    assert [m.id for m in render_data.pick_members(sweep, None, 4)] == ["m3", "m0", "m4", "m2"]


def test_grid_animation_of_a_real_sweep(sweep_dir, tmp_path):
    sweep = SweepDir(sweep_dir)
    summaries = {mid: s["converged"] for mid, s in zip(sweep.ids,
                                                      sweep.members.summaries(sweep.ids))}
    assert summaries == {"baseline-s0": False, "baseline-s1": False, "fixed-s0": True,
                         "fixed-s1": True}
    plan = render_data.plan_for(sweep_dir, True, None, 4)
    assert [c.label for c in plan.cells] == ["baseline-s0 [baseline]", "fixed-s0 [fixed]",
                                             "baseline-s1 [baseline]", "fixed-s1 [fixed]"]
    assert [c.converged for c in plan.cells] == [False, True, False, True]
    out = tmp_path / "grid.gif"
    info = render.animate(sweep_dir, out=out, grid=True, frames=6, dpi=40)
    frames = decode(out)
    assert len(frames) == 6 and frames[0].shape == (info["height"], info["width"], 3)
    assert (info["width"], info["height"]) == (288, 232)  # 2 x 2 cells of 3.6 x 2.7 in + title
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 1000
    with pytest.raises(UsageError, match="sweep directory"):
        render.animate(sweep_dir, out=tmp_path / "x.gif")


def test_grid_frames_follow_steps_across_members(sweep_dir):
    plan = render_data.plan_for(sweep_dir, True, ["baseline-s0", "fixed-s1"], 4)
    r = render.Renderer(plan, dpi=30)
    r.draw(300)
    texts = [p.text.get_text() for p in r.panels]
    assert all(t.startswith("step 300\n") for t in texts) and texts[0] != texts[1]


def test_titles_name_the_class_the_summary_carries(run_dir, sweep_dir):
    from pointgan_cli.render.data import plan_for

    summary = json.loads((run_dir / "summary.json").read_text())
    plan = plan_for(run_dir, False, None, 4)
    assert plan.title.endswith(": " + summary["class"].replace("_", " "))
    grid = plan_for(sweep_dir, True, None, 4)
    for cell in grid.cells:
        mid = cell.label.split(" [")[0]
        member = SweepDir(sweep_dir).members.summary(mid)
        assert cell.cls == member["class"]
