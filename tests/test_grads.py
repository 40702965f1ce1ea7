"""Hand-derived gradients against autograd on the plain nn.Modules (float64)."""

import pytest
import torch
import torch.nn.functional as F

from pointgan_cli.engine import losses
from pointgan_cli.engine.grads import d_coefficients, d_dz, grads_d, grads_g, grads_penalty
from pointgan_cli.engine.models import Discriminator, Generator


def _params(seed):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(1, 2, generator=gen, dtype=torch.float64)
    d = torch.randn(1, 7, generator=gen, dtype=torch.float64) * 1.5
    return g, d, gen


def _grads(module):
    return torch.cat([p.grad.reshape(-1) for p in module.parameters()])


def _d_grad_vector(D):
    params = (D.hidden.weight, D.hidden.bias, D.out.weight, D.out.bias)
    return torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1)
                      for p in params])


@pytest.mark.parametrize("loss, g_kind", [("bce", "non-saturating"), ("bce", "minimax"),
                                          ("lsgan", "-"), ("hinge", "-"), ("wgan", "-")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generator_gradient(loss, g_kind, seed):
    g, d, gen = _params(seed)
    x = torch.rand(1, 64, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(1, 64, generator=gen, dtype=torch.float64) * 0.3
    G, D = Generator.from_packed(g[0]), Discriminator.from_packed(d[0])
    losses.g_loss(D.logits(G(x[0]) + noise[0]), loss, g_kind).backward()
    want = _grads(G)
    got = grads_g(g, d_coefficients(d), x, torch.full_like(x, 1 / 64), loss, g_kind, noise)[0]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", losses.LOSSES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discriminator_gradient(loss, seed):
    _, d, gen = _params(seed)
    nf, nr, fw, easing = 128, 64, 0.7, 0.1
    v = torch.randn(1, nf + nr, generator=gen, dtype=torch.float64) * 1.5
    D = Discriminator.from_packed(d[0])
    losses.d_loss(D.logits(v[0, :nf]), D.logits(v[0, nf:]), loss, easing, fw).backward()
    want = _d_grad_vector(D)
    f64 = {"dtype": torch.float64}
    wv = torch.cat([torch.full((nf,), fw / (1 + fw) / nf, **f64),
                    torch.full((nr,), 1 / (1 + fw) / nr, **f64)])
    t = torch.cat([torch.full((nf,), easing, **f64), torch.full((nr,), 1 - easing, **f64)])
    sgn = torch.cat([torch.ones(nf, **f64), -torch.ones(nr, **f64)])
    wv, t, sgn = (a.unsqueeze(0) for a in (wv, t, sgn))
    got = grads_d(d, d_coefficients(d), v,
                  lambda z: d_dz(z, loss, wv, -wv * t, wv * sgn, sgn))[0]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_discriminator_gradient_in_place_path_has_the_same_bits(loss):
    """The hot path (no autograd: temporaries reused in place) and the autograd-safe path
    give bit-identical float32 gradients, so training is the same with or without it."""
    gen = torch.Generator().manual_seed(7)
    R, N = 5, 576
    d = torch.randn(R, 7, generator=gen) * 1.5
    v = torch.randn(R, N, generator=gen) * 1.5
    wv = torch.rand(R, N, generator=gen) / N
    ntw = -wv * torch.rand(R, N, generator=gen)
    sgn = torch.where(torch.arange(N) < 512, 1.0, -1.0).expand(R, N)

    def gz_of(z):
        return d_dz(z, loss, wv, ntw, wv * sgn, sgn)

    with torch.no_grad():
        fast = grads_d(d, d_coefficients(d), v, gz_of)
    with torch.enable_grad():
        plain = grads_d(d, d_coefficients(d), v, gz_of)
    assert torch.equal(fast, plain)


def _input_grad(D, v):
    v = v.clone().requires_grad_(True)
    (phi,) = torch.autograd.grad(D.logits(v).sum(), v, create_graph=True)
    return phi


@pytest.mark.parametrize("centre", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_penalty_gradient_double_backward(centre, seed):
    _, d, gen = _params(seed)
    v = torch.randn(1, 64, generator=gen, dtype=torch.float64) * 1.5
    weight = torch.tensor([[2.5]], dtype=torch.float64)
    D = Discriminator.from_packed(d[0])
    phi = _input_grad(D, v[0])
    if centre == 0.0:
        pen = losses.zero_centred_penalty(phi, 2.5)
    else:
        pen = losses.one_centred_penalty(phi, 2.5)
    pen.backward()
    want = _d_grad_vector(D)
    got = grads_penalty(d_coefficients(d), v, torch.full_like(v, 1 / 64), weight, centre)[0]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_losses_by_hand():
    """Each loss on fixed logits, against values computed by hand."""
    zf = torch.tensor([0.0, 2.0], dtype=torch.float64)
    zr = torch.tensor([1.0], dtype=torch.float64)
    sp = F.softplus
    want = (sp(torch.tensor(0.0)) + sp(torch.tensor(-2.0))) / 2
    assert float(losses.g_loss(zf)) == pytest.approx(float(want))
    assert float(losses.g_loss(zf, "lsgan")) == pytest.approx((0.5 + 0.5) / 2)
    assert float(losses.g_loss(zf, "hinge")) == pytest.approx(-1.0)
    assert float(losses.g_loss(zf, "wgan")) == pytest.approx(-1.0)
    # hinge: fake relu(1+z) = (1 + 3)/2 = 2, real relu(1-1) = 0 -> (2 + 0)/2
    assert float(losses.d_loss(zf, zr, "hinge")) == pytest.approx(1.0)
    # wgan: mean fake 1, real -1 -> (1 - 1)/2
    assert float(losses.d_loss(zf, zr, "wgan")) == pytest.approx(0.0)
    # lsgan with easing 0.1: fake ((0-.1)^2 + (2-.1)^2)/4, real (1-.9)^2/2
    want = ((0.01 + 3.61) / 4 + 0.01 / 2) / 2
    assert float(losses.d_loss(zf, zr, "lsgan", 0.1)) == pytest.approx(want)
    # bce: log(2) and softplus(2) fake, softplus(-1) real, fake weight 0.5
    lf = (0.6931471805599453 + 2.1269280110429727) / 2
    lr = 0.31326168751822286
    assert float(losses.d_loss(zf, zr, "bce", 0.0, 0.5)) == pytest.approx((0.5 * lf + lr) / 1.5)
    phi = torch.tensor([0.5, -2.0], dtype=torch.float64)
    assert float(losses.zero_centred_penalty(phi, 2.0)) == pytest.approx((0.25 + 4.0) / 2)
    assert float(losses.one_centred_penalty(phi, 10.0)) == pytest.approx(10 * (0.25 + 1.0) / 2)


def test_penalties_are_on_the_papers_scale():
    """The averaged D loss divides the papers' summed loss (data terms + penalty) by 1 + F, so
    the penalty's coefficient is gamma / (1 + F): 5 for the papers' gamma 10 with F = 1."""
    assert losses.penalty_weight(10.0, 1.0) == 5.0
    assert losses.penalty_weight(10.0, 0.5) == pytest.approx(10.0 / 1.5)
    phi = torch.tensor([0.5, 2.0], dtype=torch.float64)
    paper = 0.5 * 10.0 * (phi**2).mean()  # gamma/2 E|phi|^2 added to L_fake + L_real
    ours = losses.zero_centred_penalty(phi, losses.penalty_weight(10.0, 1.0))
    assert float(ours) == pytest.approx(float(paper) / 2)  # the whole paper loss halved
