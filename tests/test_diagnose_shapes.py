"""Discriminator shapes, the saturation / flatness measures and the loss the landscapes use."""

import math

import pytest
import torch
import torch.nn.functional as F

from pointgan_cli.diagnose import dshape, landscape, shapes, study
from pointgan_cli.diagnose.shapes import DT
from pointgan_cli.engine.models import Discriminator, d_logits_packed, d_prob_packed
from pointgan_cli.spec import RunSpec

FAILED = torch.tensor([0.605, 0.015], dtype=DT)


def _v(*xs):
    return torch.tensor(xs, dtype=DT)


def test_bell_is_a_bell_centred_on_the_real_value():
    k, h, a = 8.0, 3.0, 0.3
    d = shapes.bell(k, h, 1.0, a)
    z = d_logits_packed(d, _v(1.0, 1.0 - a, 1.0 + a, -3.0, 5.0, 0.8, 1.2))
    assert float(z[0]) == pytest.approx(2 * h * math.tanh(k * a))  # peak on the centre
    assert float(z[1]) == pytest.approx(h * math.tanh(2 * k * a))  # shoulders at +-a
    assert float(z[1]) == pytest.approx(float(z[2]))
    assert abs(float(z[3])) < 1e-6 and abs(float(z[4])) < 1e-6  # back to c2 far away
    assert float(z[5]) == pytest.approx(float(z[6]))  # symmetric
    assert float(z[0]) > float(z[5]) > float(z[3])


def test_step_swings_twice_as_far_as_a_bell_with_the_same_weights():
    k, h = 6.0, 2.0
    up, down = shapes.step(k, h, 0.8), shapes.step(k, h, 0.8, rising=False)
    v = torch.linspace(-2, 3, 501, dtype=DT)
    zu, zd = d_logits_packed(up, v), d_logits_packed(down, v)
    assert bool((zu[1:] >= zu[:-1]).all()) and bool((zd[1:] <= zd[:-1]).all())
    assert float(zu.max() - zu.min()) == pytest.approx(4 * h, rel=1e-3)
    zb = d_logits_packed(shapes.bell(k, h, 1.0, 0.5), v)
    assert float(zb.max() - zb.min()) < 2 * h + 1e-9


def test_dprob_dv_matches_autograd():
    d = torch.tensor([1.3, -2.1, 0.4, 0.9, 1.7, -0.6, 0.2], dtype=DT)
    v = torch.linspace(-2, 3, 57, dtype=DT).requires_grad_(True)
    (grad,) = torch.autograd.grad(d_prob_packed(d, v).sum(), v)
    assert torch.allclose(shapes.dprob_dv(d, v.detach()), grad, atol=1e-12)


def test_saturation_of_known_shapes():
    sharp_far = shapes.step(50.0, 5.0, 0.8)  # all samples (<= 0.62) far below the edge
    assert shapes.saturation_fraction(sharp_far, FAILED) == 1.0
    gentle = shapes.step(1.0, 1.0, 0.8)
    assert shapes.saturation_fraction(gentle, FAILED) == 0.0
    # A sharp step inside the samples: only the samples in its narrow band get a slope.
    sharp_inside = shapes.step(50.0, 5.0, 0.0)
    frac = shapes.saturation_fraction(sharp_inside, FAILED)
    v = shapes.generated(FAILED)
    expect = float((shapes.dprob_dv(sharp_inside, v).abs() < 1e-3).double().mean())
    assert frac == expect and 0.6 < frac < 1.0
    assert shapes.saturation_fraction(shapes.flat(), FAILED) == 1.0


def test_flatness_of_known_shapes():
    lo, hi = dshape.window(RunSpec())
    assert (lo, hi) == (-2.0, 3.0)
    assert shapes.d_range(shapes.flat(2.0), lo, hi) == 0.0
    decayed = torch.tensor([3.0, -2.0, 1.0, 0.5, 2.0, 1.5, 0.1], dtype=DT) * 1e-3
    assert shapes.d_range(decayed, lo, hi) < dshape.FLAT_RANGE
    assert shapes.d_range(shapes.bell(8.0, 3.0, 1.0, 0.3, c2=-3.0), lo, hi) > 0.9


def test_expected_loss_flat_d_is_analytic():
    assert float(shapes.d_loss(shapes.flat(), FAILED, RunSpec())) == pytest.approx(math.log(2))
    loss = RunSpec(real_value=1.0, label_easing=0.1, fake_weight=0.5)
    c = 0.7
    p = 1 / (1 + math.exp(-c))

    def bce(t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    expect = (0.5 * bce(0.1) + bce(0.9)) / 1.5
    assert float(shapes.d_loss(shapes.flat(c), FAILED, loss)) == pytest.approx(expect, rel=1e-12)


def test_expected_loss_matches_many_samples():
    d = torch.tensor([-3.4, 3.3, 2.5, -2.4, -4.3, 3.0, 0.2], dtype=DT)
    loss = RunSpec(label_easing=0.1, fake_weight=2.0)
    x = torch.rand(400_000, generator=torch.Generator().manual_seed(1), dtype=DT) * 2 - 1
    zf = d_logits_packed(d, 0.605 * x + 0.015)
    zr = d_logits_packed(d, _v(1.0))[0]
    mc = (2.0 * (F.softplus(zf) - 0.1 * zf).mean() + F.softplus(zr) - 0.9 * zr) / 3.0
    assert float(shapes.d_loss(d, FAILED, loss)) == pytest.approx(float(mc), rel=2e-3)


def test_fit_c2_finds_the_minimum():
    loss = RunSpec(label_easing=0.1, fake_weight=0.5)
    fitted = shapes.fit_c2(torch.stack([shapes.flat(), shapes.bell(5.0, 2.0, 1.0, 0.3)]),
                           FAILED, loss)
    p = float(torch.sigmoid(fitted[0, 6]))
    assert p == pytest.approx((0.5 * 0.1 + 0.9) / 1.5, abs=1e-9)  # the best constant D
    best = float(shapes.d_loss(fitted[1], FAILED, loss))
    for delta in (-1e-2, 1e-2):
        moved = fitted[1].clone()
        moved[6] += delta
        assert float(shapes.d_loss(moved, FAILED, loss)) > best


def test_filter_normalised_direction_has_the_filters_norms():
    d = torch.tensor([-3.4, 3.3, 2.5, -2.4, -4.3, 3.0, 0.2], dtype=DT)
    u = landscape.filter_normalised_direction(d, torch.Generator().manual_seed(3))
    for idx in landscape.FILTERS:
        i = list(idx)
        assert float(u[i].norm()) == pytest.approx(float(d[i].norm()))


def test_study_discriminator_is_deterministic_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    d1 = study.train_discriminator(FAILED, RunSpec(), steps=50)
    assert torch.equal(torch.random.get_rng_state(), before)
    d2 = study.train_discriminator(FAILED, RunSpec(), steps=50)
    assert torch.equal(d1, d2)
    # The same numbers as training the module by hand would give: a real D, not a stand-in.
    assert isinstance(Discriminator.from_packed(d1), Discriminator)
    assert float(shapes.d_loss(d1, FAILED, RunSpec())) < math.log(2)


def test_the_loss_prefers_a_wrong_step_to_the_bell_on_the_failed_generator():
    loss = RunSpec()
    d = study.train_discriminator(FAILED, loss, steps=300)
    cands = landscape.candidates(d, FAILED, loss)
    by_kind = {}
    for c in cands:
        by_kind.setdefault(c.kind, []).append(c)
    trained = by_kind["trained"][0].loss
    assert len(by_kind["bell"]) == len(landscape.BELL_HALF_WIDTHS)
    assert all(b.loss > trained for b in by_kind["bell"])
    assert by_kind["flat"][0].loss == pytest.approx(math.log(2), abs=1e-9)
    # The hand-built separating step is as good as the trained D: the loss wants a step.
    assert by_kind["step"][0].loss < min(b.loss for b in by_kind["bell"])
    f = landscape.finding(cands, 1.0)
    assert f["bell_worse"] and "worse than the trained D" in f["text"]
    # The trained D really is a step: rising, not a bell (D stays high beyond the real value).
    p = d_prob_packed(d, _v(0.0, 1.0, 3.0))
    assert float(p[0]) < 0.1 < 0.9 < float(p[1]) and float(p[2]) > 0.9


@pytest.mark.parametrize("kind,g_kind,per_sample", [
    ("bce", "non-saturating", lambda z: F.softplus(-z)),
    ("bce", "minimax", lambda z: -F.softplus(z)),
    ("lsgan", "non-saturating", lambda z: 0.5 * (z - 1.0) ** 2),
    ("hinge", "non-saturating", lambda z: -z),
    ("wgan", "non-saturating", lambda z: -z),
])
def test_generator_loss_and_gradient_match_autograd(kind, g_kind, per_sample):
    d = torch.tensor([-3.4, 3.3, 2.5, -2.4, -4.3, 3.0, 0.2], dtype=DT)
    loss = RunSpec(loss=kind, g_loss=g_kind)
    w = torch.tensor([0.3, -0.7], dtype=DT, requires_grad=True)
    b = torch.tensor([0.5, 1.2], dtype=DT, requires_grad=True)
    x = shapes.x_grid()
    expect = per_sample(d_logits_packed(d, w.unsqueeze(-1) * x + b.unsqueeze(-1))).mean(-1)
    gw, gb = torch.autograd.grad(expect.sum(), (w, b))
    value, dw, db = landscape.g_loss_and_grad(d, w.detach(), b.detach(), loss)
    assert torch.allclose(value, expect.detach(), atol=1e-12)
    assert torch.allclose(dw, gw, atol=1e-10) and torch.allclose(db, gb, atol=1e-10)


def test_logit_output_losses_measure_the_logit_not_a_probability():
    # Logit swing 40 with a gentle slope: as a probability it is pinned at 0 (saturated); as
    # the logit a critic outputs it still has a slope the generator can follow.
    d = shapes.step(1.0, 20.0, 3.0, c2=-25.0)
    assert shapes.saturation_fraction(d, FAILED) == 1.0
    assert shapes.saturation_fraction(d, FAILED, probability=False) == 0.0
    assert shapes.d_range(d, -2, 3, probability=False) > 10 * shapes.d_range(d, -2, 3)
    assert not dshape.probability(RunSpec(loss="wgan")) and dshape.probability(RunSpec())


def test_equal_l2_candidates_and_what_each_d_does_to_the_generator():
    loss = RunSpec()
    d = study.train_discriminator(FAILED, loss, steps=300)
    l2 = landscape.candidates_equal_l2(d, FAILED, loss)
    assert [c.kind for c in l2] == ["step"] + ["bell"] * len(landscape.BELL_HALF_WIDTHS)
    for c in l2:  # every weight and bias but c2 at the trained D's L2 norm
        assert float(c.d[:6].norm()) == pytest.approx(float(d[:6].norm()), rel=1e-12)
    t = landscape.g_terms(d, FAILED, loss)
    # the failed generator sits below the real value (b = 0.015): a push up is toward it
    assert t["g_push_b"] > 0 and t["g_push_toward_real"] is True
    cands = landscape.candidates(d, FAILED, loss)
    effects = {c.name: landscape.g_terms(c.d, FAILED, loss) for c in cands + l2}
    f = landscape.finding(cands, 1.0, l2, effects)
    assert f["bell_l2_loss"] == min(c.loss for c in l2 if c.kind == "bell")
    assert f["g_push_trained"] == effects["trained D"]["g_push_b"]
    assert "at equal L2 norm" in f["text"] and "-dL_G/db" in f["text"]
