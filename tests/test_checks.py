"""Crafted files get one line naming the file, never a traceback, a hang or gigabytes of
memory (``store.checks``): wrong types, shapes, non-finite or out-of-range numbers, FIFOs,
zip bombs, npz headers claiming huge arrays."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest


def _one_line(res, name: str) -> None:
    """Exit 2, one line on stderr, naming ``name``."""
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert name in res.stderr, res.stderr


@pytest.fixture(autouse=True)
def _no_progress_lines(monkeypatch):
    """A reading command shows progress after 2 s; a slow machine would add that line to the
    one this module checks (the error's), so none is shown here."""
    from pointgan_cli.cli import working

    monkeypatch.setattr(working, "WAIT_S", 1e9)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from typer.testing import CliRunner

    from pointgan_cli.cli.app import app

    root = tmp_path_factory.mktemp("crafted")
    run = CliRunner().invoke
    assert run(app, ["train", "--steps", "40", "--out", str(root / "r"), "-q"]).exit_code == 0
    assert run(app, ["sweep", "--steps", "40", "--seeds", "0-1", "--workers", "1",
                     "--checkpoint-every", "20", "--out", str(root / "s"), "-q"]).exit_code == 0
    return root


@pytest.fixture
def run(made, tmp_path):
    shutil.copytree(made / "r", tmp_path / "r")
    return tmp_path / "r"


@pytest.fixture
def sweep(made, tmp_path):
    shutil.copytree(made / "s", tmp_path / "s")
    return tmp_path / "s"


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    doc = change(doc) or doc
    path.write_text(json.dumps(doc))


def _edit_last_row(run: Path, **values) -> None:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows[-1].update(values)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


# -- case 7: wrong types and values --------------------------------------------------------------


@pytest.mark.parametrize("command", [
    lambda r, other: ["diagnose", "run", r],
    lambda r, other: ["report", r],
    lambda r, other: ["animate", r, "--frames", "2", "--dpi", "20", "-q"],
    lambda r, other: ["compare", r, other],
])
def test_a_run_summary_that_is_a_list_is_one_line(cli, run, made, command):
    (run / "summary.json").write_text("[1, 2]")
    _one_line(cli(command(run, made / "r")), "summary.json")


def test_ls_names_a_bad_entry_and_lists_the_others(cli, run, made, tmp_path):
    (run / "summary.json").write_text("[1, 2]")
    shutil.copytree(made / "r", tmp_path / "good")
    res = cli(["ls", tmp_path, "--json"])
    assert res.exit_code == 0, res.stderr
    kinds = {Path(e["path"]).name: e["kind"] for e in json.loads(res.stdout)}
    assert kinds == {"r": "unreadable", "good": "run"}


@pytest.mark.parametrize("values", [{"w": "abc"}, {"w": 1e308, "b": -1e308}, {"step": -3}])
def test_a_crafted_metrics_row_is_one_line(cli, run, values):
    _edit_last_row(run, **values)
    _one_line(cli(["report", run]), "metrics.jsonl")


def test_a_summary_class_that_is_not_text_is_one_line(cli, run):
    _edit_json(run / "summary.json", lambda d: d.update({"class": 123}))
    _one_line(cli(["animate", run, "--still", "40", "--dpi", "20"]), "summary.json")


@pytest.mark.parametrize("change", [
    lambda d: d["groups"][0].update(success_rate="x"),
    lambda d: d["groups"][0].pop("converged"),
    lambda d: d.update(groups="abc"),
    lambda d: d["groups"][0].update(success_by_tolerance="abc"),
    lambda d: d["groups"][0].update(success_by_tolerance=[5]),
    lambda d: d["groups"][0].update(success_by_tolerance=[{"tol": "a", "converged": 1, "n": 2}]),
    lambda d: d["groups"][0].update(mcnemar_p_holm="x"),
])
def test_a_crafted_sweep_summary_is_one_line(cli, sweep, change):
    _edit_json(sweep / "summary.json", change)
    _one_line(cli(["report", sweep]), "summary.json")


def test_a_member_spec_with_a_bad_field_in_sweep_json_is_one_line(cli, sweep, made):
    text = (sweep / "sweep.json").read_text()
    (sweep / "sweep.json").write_text(text.replace('"seed":1', '"seed":1,"steps":"many"'))
    _one_line(cli(["compare", sweep, made / "s"]), "sweep.json")


def _rewrite_state(path: Path, change) -> None:
    """The batch's state as an unfinished one at step 20, then ``change``d."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("@summaries")}
    arrays["step"] = arrays["rng/step"] = np.array(20)
    change(arrays)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _nan_generator(a):
    g = a["generator"].copy()
    g[0, 0] = np.nan
    a["generator"] = g


@pytest.mark.parametrize("change", [
    lambda a: a.update(step=np.array(-5)),
    lambda a: a.update(generator=np.zeros((4, 5), np.float32)),
    _nan_generator,
])
def test_a_crafted_sweep_state_is_refused_on_resume(cli, sweep, change):
    (sweep / "summary.json").unlink()
    _rewrite_state(sweep / "batches" / "0000.state.npz", change)
    _one_line(cli(["sweep", "--resume", "--out", sweep, "-q"]), "0000.state.npz")


def test_a_config_number_too_large_for_a_float_is_one_line(cli, tmp_path):
    (tmp_path / "big.json").write_text('{"steps": 1e400}')
    res = cli(["train", "--config", tmp_path / "big.json", "--out", tmp_path / "o"])
    _one_line(res, "big.json")
    assert not (tmp_path / "o").exists()


# -- case 8: hangs and memory --------------------------------------------------------------------


def test_an_npz_header_claiming_a_huge_array_is_one_line(cli, sweep):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    with zipfile.ZipFile(sweep / "batches" / "0000.state.npz", "w") as zf:
        for name in ("@ids.npy", "step.npy"):
            zf.writestr(name, header.getvalue() + b"\0" * 64)
    _one_line(cli(["diagnose", "run", sweep]), "0000.state.npz")


def test_a_zlib_bomb_is_refused_before_it_inflates(cli, sweep):
    with zipfile.ZipFile(sweep / "batches" / "0000.state.npz", "w",
                         zipfile.ZIP_DEFLATED) as zf, zf.open("step.npy", "w",
                                                              force_zip64=True) as f:
        for _ in range(64):  # 64 MiB of zeros in about 64 KB: far past the ratio bound
            f.write(bytes(1 << 20))
    for command in (["diagnose", "run", sweep], ["report", sweep],
                    ["sweep", "--resume", "--out", sweep, "-q"]):
        _one_line(cli(command), "0000.state.npz")


def test_fifos_named_like_pointgans_files_never_hang(cli, run, sweep, tmp_path):
    ck = run / "checkpoints"
    for p in ck.iterdir():
        if p.name != "step-000040.npz":
            p.unlink()
    os.mkfifo(ck / "step-002000.npz")
    res = cli(["train", "--resume", "--out", run, "-q"])  # the FIFO is no candidate
    assert res.exit_code == 0, res.stderr
    (sweep / "batches" / "0000.state.npz").unlink()
    os.mkfifo(sweep / "batches" / "0000.state.npz")
    _one_line(cli(["diagnose", "run", sweep]), "0000.state.npz")
    res = cli(["ls", tmp_path, "--json"])
    assert res.exit_code == 0, res.stderr
    assert {e["kind"] for e in json.loads(res.stdout)} == {"run", "unreadable"}


def _rewrite_npz(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _bz2_bomb(a):
    import bz2

    a["params_head"] = np.frombuffer(bz2.compress(bytes(32 << 20)), np.uint8)
    a.pop("params_head_pieces", None)


def _zlib_bomb(a):
    import zlib

    a["@summaries_f"] = np.frombuffer(zlib.compress(bytes(64 << 20), 9), np.uint8)


@pytest.mark.parametrize("where, change", [("metrics", _bz2_bomb), ("state", _zlib_bomb)])
def test_a_bomb_inside_a_batch_files_streams_is_refused(cli, sweep, where, change):
    """The streams inside the batch files (the packed parameters, the summaries' columns)
    inflate no further than their arrays' sizes allow."""
    _rewrite_npz(sweep / "batches" / f"0000.{where}.npz", change)
    _one_line(cli(["diagnose", "run", sweep / "members" / "baseline-s0000"]),
              f"0000.{where}.npz")


@pytest.mark.parametrize("change", [
    lambda a: a.update(step=a["step"][:5].copy()),  # fewer steps than snapshots stored
    lambda a: a.update(step=a["step"][::-1].copy()),  # steps not increasing
])
def test_a_batch_metrics_file_whose_steps_disagree_is_one_line(cli, sweep, tmp_path, change):
    """A member read from the store (animate, sweep export) checks the batch's steps against
    its stored snapshots: one line naming the file, and no exported run that animate then
    refuses."""
    _rewrite_npz(sweep / "batches" / "0000.metrics.npz", change)
    member = sweep / "members" / "baseline-s0000"
    _one_line(cli(["animate", member, "--frames", "2", "--dpi", "20", "-q"]), "0000.metrics.npz")
    _one_line(cli(["sweep", "export", member, "--out", tmp_path / "e"]), "0000.metrics.npz")
    assert not (tmp_path / "e").exists()


def _ids(key: str, ids: list[str]):
    import zlib

    def change(a):
        a[key] = np.frombuffer(zlib.compress(json.dumps(ids).encode()), np.uint8)
    return change


@pytest.mark.parametrize("where, change", [
    ("state", _ids("@ids_z", ["baseline-s0001", "baseline-s0001"])),  # a member twice
    ("state", _ids("@ids_z", ["evil-s0000", "baseline-s0001"])),  # not in sweep.json
    ("metrics", _ids("ids_z", ["baseline-s0001", "baseline-s0000"])),  # rows swapped
])
def test_batch_member_ids_that_disagree_are_one_line(cli, sweep, tmp_path, where, change):
    """A batch's member ids are checked against sweep.json and between its two files: a
    crafted list never gives one member another's numbers or hides one as 'not run'."""
    _rewrite_npz(sweep / "batches" / f"0000.{where}.npz", change)
    _one_line(cli(["sweep", "export", sweep, "baseline-s0001", "--out", tmp_path / "e"]),
              f"0000.{where}.npz")
    _one_line(cli(["animate", sweep / "members" / "baseline-s0000", "--frames", "2", "--dpi",
                   "20", "-q"]), f"0000.{where}.npz")


@pytest.mark.parametrize("command", [
    lambda r: ["report", r],
    lambda r: ["diagnose", "run", r],
    lambda r: ["diagnose", "stability", r],
    lambda r: ["compare", r, r],
])
def test_a_run_whose_steps_do_not_increase_is_one_line(cli, run, command):
    """A repeated or backward step (what a resume that repeated its step-0 row wrote) is named
    by every reader, not only by animate: charts and classes would misread the run."""
    rows = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join([rows[0], *rows]))
    _one_line(cli(command(run)), "metrics.jsonl")
