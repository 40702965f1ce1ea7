"""The games' vocabulary: rows, summaries and verdict words per game, without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pointgan_cli import verdict
from pointgan_cli.games import DIRAC, GAMES, POINT, game_of, named
from pointgan_cli.spec import resolve_spec

PKG = Path(__file__).resolve().parents[1] / "pointgan_cli"


def test_a_game_is_named_by_the_spec_and_by_a_summary():
    assert game_of(resolve_spec("baseline")) is POINT
    assert game_of(resolve_spec("baseline", overrides={"game": "dirac"})) is DIRAC
    assert named(None) is POINT and named("dirac") is DIRAC
    assert set(GAMES) == {"pointgan", "dirac"}


def test_point_rows_keep_the_run_directory_order():
    row = POINT.metrics_row(10, [0.5, 1.25], [float(k) for k in range(7)],
                            [0.1, 0.2, 0.3, 0.4], target=1.0)
    assert list(row) == ["step", "w", "b", "distance", "g_loss", "d_loss", "d_real", "d_fake",
                         "d_W1_0", "d_W1_1", "d_c1_0", "d_c1_1", "d_W2_0", "d_W2_1", "d_c2"]
    assert row["distance"] == 0.75 and row["d_c2"] == 6.0
    assert POINT.judged_of(row) == (0.5, 1.25)


def test_dirac_rows_name_theta_and_psi_and_measure_to_the_origin():
    row = DIRAC.metrics_row(3, [-0.5], [0.25], [1.0, 2.0, 3.0, 4.0], target=0.0)
    assert list(row) == ["step", "theta", "psi", "distance", "g_loss", "d_loss", "d_real",
                         "d_fake"]
    assert row["distance"] == 0.75
    assert DIRAC.summary_params([-0.5], [0.25], 0.0) == {"game": "dirac", "theta": -0.5,
                                                          "psi": 0.25, "distance": 0.75}
    assert POINT.summary_params([0.0, 1.5], list(range(7)), 1.0) == {
        "w": 0.0, "b": 1.5, "distance": 0.5}


def test_verdicts_speak_each_games_words():
    spec = resolve_spec("baseline", overrides={"game": "dirac", "steps": 100})
    steps = list(range(80, 101, 5))
    v = DIRAC.judge(steps, [0.01] * 5, [-0.02] * 5, spec)
    assert v["class"] == verdict.CONVERGED
    assert v["reason"].startswith("|theta| + |psi| < tolerance")
    assert "mean psi -0.02" in v["reason"] and "|w|" not in v["reason"]
    fields = DIRAC.summary_fields(verdict.summary_fields(v))
    assert "bias_psi" in fields and "bias_b" not in fields
    assert {"time_avg_theta", "time_avg_psi"} <= set(fields["verdict"])
    assert not {"time_avg_w", "time_avg_b"} & set(fields["verdict"])
    point = POINT.judge(steps, [0.01] * 5, [0.98] * 5, resolve_spec("baseline",
                                                                     overrides={"steps": 100}))
    assert point["reason"].startswith("|w| + |b - real| < tolerance")
    assert POINT.summary_fields(verdict.summary_fields(point)) == verdict.summary_fields(point)


def test_a_circling_runs_reason_names_what_changes_sign_in_its_games_words():
    """A Dirac-GAN run circling (0, 0) changes the sign of psi, not of "b - real" (it has no
    b and no real value); pointgan's runs keep saying b - real."""
    import math

    steps = list(range(0, 1001, 10))
    xs = [0.5 * math.cos(s / 40) for s in steps]
    ys = [0.5 * math.sin(s / 40) for s in steps]
    dirac = DIRAC.judge(steps, xs, ys, resolve_spec(
        "baseline", overrides={"game": "dirac", "steps": 1000}))
    assert dirac["class"] in (verdict.ORBITING, verdict.DRIFTING), dirac["reason"]
    assert "psi changed sign" in dirac["reason"] and "b - real" not in dirac["reason"]
    point = POINT.judge(steps, xs, [1 + y for y in ys], resolve_spec(
        "baseline", overrides={"steps": 1000}))
    assert point["class"] == dirac["class"]
    assert "b - real changed sign" in point["reason"]


def test_games_import_no_torch():
    code = "import sys, pointgan_cli.games; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PKG.parent).stdout.strip()
    assert out == "False"


def test_the_dirac_game_is_named_only_where_games_are_defined_or_chosen():
    """Code asks a run's ``Game``; the name "dirac" is spelled where the game is defined
    (games/dirac.py), chosen (the spec's ``game`` field and what it refuses for it, the
    'dirac' study's settings) or where the study of that name is listed. The report page's
    scripts draw by the ``view`` its ``Game`` names, never by the game's name."""
    allowed = {"games/dirac.py", "spec.py", "sweep/dirac_study.py", "sweep/spec.py"}
    code = [*PKG.rglob("*.py"), *PKG.rglob("*.js")]
    assert any(f.suffix == ".js" for f in code)  # the page's scripts are searched too
    found = {f.relative_to(PKG).as_posix() for f in code
             if '"dirac"' in f.read_text(encoding="utf-8")}
    assert found <= allowed, sorted(found - allowed)


def test_each_game_names_a_view_the_report_page_draws():
    """The page draws a run by its game's ``view`` (``report/assets/run.js``'s ``VIEWS``), which
    the page's data carries: each game's view is one the page knows, and they differ."""
    import re

    from pointgan_cli.report import explore

    page = (PKG / "report" / "assets" / "run.js").read_text(encoding="utf-8")
    block = page[page.index("const VIEWS = {"):]
    known = set(re.findall(r"^    (\w+): \{$", block[: block.index("\n  };")], re.M))
    assert {g.view for g in GAMES.values()} == known == {"line", "phase"}
    assert POINT.view != DIRAC.view
    for game in GAMES.values():
        b = explore.Builder("run", 1)
        b.game = game.name
        assert b.data()["view"] == game.view
