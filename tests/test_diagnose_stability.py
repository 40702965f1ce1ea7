"""``diagnose stability``: the Jacobian machinery against the Dirac-GAN's closed form, the
expected-loss field against the engine's own gradients, the distance trend and the command on
real runs."""

import cmath
import hashlib
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pointgan_cli.diagnose import classify, shapes
from pointgan_cli.diagnose import stability as stab
from pointgan_cli.engine.grads import d_coefficients, grads_d, grads_g, grads_penalty
from pointgan_cli.engine.models import d_logits_packed
from pointgan_cli.games.point import D_NAMES
from pointgan_cli.naming import rerun_command
from pointgan_cli.spec import resolve_spec
from pointgan_cli.store import rundir
from pointgan_cli.training.train import Member, train_batch

DT = torch.float64
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def gan_f(t):
    """The original GAN's f(t) = -log(1 + exp(-t)); f'(0) = 1/2."""
    return -F.softplus(-t)


def dirac_eigs(gamma, f=gan_f):
    jac, v = stab.field_jacobian(stab.dirac_gan_field(f, gamma), torch.zeros(2, dtype=DT))
    assert np.allclose(v, 0.0)  # (0, 0) is the equilibrium
    return stab.eigenvalues(jac)


def closed_form(gamma, fp=0.5):
    if gamma == 0:
        return sorted([complex(0, fp), complex(0, -fp)], key=lambda z: (-z.real, -z.imag))
    root = cmath.sqrt(gamma**2 / 4 - fp**2)
    return sorted([-gamma / 2 + root, -gamma / 2 - root], key=lambda z: (-z.real, -z.imag))


# -- the generic machinery on the Dirac-GAN ---------------------------------------------------


def test_dirac_gan_unregularised_rotates_on_the_imaginary_axis():
    eigs = dirac_eigs(0.0)
    np.testing.assert_allclose(eigs, [0.5j, -0.5j], atol=1e-12)
    tol = stab.tolerance(eigs)
    assert tol == pytest.approx(stab.REL_TOL * 0.5)
    assert stab.verdict(eigs, tol) == stab.OSCILLATING
    assert stab.marginal(eigs, tol) == {"rotating": 2, "neutral": 0}
    # purely imaginary eigenvalues are outside every gradient-descent disc: GD spirals out
    assert np.all(stab.gd_factors(eigs, 0.01) > 1.0)


@pytest.mark.parametrize("gamma", [0.1, 0.3, 0.99, 1.0, 2.0, 5.0])
def test_dirac_gan_with_a_gradient_penalty_matches_the_closed_form(gamma):
    eigs = dirac_eigs(gamma)
    want = closed_form(gamma)
    # gamma = 1 = 2 f'(0) gives a double eigenvalue, accurate to sqrt(machine eps) only
    atol = 1e-7 if gamma == 1.0 else 1e-12
    np.testing.assert_allclose(eigs, want, atol=atol)
    assert stab.verdict(eigs, stab.tolerance(eigs)) == stab.CONVERGENT


def test_dirac_gan_with_another_f_uses_its_slope():
    """WGAN's f(t) = t: f'(0) = 1, eigenvalues +-i, and -gamma/2 +- sqrt(gamma^2/4 - 1)."""
    np.testing.assert_allclose(dirac_eigs(0.0, f=lambda t: t), [1j, -1j], atol=1e-12)
    np.testing.assert_allclose(dirac_eigs(0.5, f=lambda t: t), closed_form(0.5, fp=1.0),
                               atol=1e-12)


def test_a_negative_penalty_is_divergent_and_the_verdict_is_scale_free():
    eigs = dirac_eigs(-0.2)  # an anti-damping term on D
    assert np.max(eigs.real) == pytest.approx(0.1)
    assert stab.verdict(eigs, stab.tolerance(eigs)) == stab.DIVERGENT
    for c in (1e-4, 1.0, 1e4):  # same spectrum at another time scale: same verdicts
        for e in (dirac_eigs(0.0), dirac_eigs(0.3), eigs):
            assert stab.verdict(c * e, stab.tolerance(c * e)) == stab.verdict(
                e, stab.tolerance(e))


def test_verdict_rules_and_tolerance():
    tol = stab.tolerance(np.array([-10.0, 0.0]))
    assert tol == pytest.approx(0.01)
    assert stab.verdict(np.array([-10.0, -0.02]), tol) == stab.CONVERGENT
    assert stab.verdict(np.array([-10.0, -0.005]), tol) == stab.OSCILLATING  # within tol
    assert stab.verdict(np.array([-10.0, 0.005 + 3j]), tol) == stab.OSCILLATING
    assert stab.verdict(np.array([-10.0, 0.02]), tol) == stab.DIVERGENT
    assert stab.verdict(np.array([-10.0, -0.005, 0.02]), tol) == stab.DIVERGENT
    assert stab.tolerance(np.zeros(3)) == stab.ABS_TOL
    # inside the disc of radius 1/h around -1/h, and only there
    f = stab.gd_factors(np.array([-1.0, -150.0, -250.0, -100 + 99j]), 0.01)
    assert list(f < 1.0) == [True, True, False, True]


# -- the expected PointGAN field against the engine's gradients -------------------------------


def _grid(*rules):
    """Tensor product of (nodes, probability weights) rules -> list of node tensors, weights."""
    mesh = torch.meshgrid(*[n for n, _ in rules], indexing="ij")
    wmesh = torch.meshgrid(*[w for _, w in rules], indexing="ij")
    p = torch.ones_like(wmesh[0])
    for w in wmesh:
        p = p * w
    return [m.reshape(-1) for m in mesh], p.reshape(-1)


def engine_field(spec, theta, n_noise=14):
    """-(the engine's G and D gradients) with the study's samples written out in full: x on
    Gauss-Legendre nodes, the generator's parameter noise (e_0, e_1) and the instance noise as
    independent Gauss-Hermite axes, each sample weighted by its probability."""
    g, d = theta[:2].reshape(1, 2), theta[2:].reshape(1, 7)
    coef = d_coefficients(d)
    X = stab.gauss_legendre(stab.X_NODES, -1.0, 1.0)
    H = stab.gauss_hermite(n_noise)
    one = (torch.zeros(1, dtype=DT), torch.ones(1, dtype=DT))
    s, si = spec.noise_scale, spec.instance_noise
    # G step: w x + b + instance noise
    (x, n), p = _grid(X, H if si else one)
    gg = grads_g(g, coef, x[None], p[None], spec.loss, spec.g_loss, (si * n)[None])[0]
    # D step: fakes (w + s e0) x + (b + s e1) + si n2, reals real + si n
    (x, e0, e1, n2), pf = _grid(X, H if s else one, H if s else one, H if si else one)
    fake = (g[0, 0] + s * e0) * x + (g[0, 1] + s * e1) + si * n2
    (n,), pr = _grid(H if si else one)
    real = spec.real_value + si * n
    fw, e = spec.fake_weight, spec.label_easing
    v = torch.cat([fake, real])[None]
    wv = torch.cat([fw / (1 + fw) * pf, 1 / (1 + fw) * pr])[None]
    t = torch.cat([torch.full_like(pf, e), torch.full_like(pr, 1 - e)])[None]
    fake_slot = torch.cat([torch.ones_like(pf), torch.zeros_like(pr)])[None] > 0

    def dl_dz(z):  # the D loss's per-sample derivative, weighted (see grads)
        if spec.loss == "bce":
            return wv * (torch.sigmoid(z) - t)
        if spec.loss == "lsgan":
            return wv * (z - t)
        if spec.loss == "hinge":
            return wv * torch.where(fake_slot, (z > -1.0).to(DT), -(z < 1.0).to(DT))
        return wv * torch.where(fake_slot, 1.0, -1.0)

    gd = grads_d(d, coef, v, dl_dz)[0]
    pw = 1.0 / (1.0 + fw)  # penalties on the papers' scale in the averaged loss
    if spec.r1:
        gd = gd + grads_penalty(coef, real[None], pr[None],
                                torch.tensor([[pw * spec.r1]], dtype=DT), 0.0)[0]
    if spec.r2:
        gd = gd + grads_penalty(coef, fake[None], pf[None],
                                torch.tensor([[pw * spec.r2]], dtype=DT), 0.0)[0]
    if spec.gp_weight:
        U = stab.gauss_legendre(stab.MIX_NODES, 0.0, 1.0)
        (x, e0, e1, n2, n3, u), pm = _grid(X, H if s else one, H if s else one,
                                           H if si else one, H if si else one, U)
        fake = (g[0, 0] + s * e0) * x + (g[0, 1] + s * e1) + si * n2
        mix = fake + u * (spec.real_value + si * n3 - fake)
        gd = gd + grads_penalty(coef, mix[None], pm[None],
                                torch.tensor([[pw * spec.gp_weight]], dtype=DT), 1.0)[0]
    if spec.weight_decay:
        gd = gd + spec.weight_decay * d[0]
    return -torch.cat([gg, gd])


FIELD_CASES = {
    "bce, every study option": dict(label_easing=0.1, fake_weight=0.5, noise_scale=0.5,
                                    weight_decay=0.1),
    "bce minimax, R1, R2, instance noise": dict(g_loss="minimax", r1=1.0, r2=0.5,
                                                instance_noise=0.3),
    "lsgan, easing, l2 decay": dict(loss="lsgan", label_easing=0.1, weight_decay=0.01,
                                    weight_decay_mode="l2"),
    "hinge": dict(loss="hinge"),
    "wgan-gp with parameter noise": dict(loss="wgan", gp_weight=1.0, noise_scale=0.3),
}


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_expected_field_is_minus_the_engines_gradient(case):
    spec = resolve_spec("baseline", overrides=FIELD_CASES[case])
    gen = torch.Generator().manual_seed(3)
    theta = torch.cat([torch.tensor([0.4, 0.6], dtype=DT),
                       torch.randn(7, generator=gen, dtype=DT)])
    got = stab.pointgan_field(spec)(theta).detach()
    want = engine_field(spec, theta)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-8)


def test_jacobian_matches_finite_differences_of_the_field():
    spec = resolve_spec("fixed", overrides={"r1": 0.5})
    field = stab.pointgan_field(spec)
    gen = torch.Generator().manual_seed(5)
    theta = torch.cat([torch.tensor([0.2, 0.9], dtype=DT), torch.randn(7, generator=gen,
                                                                       dtype=DT)])
    jac, v = stab.field_jacobian(field, theta)
    eps = 1e-6
    fd = np.stack([(field(theta + eps * e).detach().numpy()
                    - field(theta - eps * e).detach().numpy()) / (2 * eps)
                   for e in torch.eye(9, dtype=DT)], axis=1)
    np.testing.assert_allclose(jac, fd, atol=1e-7)
    np.testing.assert_allclose(v, field(theta).detach().numpy())


def test_learning_rates_and_d_steps_scale_the_blocks():
    base = resolve_spec("baseline")
    spec = resolve_spec("baseline", overrides={"lr_g": 0.02, "d_steps": 3})
    theta = torch.cat([torch.tensor([0.3, 0.5], dtype=DT), shapes.bell(2.0, 1.0, 1.0, 0.5)])
    plain = stab.analyse(stab.pointgan_field(base), theta, base.lr_d, stab.time_scale(base))
    scaled = stab.analyse(stab.pointgan_field(spec), theta, spec.lr_d, stab.time_scale(spec))
    assert list(stab.time_scale(spec)) == [2.0, 2.0] + [3.0] * 7
    want = np.array(plain["jacobian"]) * np.array([2.0, 2.0] + [3.0] * 7)[:, None]
    np.testing.assert_allclose(np.array(scaled["jacobian"]), want, rtol=1e-12)


# -- the distance trend and the run classifier ------------------------------------------------


def make_run(path, d, wb, spec=None):
    """A run directory whose metrics rows hold ``(w, b)`` from ``wb`` (50 steps apart) and the
    discriminator ``d``; no checkpoints, so parameters come from the rows."""
    spec = spec or resolve_spec("baseline", overrides={"steps": 50 * (len(wb) - 1)})
    path.mkdir(parents=True)
    rundir.write_spec(path, spec, "pointgan train")
    rows = []
    for i, (w, b) in enumerate(wb):
        row = {"step": 50 * i, "w": w, "b": b, "distance": abs(w) + abs(b - spec.real_value)}
        row.update({f"d_{n}": float(v) for n, v in zip(D_NAMES, d)})
        rows.append(row)
    (path / rundir.METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rundir.load_run(path)


def _rows(dist):
    return [{"step": 50 * i, "w": x, "b": 1.0} for i, x in enumerate(dist)]


def test_distance_trend():
    t = classify.distance_trend(_rows([0.9, 0.8, 0.7, 0.6, 0.5, 0.45]), 1.0, 0.1)
    assert t["snapshots"] == 2  # the last third of 6 rows: too few to call a trend
    assert not t["monotone"] and not t["shrinking"] and t["distance_end"] == 0.45
    t = classify.distance_trend(_rows([0.9] * 6 + [0.5, 0.45, 0.4]), 1.0, 0.1)
    assert t["monotone"] and t["shrinking"]
    assert t["distance_start"] == 0.5 and t["distance_end"] == 0.4
    t = classify.distance_trend(_rows([0.9] * 6 + [0.5, 0.52, 0.4]), 1.0, 0.1)
    assert not t["monotone"] and t["shrinking"]  # noisy, but the fitted line falls 20 %
    t = classify.distance_trend(_rows([0.9] * 6 + [0.5, 0.3, 0.5]), 1.0, 0.1)
    assert not t["monotone"] and not t["shrinking"]
    t = classify.distance_trend(_rows([0.9] * 6 + [0.05, 0.05, 0.05]), 1.0, 0.1)
    assert t["within_tolerance"] and not t["shrinking"]
    swing = [{"step": 50 * i, "w": 0.0, "b": b}
             for i, b in enumerate([0.5] * 6 + [1.6, 0.6, 1.3, 0.85])]
    t = classify.distance_trend(swing, 1.0, 0.1)
    assert t["sign_changes"] == 3 and t["shrinking"]


BELL = shapes.bell(2.0, 1.0, 1.0, 0.5)
BELL[6] = -d_logits_packed(BELL, torch.tensor([1.0], dtype=DT))[0]  # logit 0 at the real value


def creeping(n=12):
    """w falling at every snapshot towards 0 with b on the real value; ends outside tolerance."""
    return [(0.6 - 0.45 * i / (n - 1), 1.0) for i in range(n)]


def test_a_run_still_approaching_is_not_converged(tmp_path):
    rep = classify.diagnose_run(make_run(tmp_path / "r", BELL, creeping()))
    assert rep["class"] == classify.APPROACHING != classify.CONVERGED
    assert rep["window"]["envelope_last_third"] < rep["window"]["envelope_first_third"]
    assert rep["evidence"]["distance"] == pytest.approx(0.15)
    assert "not yet inside for the whole window" in rep["reason"]
    # the same D with a generator that does not move is stuck, and one inside tolerance has
    # converged even though its distance still falls
    rep = classify.diagnose_run(make_run(tmp_path / "s", BELL, [(0.3, 1.0)] * 12))
    assert rep["class"] == classify.STUCK
    inside = [(0.2 - 0.15 * i / 11, 1.0) for i in range(12)]
    assert classify.diagnose_run(make_run(tmp_path / "c", BELL, inside))["class"] == (
        classify.CONVERGED)


# -- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    members = []
    for preset in ("fixed", "baseline"):
        spec = resolve_spec(preset, overrides={"steps": 600, "seed": 1})
        members.append(Member(spec=spec, out=root / preset,
                              command=rerun_command(spec, str(root / preset))))
    train_batch(members[:1])
    train_batch(members[1:])
    return root


def _hashes(d):
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and "diagnose" not in p.parts}


def _one_error_line(res, text):
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], res.stderr


def test_fixed_run_decays_as_its_spectrum_says_and_only_diagnose_is_written(cli, runs):
    run = runs / "fixed"
    before = _hashes(run)
    res = cli(["diagnose", "stability", run])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines()[-1].startswith("the run is converged (")  # the finding last
    # the optimizer the verdict assumes, the quadrature used, the generator's own modes
    assert ("at step 600, under Adam with the second moments of checkpoints/step-000600.npz"
            in res.stdout)
    assert "Adam step eigenvalues mu at step 600" in res.stdout and "wrote " in res.stderr
    assert "noise nodes" in res.stdout and "converged (last change" in res.stdout
    assert "G block eigenvalues" in res.stdout
    assert _hashes(run) == before
    assert sorted(p.name for p in (run / "diagnose").iterdir()) == ["stability.json",
                                                                    "stability.png"]
    assert (run / "diagnose" / "stability.png").read_bytes()[:8] == PNG_MAGIC
    doc = json.loads((run / "diagnose" / "stability.json").read_text())
    assert doc["step"] == 600 and doc["parameters_from"] == "checkpoints/last.npz"
    assert doc["lr"] == 0.01 and doc["optimizer"] == "adam"
    assert doc["disc"] is None  # the gradient-descent disc means nothing under Adam
    q = doc["quadrature"]
    assert q["converged"] is True and q["noise_nodes"] >= 64 and len(q["rounds"]) >= 2
    assert q["rounds"][-1]["max_relative_change"] < 1e-3
    adam = doc["adam"]
    assert adam["checkpoint_step"] == 600 and len(adam["preconditioner"]) == 9
    assert min(adam["preconditioner"]) > 0
    for key in ("run_point", "ideal_point"):
        a = adam[key]
        m = np.array(a["jacobian"])
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(m)), np.sort_complex(
            np.array([complex(re, im) for re, im in a["eigenvalues"]])), atol=1e-9)
        assert len(a["g_block"]["eigenvalues"]) == 2 and len(a["d_block"]["eigenvalues"]) == 7
        shares = [mode["g_share"] for mode in a["modes"]]
        assert len(shares) == 9 and all(0.0 <= x <= 1.0 + 1e-12 for x in shares)
        # the G shares of all modes add up to G's 2 dimensions only for orthogonal
        # eigenvectors; here: some mode lives mostly in G
        assert max(shares) > 0.5
    for key in ("run_point", "ideal_point"):
        p = doc[key]
        eigs = np.array([complex(re, im) for re, im in p["eigenvalues"]])
        assert len(eigs) == 9 and np.array(p["jacobian"]).shape == (9, 9)
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(np.array(p["jacobian"]))),
                                   np.sort_complex(eigs), atol=1e-9)
        # the band is one e-fold over the run's 600 steps of size lr_d
        assert p["tol"] == pytest.approx(1.0 / (0.01 * 600))
        d = p["decay"]
        assert d["horizon_steps"] == 600 and d["exact_step"] is True
        factors = np.abs(1.0 + 0.01 * eigs)
        assert d["slowest_efolds"] == pytest.approx(600 * np.log(factors.max()))
        # weight decay 0.1 damps every direction at least as fast as -0.1 per unit time:
        # 0.001 per step of lr_d = 0.01, e^-0.6 over this run's 600 steps, less than a factor
        # e: over a run this short, the slowest direction is neutral, and the words say so
        assert p["max_real_part"] < -0.09 and -1 < d["slowest_efolds"] < -0.5
        assert p["verdict"] == stab.NEUTRAL and d["words"].startswith("neutral")
        assert p["inside_gd_disc"] is True
    for key in ("run_point", "ideal_point"):  # Adam's step, judged over the run the same way
        a = adam[key]
        mu = np.array([complex(re, im) for re, im in a["eigenvalues"]])
        top = 600 * mu.real.max()
        assert a["decay"]["slowest_efolds"] == pytest.approx(top)
        want = (stab.DIVERGENT if top > 1 else stab.CONVERGENT if top < -1 else
                (stab.OSCILLATING, stab.NEUTRAL))
        assert a["verdict"] in (want if isinstance(want, tuple) else (want,))
    text = json.dumps(doc["finding"])
    if all(abs(im) == 0 for re, im in adam["run_point"]["eigenvalues"]) and \
            adam["run_point"]["decay"]["slowest_efolds"] < -1:
        assert "oscillating" not in text and "not damped" not in text
    assert doc["ideal_point"]["params"][:2] == [0.0, 1.0]
    assert doc["ideal_point"]["params"][2:] == doc["run_point"]["params"][2:]
    assert doc["ideal_point"]["discriminator"] == "the run's D at this step"
    assert doc["distance_trend"]["within_tolerance"] is True


def test_baseline_run_json_is_one_document_and_step_reads_the_metrics_row(cli, runs):
    run = runs / "baseline"
    res = cli(["diagnose", "stability", run, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["run_point"]["verdict"] in stab.VERDICTS
    assert doc == json.loads((run / "diagnose" / "stability.json").read_text()) | {
        "files": doc["files"]}
    assert doc["files"]["png"] == str(run / "diagnose" / "stability.png")
    # the plain baseline at step 600 is not locally stable: some mode grows, though by less
    # than a factor e over the run's 600 steps: neutral over this run, in absolute terms
    assert doc["run_point"]["max_real_part"] > 0
    efolds = doc["run_point"]["decay"]["slowest_efolds"]
    assert 0 < efolds < 1 and doc["run_point"]["verdict"] == stab.NEUTRAL
    assert f"e^{efolds:+.2g}" in doc["run_point"]["decay"]["words"]
    summary = json.loads((run / "summary.json").read_text())
    assert doc["run_class"]["class"] == summary["class"] != "converged"
    assert doc["finding"].startswith(f"the run is {summary['class']} (")

    res = cli(["diagnose", "stability", run, "--step", "300", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    row = next(r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
               if r["step"] == 300)
    assert doc["step"] == 300 and doc["parameters_from"] == rundir.METRICS
    assert doc["run_point"]["params"] == [row["w"], row["b"]] + [row[f"d_{n}"] for n in D_NAMES]
    assert doc["distance_trend"]["distance_end"] == pytest.approx(row["distance"])


def test_out_folder_takes_the_files(cli, runs, tmp_path):
    run = runs / "fixed"
    before = _hashes(run)
    res = cli(["diagnose", "stability", run, "--step", "500", "--out", tmp_path / "o"])
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["stability.json",
                                                                   "stability.png"]
    doc = json.loads((tmp_path / "o" / "stability.json").read_text())
    assert doc["step"] == 500 and doc["parameters_from"] == "checkpoints/step-000500.npz"
    assert _hashes(run) == before


def test_approaching_slowly_is_not_called_convergence(cli, tmp_path):
    run = tmp_path / "creep"
    make_run(run, BELL, creeping())
    res = cli(["diagnose", "stability", run, "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["ideal_point"]["field_norm"] < 1e-12  # the ideal point is an equilibrium here
    # neutral directions (D's flat ones) neither shrink nor grow over the run, and do not turn
    assert doc["ideal_point"]["verdict"] == stab.NEUTRAL
    assert doc["run_point"]["verdict"] == stab.NEUTRAL
    tr = doc["distance_trend"]
    assert tr["shrinking"] and tr["monotone"] and not tr["within_tolerance"]
    assert doc["run_class"]["class"] == classify.APPROACHING
    assert ("Approaching, but the linearisation is neutral at the run's point and "
            "neutral at the ideal generator (not locally convergent)") in doc["finding"]
    assert cli(["diagnose", "run", run]).stdout.splitlines()[-1] == classify.APPROACHING


def test_errors_are_one_line(cli, runs, tmp_path):
    _one_error_line(cli(["diagnose", "stability", runs / "fixed", "--step", "123"]),
                    "--step: no snapshot at step 123")
    _one_error_line(cli(["diagnose", "stability", runs / "fixed", "--step", "9999"]),
                    "outside this run")
    _one_error_line(cli(["diagnose", "stability", tmp_path / "nope"]), "run directory not found")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / rundir.SPEC).write_text("{not json")
    _one_error_line(cli(["diagnose", "stability", bad]), "spec.json is corrupt")
    res = cli(["diagnose", "stability", bad, "--json"])
    _one_error_line(res, "is corrupt")
    assert res.stdout == ""
    assert not (bad / "diagnose").exists()


def test_quadrature_rules_integrate_what_they_claim():
    x, p = stab.gauss_legendre(64, -1.0, 1.0)
    assert float(p.sum()) == pytest.approx(1.0) and float((p * x * x).sum()) == pytest.approx(
        1 / 3)
    u, q = stab.gauss_legendre(16, 0.0, 1.0)
    assert float((q * u).sum()) == pytest.approx(0.5)
    n, r = stab.gauss_hermite(32)
    assert float((r * n * n).sum()) == pytest.approx(1.0)
    assert float((r * n**4).sum()) == pytest.approx(3.0)
    assert math.isclose(float((r * torch.cos(n)).sum()), math.exp(-0.5), rel_tol=1e-12)


# -- adaptive quadrature, G-block modes, Adam's preconditioned step ----------------------------


def test_eig_change_is_symmetric_and_ignores_order():
    from pointgan_cli.diagnose import spectrum

    a = np.array([-1.0, -2.0 + 1j, -2.0 - 1j])
    assert spectrum.eig_change(a, a[::-1]) == 0.0
    b = a + np.array([0.0, 0.01, 0.01])
    assert spectrum.eig_change(a, b) == spectrum.eig_change(b, a) == pytest.approx(
        0.01 / abs(-2.0 + 1j))  # the gap over the larger spectral scale


def test_quadrature_doubles_until_the_eigenvalues_settle():
    from pointgan_cli.diagnose import spectrum

    spec = resolve_spec("fixed", overrides={"noise_scale": 1.5})
    theta = torch.tensor([0.0, 1.0, 1.4, 3.1, -1.7, -2.0, -5.2, 4.8, -3.8], dtype=DT)
    (res,), q = spectrum.converged_jacobians(spec, [theta])
    assert q["converged"] and q["noise_nodes"] > stab.NOISE_NODES  # the first rule is not enough
    changes = [r["max_relative_change"] for r in q["rounds"][1:]]
    assert changes[-1] < spectrum.QUAD_REL_TOL <= changes[0]
    plain = resolve_spec("baseline")
    _, q0 = spectrum.converged_jacobians(plain, [theta])
    assert q0["noise_nodes"] == 0 and len(q0["rounds"]) == 2  # x only: settles at once


def test_g_share_separates_the_players():
    from pointgan_cli.diagnose import spectrum

    jac = np.diag([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0])
    jac[0, 5] = 0.5  # G feels D, D does not feel G: eigenvectors stay block-separated
    shares = {round(m["eigenvalue"][0]): m["g_share"] for m in spectrum.modes(jac)}
    assert shares[-1] == pytest.approx(1.0) and shares[-2] == pytest.approx(1.0)
    assert shares[-9] == pytest.approx(0.0)
    assert 0.0 < shares[-6] < 1.0  # D's mode that drags G along
    point = spectrum.analyse_matrix(jac, 0.01)
    assert sorted(re for re, _ in point["g_block"]["eigenvalues"]) == [-2.0, -1.0]


def test_l2_and_decoupled_decay_act_differently_under_adam():
    from pointgan_cli.diagnose import spectrum

    jac = np.zeros((9, 9))
    pre = np.array([0.01, 0.01] + [5.0] * 7)  # Adam's steps: large where v_hat is small
    dec = resolve_spec("fixed", overrides={"weight_decay_mode": "decoupled"})
    l2 = resolve_spec("fixed", overrides={"weight_decay_mode": "l2"})
    m_dec = spectrum.adam_step_matrix(dec, jac, pre)
    m_l2 = spectrum.adam_step_matrix(l2, jac, pre)
    assert m_dec[2, 2] == pytest.approx(-dec.lr_d * 0.1)  # AdamW: lr * wd per step
    assert m_l2[2, 2] == pytest.approx(-5.0 * 0.1)  # L2: wd through the preconditioner
    assert m_dec[0, 0] == m_l2[0, 0] == 0.0  # no decay on the generator
    # plain gradient descent cannot tell them apart
    assert np.array_equal(spectrum.sgd_decay(dec, jac), spectrum.sgd_decay(l2, jac))
    # the preconditioner from a checkpoint's second moments, bias-corrected
    p = spectrum.adam_preconditioner(dec, torch.full((2,), 1e-4), torch.full((7,), 1e-2), 10**6)
    assert p[0] == pytest.approx(0.01 / (0.01 + 1e-8)) and p[5] == pytest.approx(
        0.01 / (0.1 + 1e-8))


def test_a_sweep_member_in_the_batch_store_is_judged_under_adam(cli, tmp_path):
    res = cli(["sweep", "--preset", "fixed", "--seeds", "0", "--steps", "300", "--out",
               tmp_path / "s", "--quiet"])
    assert res.exit_code == 0, res.stderr
    member = tmp_path / "s" / "members" / "fixed-s0000"
    res = cli(["diagnose", "stability", member, "--out", tmp_path / "o", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["adam"] is not None and doc["adam"]["checkpoint_step"] == 300
    assert doc["verdict_assumes"].startswith("under Adam with the second moments of")
