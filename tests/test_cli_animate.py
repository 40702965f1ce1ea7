"""``pointgan animate`` end to end: outputs, JSON, errors and exit codes, flat memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
from conftest import run_cli
from test_render import shared_run, shared_sweep


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return shared_run(tmp_path_factory, "fixed-600")  # 13 snapshots, every 50 steps


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """1001 snapshots: one per step."""
    return shared_run(tmp_path_factory, "baseline-1000x1", preset="baseline", steps=1000,
                      snapshot_every=1, checkpoint_every=1000)


def one_error_line(res):
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    return lines[0]


def test_default_gif_next_to_the_run(cli, run_dir):
    res = cli(["animate", run_dir, "--frames", "10", "--dpi", "40"])
    assert res.exit_code == 0, res.stderr
    out = run_dir / "animation.gif"
    assert res.stdout.strip() == str(out)
    frames = list(iio.imiter(out))
    assert len(frames) == 10 and frames[0].shape == (216, 288, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 1000
    assert "10 frame(s), 288x216 px, 0.5 s" in res.stderr


def test_json_document(cli, long_run, tmp_path):
    out = tmp_path / "a.gif"
    res = cli(["animate", long_run, "--frames", "30", "--fps", "10", "--dpi", "30",
               "--out", out, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {k: doc[k] for k in ("output", "frames", "format", "width", "height", "seconds")} == {
        "output": str(out), "frames": 30, "format": "gif", "width": 216, "height": 162,
        "seconds": 3.0}
    assert (doc["first_step"], doc["last_step"], doc["fps"]) == (0, 1000, 10)
    assert len(list(iio.imiter(out))) == 30


def test_mp4_from_the_out_suffix(cli, run_dir, tmp_path):
    out = tmp_path / "clip.mp4"
    res = cli(["animate", run_dir, "--out", out, "--frames", "12", "--dpi", "40", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["format"] == "mp4" and doc["frames"] == 12
    with iio2.get_reader(out, format="FFMPEG") as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 12 and frames[0].shape == (doc["height"], doc["width"], 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 1000


def test_still_png(cli, run_dir, tmp_path):
    res = cli(["animate", run_dir, "--still", "300", "--dpi", "50", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["output"] == str(run_dir / "frame-000300.png") and doc["format"] == "png"
    assert iio.imread(doc["output"]).shape == (270, 360, 3)


def test_sweep_grid_with_picked_members(cli, tmp_path_factory, tmp_path):
    sweep = shared_sweep(tmp_path_factory)
    out = tmp_path / "g.gif"
    res = cli(["animate", sweep, "--grid", "-m", "fixed-s1", "-m", "baseline-s0", "--frames", "5",
               "--dpi", "30", "--out", out, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    frames = list(iio.imiter(out))
    assert len(frames) == 5 and (doc["width"], doc["height"]) == (216, 92)  # 2 cells in a row
    res = cli(["animate", sweep / "members" / "fixed-s0", "--frames", "3", "--dpi", "30",
               "--out", tmp_path / "m.gif"])
    assert res.exit_code == 0, res.stderr  # a sweep member is a run directory


def _corrupt(kind, run_dir, tmp_path):
    d = tmp_path / kind
    if kind == "missing":
        return d
    d.mkdir()
    if kind == "no-spec":
        return d
    (d / "spec.json").write_text((run_dir / "spec.json").read_text())
    if kind == "corrupt-spec":
        (d / "spec.json").write_text("{not json")
    elif kind == "empty-metrics":
        (d / "metrics.jsonl").write_text("")
    elif kind == "corrupt-metrics":
        (d / "metrics.jsonl").write_text('{"step": 0, "w": 1.0}\n{"step": 50, "w"\n')
    elif kind == "metrics-missing-fields":
        (d / "metrics.jsonl").write_text('{"step": 0, "w": 1.0}\n')
    return d


@pytest.mark.parametrize("kind, message", [
    ("missing", "run directory not found"),
    ("no-spec", "is not a pointgan run directory"),
    ("corrupt-spec", "spec.json is corrupt"),
    ("empty-metrics", "has no metrics yet"),
    ("corrupt-metrics", "line 2 is not valid JSON"),
    ("metrics-missing-fields", "metrics.jsonl is corrupt"),
])
def test_bad_run_directory_is_one_line_exit_2(cli, run_dir, tmp_path, kind, message):
    d = _corrupt(kind, run_dir, tmp_path)
    res = cli(["animate", d])
    assert res.exit_code == 2
    assert message in one_error_line(res)
    assert not (d / "animation.gif").exists()


@pytest.mark.parametrize("args, message", [
    (["--format", "avi"], "unknown format 'avi'"),
    (["--out", "x.webm"], "cannot tell the format"),
    (["--format", "gif", "--out", "x.mp4"], "does not end in .gif"),
    (["--frames", "1"], "--frames must be at least 2"),
    (["--fps", "0"], "--fps must be between 1 and 60"),
    (["--dpi", "5"], "--dpi must be between 20 and 600"),
    (["--still", "275"], "no snapshot at step 275 (snapshots every 50)"),
    (["--still", "50", "--out", "x.gif"], "a still is a PNG"),
    (["--grid"], "need a sweep directory"),
    (["--out", "no-such-dir/x.gif"], "directory not found"),
    (["--still", "50", "--out", "no-such-dir/x.png"], "directory not found"),
])
def test_bad_flags_are_one_line_exit_2(cli, run_dir, args, message):
    res = cli(["animate", run_dir, *args])
    assert res.exit_code == 2
    assert message in one_error_line(res)


def test_sweep_needs_grid(cli, tmp_path_factory):
    sweep = shared_sweep(tmp_path_factory)
    res = cli(["animate", sweep])
    assert res.exit_code == 2 and "add --grid" in one_error_line(res)
    res = cli(["animate", sweep, "--grid", "-m", "nope"])
    assert res.exit_code == 2 and "no member 'nope'" in one_error_line(res)


def test_real_process_errors(run_dir, tmp_path, monkeypatch):
    res = run_cli(["animate", run_dir, "--format", "avi"])
    assert res.returncode == 2 and "unknown format" in one_error_line(res)


def test_missing_ffmpeg_is_one_line_exit_1(cli, run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg"))
    res = cli(["animate", run_dir, "--format", "mp4", "--out", tmp_path / "a.mp4"])
    assert res.exit_code == 1
    assert "ffmpeg not found" in one_error_line(res) and "--format gif" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


MEASURE = """
import json, resource, sys
from pointgan_cli.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(json.dumps({"code": code, "peak_kib": peak}), file=sys.stderr)
"""


@pytest.mark.long
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_peak_memory_is_flat_in_the_frame_count(long_run, tmp_path):
    """100 and 1000 frames of the same run, in two fresh processes (run side by side): the
    peak resident memory may differ by less than 50 MB. Holding the frames would cost
    1000 x 360 x 270 x 3 bytes = 290 MB more (or 97 MB as palette images)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    procs = {
        n: subprocess.Popen(
            [sys.executable, "-c", MEASURE, "animate", str(long_run), "--frames", str(n),
             "--dpi", "50", "--out", str(tmp_path / f"{n}.gif"), "--json", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for n in (100, 1000)
    }
    peaks = {}
    for n, p in procs.items():
        out, err = p.communicate(timeout=240)
        stats = json.loads(err.strip().splitlines()[-1])
        assert stats["code"] in (0, None), err
        assert json.loads(out)["frames"] == n
        peaks[n] = stats["peak_kib"] / 1024
    assert (tmp_path / "1000.gif").stat().st_size > 5 * (tmp_path / "100.gif").stat().st_size
    assert peaks[1000] - peaks[100] < 50, peaks
