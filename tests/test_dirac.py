"""The Dirac-GAN on the engine: hand gradients against autograd, the expected field against the
paper's closed forms, the update operators against the paper's lemmas, batch invariance."""

import math

import numpy as np
import pytest
import torch

from pointgan_cli.engine import losses
from pointgan_cli.engine.batching import batch_key
from pointgan_cli.engine.dirac import DiracTrainer, expected_field, gauss_hermite, initial_params
from pointgan_cli.spec import resolve_spec

F64 = torch.float64
FP0, FPP0 = 0.5, -0.25  # f'(0) and f''(0) of the GAN's f(t) = -log(1 + e^-t)


def dirac(**ov):
    base = {"game": "dirac", "loss": "bce", "g_loss": "minimax"}
    return resolve_spec(None, overrides={**base, **ov})


# -- hand-derived gradients against autograd ---------------------------------------------------


@pytest.mark.parametrize("ov", [
    {},
    {"g_loss": "non-saturating", "instance_noise": 0.7},
    {"loss": "wgan", "gp_weight": 0.5, "instance_noise": 0.3},
    {"r1": 0.3, "r2": 0.2, "label_easing": 0.1, "fake_weight": 0.5, "instance_noise": 1.0},
    {"loss": "lsgan", "lecam": 0.4, "instance_noise": 0.5, "batch_size": 70},
    {"loss": "hinge", "weight_decay": 0.1, "weight_decay_mode": "l2", "instance_noise": 0.5},
])
def test_gradients_match_autograd_on_the_losses(ov):
    """The engine's dL_G/dtheta and dL_D/dpsi (R = 2 runs, the step's own instance noise)
    equal autograd on ``losses`` written as the paper's game: D's logit is -psi x, D's loss
    F * L_fake + L_real plus the penalties on psi."""
    specs = [dirac(seed=s, init=f"{0.7 - s},{1.3 + s}", **ov) for s in (0, 1)]
    tr = DiracTrainer(specs)
    tr.randomness.x_at(5)
    c, B, Bp = 5 - tr.randomness.chunk_start, tr.cfg.B, tr.cfg.Bp
    dr = tr.randomness.draws(c)
    gg = tr.game.g_grad(tr.state, dr, None)
    gd = tr.game.d_grad(tr.state, dr, 0, None)[0]
    for i, spec in enumerate(specs):
        theta = tr.g[i].double().clone().requires_grad_(True)
        psi = tr.d[i].double().clone().requires_grad_(True)
        zero = torch.zeros(B, dtype=F64)
        if spec.instance_noise > 0:
            noise = tr.randomness.inst_chunk[i, c].double()
            ng, nf, nr = noise[:B], noise[Bp:Bp + B], noise[2 * Bp:2 * Bp + B]
        else:
            ng = nf = nr = zero
        lg = losses.g_loss(-psi * (theta + ng), spec.loss, spec.g_loss)
        (want_g,) = torch.autograd.grad(lg, theta)
        zf, zr = -psi * (theta + nf), -psi * nr
        lf, lr = losses.d_loss_parts(zf, zr, spec.loss, spec.label_easing)
        ld = spec.fake_weight * lf + lr
        ld = ld + losses.zero_centred_penalty(-psi.expand(B), spec.r1)
        ld = ld + losses.zero_centred_penalty(-psi.expand(B), spec.r2)
        ld = ld + losses.one_centred_penalty(-psi.expand(B), spec.gp_weight)
        ld = ld + spec.weight_decay * 0.5 * psi[0] ** 2
        if spec.lecam > 0:  # anchors: the zero-initialised EMAs after this batch
            k = spec.lecam_decay
            a_real, a_fake = (1 - k) * zr.detach().mean(), (1 - k) * zf.detach().mean()
            ld = ld + spec.lecam * (((zr - a_fake) ** 2).mean() + ((zf - a_real) ** 2).mean())
        (want_d,) = torch.autograd.grad(ld, psi)
        torch.testing.assert_close(gg[i].double(), want_g, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gd[i].double(), want_d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ov", [{}, {"r1": 0.3, "consensus": 0.3},
                                {"g_loss": "non-saturating", "consensus": 0.5, "lecam": 0.2},
                                {"loss": "wgan", "consensus": 0.1}])
def test_engine_field_equals_the_expected_field_without_noise(ov):
    """Noise-free, the engine's gradients (consensus term included, by autograd through the
    hand-derived field) equal the float64 expected field the figures and eigenvalues use."""
    pts = [(0.8, -1.1), (-0.3, 0.6), (1.5, 1.2)]
    specs = [dirac(seed=i, init=f"{a},{b}", **ov) for i, (a, b) in enumerate(pts)]
    tr = DiracTrainer(specs)
    tr.randomness.x_at(0)
    dr = tr.randomness.draws(0)
    gg = tr.game.g_grad(tr.state, dr, None)
    gd = tr.game.d_grad(tr.state, dr, 0, None)[0]
    if specs[0].consensus > 0:
        cg, cd = tr.consensus(dr, 0)
        gg, gd = gg + cg * tr.cfg.cons, gd + cd * tr.cfg.cons
    want = expected_field(torch.tensor(pts, dtype=F64), specs[0])
    got = -torch.cat([gg, gd], dim=1).double()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_gauss_hermite_moments():
    x, w = gauss_hermite(20)
    for k, moment in [(0, 1.0), (2, 1.0), (4, 3.0), (6, 15.0), (1, 0.0), (3, 0.0)]:
        assert float((w * x**k).sum()) == pytest.approx(moment, abs=1e-10)


# -- the paper's closed forms at the equilibrium -------------------------------------------


def eigs(spec):
    jac = torch.autograd.functional.jacobian(
        lambda p: expected_field(p.view(1, 2), spec)[0], torch.zeros(2, dtype=F64))
    ev = np.linalg.eigvals(jac.numpy())
    return ev[np.lexsort((-ev.imag, -ev.real))]


def closed(re, disc):
    """``re +- sqrt(disc)`` sorted like ``eigs``."""
    r = np.sqrt(complex(disc))
    ev = np.array([re + r, re - r])
    return ev[np.lexsort((-ev.imag, -ev.real))]


@pytest.mark.parametrize("ov, fp", [({}, FP0), ({"g_loss": "non-saturating"}, FP0),
                                    ({"loss": "wgan"}, 1.0), ({"lecam": 0.3}, FP0)])
def test_unregularised_eigenvalues_are_imaginary(ov, fp):
    """GAN, NS-GAN, WGAN: +-f'(0) i (Lemma 2.2); LeCam adds nothing at the equilibrium (its
    term is quadratic in psi theta there)."""
    np.testing.assert_allclose(eigs(dirac(**ov)), [fp * 1j, -fp * 1j], atol=1e-12)


@pytest.mark.parametrize("gamma", [0.1, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("which", ["r1", "r2"])
def test_gradient_penalty_eigenvalues(gamma, which):
    """R1 and R2: -gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)."""
    np.testing.assert_allclose(eigs(dirac(**{which: gamma})),
                               closed(-gamma / 2, gamma**2 / 4 - FP0**2), atol=1e-10)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
def test_instance_noise_eigenvalues(sigma):
    """Instance noise: f''(0) sigma^2 +- sqrt(f''(0)^2 sigma^4 - f'(0)^2)."""
    want = closed(FPP0 * sigma**2, FPP0**2 * sigma**4 - FP0**2)
    np.testing.assert_allclose(eigs(dirac(instance_noise=sigma)), want, atol=1e-8)


@pytest.mark.parametrize("gamma", [0.1, 0.3, 1.0])
def test_consensus_eigenvalues(gamma):
    """Consensus optimisation: J - gamma J^T J = -gamma f'(0)^2 +- f'(0) i."""
    np.testing.assert_allclose(eigs(dirac(consensus=gamma)),
                               [-gamma * FP0**2 + FP0 * 1j, -gamma * FP0**2 - FP0 * 1j],
                               atol=1e-12)


# -- the update operators near the equilibrium, trained by the engine ----------------------


def _radius_ratio(update, steps=200, h=0.1, start=0.01):
    spec = dirac(optimizer="sgd", lr_g=h, lr_d=h, steps=steps, update=update,
                 init=f"{start},{start}", snapshot_every=steps)
    snaps = []
    with torch.inference_mode():
        DiracTrainer([spec]).run(snaps.append)
    r = [math.hypot(float(s.g[0, 0]), float(s.d[0, 0])) for s in snaps]
    return r[-1] / r[0]


def test_simultaneous_gd_spirals_out_as_its_operator_says():
    """Lemma 2.3: simultaneous GD's operator has eigenvalues 1 +- h f'(0) i, modulus
    sqrt(1 + h^2 f'(0)^2) > 1: near the equilibrium the radius grows by that per step."""
    want = (1 + 0.1**2 * FP0**2) ** (200 / 2)
    assert _radius_ratio("simultaneous") == pytest.approx(want, rel=2e-3)


def test_alternating_gd_neither_converges_nor_diverges_near_the_equilibrium():
    """Alternating GD: eigenvalues on the unit circle (h f'(0) < 2): the radius stays."""
    assert 0.97 < _radius_ratio("alternating") < 1.03


@pytest.mark.parametrize("update", ["extragradient", "optimistic"])
def test_extragradient_and_optimistic_contract_near_the_equilibrium(update):
    """Extragradient's operator I + hJ + h^2 J^2 has modulus^2 = 1 - h^2 a^2 + h^4 a^4 < 1
    (a = f'(0)); optimistic GD contracts too: both shrink the radius where GD cannot."""
    ratio = _radius_ratio(update, steps=2000)
    assert ratio < 0.5
    if update == "extragradient":
        a = 0.1 * FP0
        assert ratio == pytest.approx((1 - a**2 + a**4) ** (2000 / 2), rel=2e-2)


# -- engine properties -----------------------------------------------------------------------


def test_seeds_in_one_batch_equal_each_seed_alone():
    specs = [dirac(seed=s, steps=150, instance_noise=0.5, consensus=0.2, init="seed",
                   update="optimistic") for s in range(4)]
    assert len({batch_key(s) for s in specs}) == 1

    def run(ss):
        snaps = []
        with torch.inference_mode():
            DiracTrainer(ss).run(snaps.append)
        return torch.cat([torch.cat([s.g, s.d], 1) for s in snaps], 1)

    batch = run(specs)
    for i in (0, 3):
        assert torch.equal(batch[i], run([specs[i]])[0])


def test_init_from_the_flag_or_the_seed():
    g, d = initial_params([dirac(init="0.5,-2"), dirac(init="seed", seed=3),
                           dirac(init="seed", seed=4)])
    assert (float(g[0, 0]), float(d[0, 0])) == (0.5, -2.0)
    assert abs(float(g[1, 0])) < 2 and abs(float(d[1, 0])) < 2
    assert float(g[1, 0]) != float(g[2, 0])
    g2, _ = initial_params([dirac(init="seed", seed=4)])
    assert float(g2[0, 0]) == float(g[2, 0])  # alone = in a batch


# -- through the CLI -------------------------------------------------------------------------


def test_train_dirac_json(cli, tmp_path):
    import json

    out = tmp_path / "d"
    res = cli(["train", "--game", "dirac", "--steps", "500", "--json", "--out", out, "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["game"] == "dirac" and summary["steps"] == 500
    assert summary["distance"] == pytest.approx(abs(summary["theta"]) + abs(summary["psi"]))
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["theta"] == 1.0 and rows[0]["psi"] == 1.0  # the paper's start
    assert rows[-1]["step"] == 500 and "w" not in rows[-1]
    spec = json.loads((out / "spec.json").read_text())["spec"]
    assert spec["game"] == "dirac" and spec["init"] == "1,1"


@pytest.mark.parametrize("args, msg", [
    (["--game", "dirac", "--init", "1"], "--init"),
    (["--game", "dirac", "--init", "a,b"], "--init"),
    (["--init", "0.5,0.5"], "--init: only the Dirac-GAN"),
    (["--game", "dirac", "--noise-scale", "0.5"], "--noise-scale: not part of the Dirac-GAN"),
    (["--game", "dirac", "--real-value", "2"], "--real-value: not part of the Dirac-GAN"),
    (["--game", "chess"], "--game"),
    (["--update", "sideways"], "--update"),
    (["--lecam-decay", "1"], "--lecam-decay"),
    (["--consensus", "-1"], "--consensus"),
])
def test_bad_dirac_and_stabiliser_flags(cli, tmp_path, args, msg):
    out = tmp_path / "x"
    res = cli(["train", *args, "--steps", "10", "--out", out])
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: ") and msg in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("gamma", [0.1, 0.5])
def test_diagnose_stability_models_consensus(gamma):
    """``diagnose stability``'s consensus field on its own Dirac-GAN: -gamma f'(0)^2 +- f'(0) i;
    and the pointgan field of a --consensus spec has the term."""
    from pointgan_cli.diagnose import stability as stab

    gan_f = lambda t: -torch.nn.functional.softplus(-t)  # noqa: E731
    field = stab.with_consensus(stab.dirac_gan_field(gan_f), gamma)
    jac, _ = stab.field_jacobian(field, torch.zeros(2, dtype=F64))
    np.testing.assert_allclose(stab.eigenvalues(jac),
                               [-gamma * FP0**2 + FP0 * 1j, -gamma * FP0**2 - FP0 * 1j],
                               atol=1e-12)
    spec = resolve_spec(None, overrides={"consensus": gamma})
    theta = torch.tensor([0.3, 0.8, 1.0, -0.5, 0.2, 0.1, 0.7, -0.4, 0.05], dtype=F64)
    plain = stab.pointgan_field(resolve_spec(None))(theta)
    assert not torch.allclose(stab.pointgan_field(spec)(theta), plain)


def test_train_dirac_prints_theta_and_psi(cli, tmp_path):
    res = cli(["train", "--game", "dirac", "--steps", "100", "--out", tmp_path / "t"])
    assert res.exit_code == 0, res.output
    assert "theta" in res.stdout and "psi" in res.stdout and "| b " not in res.stdout
