"""The Dirac study: trained verdicts against the paper's, the sweep's figure and table, and
``animate`` of a Dirac-GAN run."""

import json

import pytest
import torch
from PIL import Image

from pointgan_cli import verdict
from pointgan_cli.engine.batching import batch_key
from pointgan_cli.engine.dirac import DiracTrainer
from pointgan_cli.spec import resolve_spec
from pointgan_cli.sweep import dirac_study
from pointgan_cli.sweep.spec import build_sweep_spec, expand, sweep_command

# The paper's methods at its step h = 0.1 from (1, 1), on a shorter budget than the study's
# (1,000 steps: consensus, the slowest, is inside the tolerance from about step 600), and the
# verdict Mescheder et al. state for each.
PAPER_ROWS = [(label, ov) for label, ov in dirac_study.variants()
              if dirac_study.expectation(label)["source"] == dirac_study.PAPER]


def _train(rows, steps):
    """Train every row (batched by batch_key) and judge each with the success window."""
    specs = [resolve_spec(None, overrides={**ov, "steps": steps, "batch_size": 256})
             for _, ov in rows]
    by_key: dict = {}
    for i, s in enumerate(specs):
        by_key.setdefault(batch_key(s), []).append(i)
    result = {}
    for idx in by_key.values():
        snaps = []
        with torch.inference_mode():
            tr = DiracTrainer([specs[i] for i in idx])
            tr.run(snaps.append)
        for j, i in enumerate(idx):
            s = specs[i]
            v = verdict.judge([sn.step for sn in snaps], [float(sn.g[j, 0]) for sn in snaps],
                              [float(sn.d[j, 0]) for sn in snaps], real=0.0,
                              tolerance=s.tolerance, total_steps=s.steps,
                              window=s.success_window, diverged=not bool(tr.alive[j]))
            result[rows[i][0]] = v
    return result


def test_trained_verdicts_agree_with_the_paper():
    """GAN, NS-GAN, WGAN, WGAN-GP (simultaneous and alternating) do not converge; instance
    noise, R1, R2 and consensus optimisation do."""
    got = _train(PAPER_ROWS, 1000)
    for label, _ in PAPER_ROWS:
        want = dirac_study.expectation(label)["expected"] == dirac_study.CONVERGES
        assert got[label]["converged"] == want, (label, got[label]["reason"])


def test_the_study_lists_every_method_with_both_updates():
    labels = [lb for lb, _ in dirac_study.variants()]
    for method in ("GAN", "NS-GAN", "WGAN", "WGAN-GP", "instance noise", "R1", "R2",
                   "consensus", "LeCam"):
        assert f"{method} sim" in labels and f"{method} alt" in labels
    assert "extragradient" in labels and "optimistic" in labels
    sweep = build_sweep_spec([], "dirac", {}, [0], None, {"steps": 300})
    members = expand(sweep)
    assert {s.steps for _, _, s in members} == {300}  # the user's flags win over the study's
    assert all(s.game == "dirac" and s.init == "1,1" for _, _, s in members)
    assert sweep_command(sweep, "d").startswith("pointgan sweep --study dirac --seeds 0")


def test_sweep_study_dirac_writes_figure_table_and_verdicts(cli, tmp_path):
    out = tmp_path / "d"
    res = cli(["sweep", "--study", "dirac", "--seeds", "0", "--steps", "300", "--out", out,
               "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["game"] == "dirac" and summary["n"] == len(dirac_study.variants())
    groups = {g["group"]: g for g in summary["groups"]}
    assert groups["GAN sim"]["expected"] == "does not converge"
    assert groups["GAN sim"]["agrees"] is True and groups["R1 alt"]["converged"] == 1
    a = summary["agreement"]
    assert a["groups_judged"] == len(groups)
    # the paper's verdicts and the project's own linearisation are counted apart
    own = [g for g in groups.values() if g["expected_from"] == dirac_study.LINEAR]
    assert a["linearisation_judged"] == len(own) == 4
    assert a["paper_judged"] == len(groups) - 4
    table = (out / "dirac-table.md").read_text()
    assert f"{a['paper_agree']} of {a['paper_judged']} groups with a result stated in the " \
           f"paper agree" in table
    with Image.open(out / "dirac-grid.png") as im:
        assert im.size[0] > 800 and im.size[1] > 1000
    table = (out / "dirac-table.md").read_text()
    assert all(f"| {g} |" in table for g in groups)
    assert json.loads((out / "summary.json").read_text())["agreement"] == summary["agreement"]


def test_a_sweep_trains_one_game(cli, tmp_path):
    res = cli(["sweep", "--grid", "game=pointgan,dirac", "--seeds", "0", "--steps", "10",
               "--out", tmp_path / "x"])
    assert res.exit_code == 2 and "one game" in res.stderr


@pytest.fixture(scope="module")
def dirac_run(tmp_path_factory):
    from pointgan_cli.naming import rerun_command
    from pointgan_cli.training.train import Member, train_batch

    out = tmp_path_factory.mktemp("dirac") / "run"
    spec = resolve_spec(None, overrides={"game": "dirac", "steps": 300, "optimizer": "sgd",
                                         "lr_g": 0.1, "lr_d": 0.1, "r1": 0.3,
                                         "snapshot_every": 10})
    train_batch([Member(spec=spec, out=out, command=rerun_command(spec, str(out)))])
    return out


def test_animate_a_dirac_run(cli, dirac_run):
    res = cli(["animate", dirac_run, "--frames", "12", "--json", "--dpi", "60"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["frames"] == 12 and doc["width"] == doc["height"]
    with Image.open(doc["output"]) as im:
        assert im.n_frames == 12


def test_still_frames_show_the_trajectory_moving(cli, dirac_run, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for step, path in ((20, a), (300, b)):
        res = cli(["animate", dirac_run, "--still", step, "--out", path, "--dpi", "60"])
        assert res.exit_code == 0, res.output
    with Image.open(a) as ia, Image.open(b) as ib:
        assert ia.size == ib.size and ia.tobytes() != ib.tobytes()


def test_diagnose_a_dirac_run(cli, dirac_run, tmp_path):
    """stability: the run's Jacobian at the equilibrium equals the paper's R1 closed form;
    run: the class of its summary with theta and psi as evidence; the pointgan-only
    landscapes refuse it in one line."""
    res = cli(["diagnose", "stability", dirac_run, "--json", "--out", tmp_path / "st"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["game"] == "dirac" and doc["closed_form"]["matches"]
    eig = sorted(doc["ideal_point"]["eigenvalues"])
    assert eig[0] == pytest.approx([-0.15, -0.47697], abs=1e-4)  # -g/2 - sqrt(g^2/4 - 1/4) i
    assert doc["ideal_point"]["verdict"] == "locally_convergent"
    assert (tmp_path / "st" / "stability.png").is_file()
    res = cli(["diagnose", "run", dirac_run, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    summary = json.loads((dirac_run / "summary.json").read_text())
    assert doc["class"] == summary["class"] == "converged"
    assert doc["evidence"]["theta"] == summary["theta"]
    res = cli(["diagnose", "generator-landscape", dirac_run])
    assert res.exit_code == 2 and "pointgan game" in res.stderr
