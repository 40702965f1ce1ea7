"""Stability verdicts in absolute terms: each eigenvalue as e-folds and turns over the run."""

import json

import numpy as np
import pytest

from pointgan_cli.diagnose import decay
from pointgan_cli.diagnose.dirac_stability import kink
from pointgan_cli.spec import resolve_spec


def test_real_negative_modes_are_slow_convergence_not_oscillation():
    # the spectrum of a converged fixed run's Adam step: real, negative, the slowest -0.00152
    # per step (and two stiff G modes the frozen-v_hat step overshoots)
    mu = np.array([-0.00152, -0.0023, -0.0028, -0.3, -0.9, -5.28, -9.05], dtype=complex)
    d = decay.decay_over(mu, 1.0, 6000, exact_step=False)
    assert d["verdict"] == decay.CONVERGENT
    assert d["slowest_efolds"] == pytest.approx(-9.12)
    assert d["words"].startswith("converging slowly: every mode shrinks over 6,000 steps")
    assert "e^-9.12" in d["words"] and d["stiff"] == 2
    assert "oscillat" not in d["words"] and "not damped" not in d["words"]
    fast = decay.decay_over(mu * 10, 1.0, 6000, exact_step=False)
    assert fast["verdict"] == decay.CONVERGENT and "slowly" not in fast["words"]


def test_rotation_neutral_and_growth_over_the_horizon():
    h, n = 0.01, 6000
    turning = decay.decay_over(np.array([1e-6 + 0.5j, 1e-6 - 0.5j, -3.0]), h, n, True)
    # GD on a rotation of rate 0.5: |1 + 0.005 i| per step is e^(1.25e-5): e^0.075 over 6,000
    assert turning["verdict"] == decay.OSCILLATING
    assert max(turning["turns"]) == pytest.approx(n * np.angle(1 + 0.005j) / (2 * np.pi))
    flat = decay.decay_over(np.array([-1e-3, -2.0]), h, n, True)
    assert flat["verdict"] == decay.NEUTRAL and "do not turn" in flat["words"]
    grow = decay.decay_over(np.array([0.05, -2.0]), h, n, True)
    assert grow["verdict"] == decay.DIVERGENT
    assert grow["slowest_efolds"] == pytest.approx(n * np.log(1 + 0.05 * h))


def test_wgan_gp_penalty_kink_at_psi_zero_is_named():
    spec = resolve_spec("baseline", overrides={"game": "dirac", "loss": "wgan",
                                               "gp_weight": 1.0, "g_loss": "minimax"})
    k = kink(spec, 0.0)
    assert k is not None and k["gradient_jump"] == 4.0 and "not differentiable" in k["words"]
    assert kink(spec, 0.25) is None
    assert kink(resolve_spec("baseline", overrides={"game": "dirac"}), 0.0) is None


def test_converged_fixed_run_text_chart_and_table_agree(cli, tmp_path):
    """A converged fixed run of 6,000 steps: no "oscillating" or "not damped" where every
    eigenvalue of its Adam step is real and negative, and the chart says what the text says."""
    run = tmp_path / "fixed-101"
    assert cli(["train", "--preset", "fixed", "--seed", "101", "--out", run, "-q"]).exit_code == 0
    assert json.loads((run / "summary.json").read_text())["class"] == "converged"
    res = cli(["diagnose", "stability", run, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    pt = doc["adam"]["run_point"]
    mu = np.array([complex(re, im) for re, im in pt["eigenvalues"]])
    assert np.all(mu.imag == 0) and np.all(mu.real < 0)
    assert pt["verdict"] == decay.CONVERGENT
    assert "oscillat" not in doc["finding"] and "not damped" not in doc["finding"]
    from pointgan_cli.diagnose.plots import stability_figure

    fig = stability_figure(doc)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts).replace("\n", " ")
    legend = " ".join(t.get_text() for ax in fig.axes if ax.get_legend()
                      for t in ax.get_legend().get_texts()).replace("\n", " ")
    assert pt["decay"]["words"].split(";")[0] in texts
    assert "converging slowly" in legend and "oscillat" not in legend + texts
    assert "does not shrink" not in texts
