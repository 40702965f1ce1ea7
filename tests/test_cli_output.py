"""Where output goes and what names say: result tables on stdout (plain text at full width off
a terminal, or TSV), progress on stderr, one JSON document with --json; a run's directory name
and summary say its preset and overrides; every written file is 0644 under the usual umask."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat

from pointgan_cli.cli import console
from pointgan_cli.naming import run_label
from pointgan_cli.spec import resolve_spec


def _mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_overrides_name_the_run_and_fill_the_summary(cli, tmp_path, monkeypatch):
    """Acceptance: `pointgan train --noise-scale 1.5 --weight-decay 0.1 --json` reports the
    overrides and its run directory's name shows them."""
    monkeypatch.chdir(tmp_path)
    res = cli(["train", "--noise-scale", "1.5", "--weight-decay", "0.1", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["preset"] == "baseline"
    assert doc["overrides"] == {"weight_decay": 0.1, "noise_scale": 1.5}
    name = os.path.basename(doc["run_dir"])
    assert re.fullmatch(r"\d{8}-\d{6}-baseline\+wd0\.1\+noise1\.5", name), name
    summary = json.loads((tmp_path / doc["run_dir"] / "summary.json").read_text())
    assert summary["preset"] == "baseline" and summary["overrides"] == doc["overrides"]


def test_a_preset_alone_has_no_overrides_and_the_seed_is_none():
    assert run_label(resolve_spec("fixed", overrides={"seed": 7})) == "fixed"
    assert run_label(resolve_spec("fixed", overrides={"noise_scale": 0.5})) == "fixed+noise0.5"
    spec = resolve_spec(overrides={"loss": "wgan", "r1": 10.0, "device": "cuda:1"})
    assert run_label(spec) == "baseline+loss=wgan+r1=10+device=cuda1"
    many = resolve_spec(overrides={f: 0.25 for f in ("lr_g", "lr_d", "noise_scale", "r1", "r2",
                                                     "weight_decay", "instance_noise",
                                                     "consensus", "lecam", "gp_weight")})
    label = run_label(many, limit=40)
    assert len(label) <= 48 and re.search(r"\+\d+more$", label), label


def test_train_table_goes_to_stdout_unwrapped_off_a_terminal(cli, tmp_path):
    out = tmp_path / ("a-long-directory-name-" * 6 + "end")
    res = cli(["train", "--steps", "100", "--out", out])
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"run {out}"
    row = next(line for line in lines if line.startswith("run_dir"))
    assert row.split() == ["run_dir", str(out)]  # one line, however long
    assert re.search(r"^steps +100$", res.stdout, re.M)
    assert "─" not in res.stdout and "│" not in res.stdout  # no boxes in a pipe
    assert res.stderr == ""  # a short run prints no progress


def test_tsv_format_is_a_header_and_tab_separated_rows(cli, tmp_path):
    res = cli(["train", "--steps", "100", "--out", tmp_path / "r", "--format", "tsv"])
    assert res.exit_code == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert rows[0] == ["field", "value"] and all(len(r) == 2 for r in rows)
    assert ["steps", "100"] in rows and ["run_dir", str(tmp_path / "r")] in rows


def test_sweep_table_on_stdout_and_json_is_one_document(cli, tmp_path):
    args = ["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-1", "--steps",
            "100", "--workers", "1"]
    res = cli([*args, "--out", tmp_path / "s", "--format", "tsv"])
    assert res.exit_code == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert rows[0][:6] == ["rank", "group", "reference", "n", "converged", "success_rate"]
    assert {r[1] for r in rows[1:]} == {"baseline", "fixed"}
    assert len({len(r) for r in rows}) == 1 and len(rows) == 3  # one header, one table
    assert "4 runs in" in res.stderr  # the log line stays on stderr
    res = cli([*args, "--out", tmp_path / "j", "--json"])
    assert json.loads(res.stdout)["n"] == 4


def test_sweep_tsv_and_csv_are_the_summary_numbers_unrounded(cli, tmp_path):
    """Counts as integers, rates and interval ends as floats that parse back to summary.json's
    exactly, the reference flagged; rows in rank order; csv the same table."""
    out = tmp_path / "s"
    args = ["sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-2", "--steps",
            "100", "--workers", "1", "--out", out, "--format", "tsv"]
    tsv = cli(args)
    assert tsv.exit_code == 0, tsv.stderr
    summary = json.loads((out / "summary.json").read_text())
    table = list(csv.DictReader(io.StringIO(tsv.stdout), delimiter="\t"))
    assert [int(r["rank"]) for r in table] == sorted(int(r["rank"]) for r in table)
    for row in table:
        g = next(g for g in summary["groups"] if g["group"] == row["group"])
        assert (int(row["n"]), int(row["converged"])) == (g["n"], g["converged"])
        for key in ("success_rate", "wilson_low", "wilson_high", "w_mean", "b_std"):
            assert float(row[key]) == g[key], key  # full precision, no "%" or "±"
        assert row["reference"] == ("true" if g["reference"] == g["group"] else "false")
        assert sum(int(row[f"class_{c}"]) for c in g["classes"]) == g["n"]
    again = cli(["sweep", "--resume", "--out", out, "--format", "csv"])
    assert again.exit_code == 0, again.stderr
    assert list(csv.DictReader(io.StringIO(again.stdout))) == table


def test_write_delimited_tsv_is_never_quoted_and_csv_is_rfc4180():
    rows = [["a\tb", 0.1 + 0.2, None, True, {"lr_d": 0.003}, 'say "hi", ok']]
    tsv, out = io.StringIO(), io.StringIO()
    console.write_delimited(["x", "f", "n", "b", "o", "s"], rows, fmt="tsv", stream=tsv)
    assert tsv.getvalue().splitlines()[1].split("\t") == [
        "a b", "0.30000000000000004", "", "true", '{"lr_d":0.003}', 'say "hi", ok']
    console.write_delimited(["x", "f", "n", "b", "o", "s"], rows, fmt="csv", stream=out)
    back = list(csv.reader(io.StringIO(out.getvalue())))
    assert back[1] == ["a\tb", "0.30000000000000004", "", "true", '{"lr_d":0.003}',
                       'say "hi", ok']


def test_boxed_sweep_table_keeps_each_cell_on_one_line_at_120_columns():
    from rich.console import Console

    cols = ["rank", "group", "converged", "success (95% CI)", "McNemar p", "median dist",
            "mean bias b", "classes", "final w", "final b"]
    cells = [["1", "fixed lr_d 0.003", "17/20", "85% [64%, 95%]", "0.0039", "0.0704", "+0.058",
              "17 conv, 1 orb, 1 appr, 1 stuck", "+0.005 ± 0.009", "+0.993 ± 0.066"],
             ["2", "baseline", "0/20", "0% [0%, 16%]", "ref", "0.425", "-0.028",
              "12 stuck, 8 appr", "+0.071 ± 0.121", "+0.971 ± 0.405"]]
    buf = io.StringIO()
    term = Console(file=buf, width=120, force_terminal=True, color_system=None)
    term.print(console.fitted_table(term, "sweep", cols, cells, "caption",
                                    ("median dist", "mean bias b", "final w", "final b")))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 120
    for row in cells:
        assert row[3] in text and row[7] in text  # whole, on one line
    assert "not shown at this width: mean bias b, final w, final b" in " ".join(text.split())


def test_long_runs_print_plain_progress_lines_off_a_terminal(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(console, "LONG_S", 0.0)
    res = cli(["train", "--steps", "1000", "--out", tmp_path / "r", "--json"])
    assert res.exit_code == 0, res.stderr
    json.loads(res.stdout)  # progress never reaches stdout
    lines = res.stderr.splitlines()
    assert 9 <= len(lines) <= 11, lines  # every 10%
    assert all(line.startswith("train baseline+steps1000: ") for line in lines)
    assert "1000/1000 (100%)" in lines[-1] and "w=" in lines[-1]


def test_progress_heartbeat_every_30_s(monkeypatch, capsys):
    """A sweep whose batches report nothing for a while still says it is alive."""
    monkeypatch.setattr(console, "LONG_S", 0.0)
    prog = console.Progress(100, "sweep 4 runs")
    prog.update(completed=5)
    prog.beat()
    assert capsys.readouterr().err == ""  # under 10% and under 30 s: nothing yet
    monkeypatch.setattr(console, "HEARTBEAT_S", 0.0)
    prog.beat()
    assert capsys.readouterr().err.startswith("sweep 4 runs: 5/100 (5%) ")


def test_plain_table_pads_columns_and_never_wraps():
    text = console.plain_table("t", ["a", "bb"], [["x" * 150, "1"], ["y", "22"]], "note")
    lines = text.splitlines()
    assert lines == ["t", "a" + " " * 151 + "bb", "x" * 150 + "  1", "y" + " " * 151 + "22",
                     "note"]


def test_every_written_file_is_0644(cli, tmp_path):
    run = tmp_path / "r"
    assert cli(["train", "--steps", "100", "--out", run, "-q"]).exit_code == 0
    assert cli(["animate", run, "--frames", "3", "-q"]).exit_code == 0
    assert cli(["animate", run, "--format", "mp4", "--frames", "3", "-q"]).exit_code == 0
    files = [f for f in run.rglob("*") if f.is_file()]
    assert {f.name for f in files} >= {"animation.gif", "animation.mp4", "summary.json"}
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {
        f.name: oct(_mode()) for f in files}
