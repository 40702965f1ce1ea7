"""Hand-derived losses' gradients for R runs at once (the engine's hot path).

Why by hand: the networks have 2 + 7 parameters, so autograd's bookkeeping would cost more than
the arithmetic. Every function here is checked against autograd on the plain ``nn.Module``s
(``models.py``, ``tests/test_grads.py``).

Notation. D's logit is ``z(v) = W2 . tanh(W1 v + c1) + c2``. With ``tanh(u) = 2 sigmoid(2u) - 1``
(identical in exact arithmetic, several times faster in torch on CPU) and A = 2 W1, B = 2 c1,
a = 2 W2, c = c2 - W2_0 - W2_1:  ``z = a_0 s_0 + a_1 s_1 + c`` with ``s_j = sigmoid(A_j v + B_j)``.
The input gradient (for R1, R2 and WGAN-GP) is ``phi(v) = dz/dv = sum_j a_j A_j s_j (1 - s_j)``.

Losses are written per sample in terms of ``dL/dz`` with per-sample weights, so the study's
options (label easing, fake weight, the inner batch of noisy fakes, padding) are just weights and
targets. Shapes: G params (R, 2), D params (R, 7), samples (R, N), N a multiple of 64.
Only +, -, *, /, sqrt, sigmoid and fused multiply-adds are used, see ``engine`` for why.
(``torch.addcmul`` only where its operands have one shape: with broadcasting it is more than
twice slower than a multiply and an add on CPU.)
"""

from __future__ import annotations

import torch

Coef = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def d_coefficients(d: torch.Tensor) -> Coef:
    """(A, B) of shape (R, 2, 1), a_0, a_1, c of shape (R, 1), from packed D params (R, 7).
    One multiply gives A, B and a (views of it): the step's small ops cost more in dispatch
    than in arithmetic."""
    t = d[:, 0:6] * 2.0
    c = (d[:, 6:7] - d[:, 4:5]) - d[:, 5:6]
    return t[:, 0:2, None], t[:, 2:4, None], t[:, 4:5], t[:, 5:6], c


def d_forward(coef: Coef, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden sigmoids s (R, 2, N) and logits z (R, N) of D at samples v (R, N)."""
    A, B, a0, a1, c = coef
    s = torch.sigmoid(A * v.unsqueeze(1) + B)
    z = s[:, 0] * a0 + c
    z += s[:, 1] * a1
    return s, z


# -- generator ---------------------------------------------------------------------------------


def g_dz(z: torch.Tensor, wx: torch.Tensor, loss: str, g_loss: str) -> torch.Tensor:
    """dL_G/dz per sample, weighted by wx (1/B, 0 on padding).

    bce non-saturating: softplus(-z) -> sigmoid(z) - 1;  bce minimax: -softplus(z) -> -sigmoid(z);
    lsgan: (z - 1)^2 / 2 -> z - 1;  hinge and wgan: -z -> -1."""
    if loss == "bce":
        if g_loss == "minimax":
            return -(torch.sigmoid(z) * wx)
        return torch.addcmul(-wx, torch.sigmoid(z), wx)
    if loss == "lsgan":
        return torch.addcmul(-wx, z, wx)
    return -wx.expand_as(z)


def grads_g(
    g: torch.Tensor,
    coef: Coef,
    x: torch.Tensor,
    wx: torch.Tensor,
    loss: str = "bce",
    g_loss: str = "non-saturating",
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gradient (R, 2) of the generator loss w.r.t. [w, b] for inputs x (R, Bp); D sees
    ``w x + b (+ noise)`` (instance noise is additive, so dy/dw = x still)."""
    y = x * g[:, 0:1] + g[:, 1:2]
    if noise is not None:
        y = y + noise
    s, z = d_forward(coef, y)
    dz = g_dz(z, wx, loss, g_loss)  # (R, Bp)
    A, _, a0, a1, _ = coef
    q = s - s * s  # sigmoid'  (R, 2, Bp)
    k0, k1 = A[:, 0] * a0, A[:, 1] * a1  # (R, 1)
    dy = dz * (q[:, 0] * k0 + q[:, 1] * k1)  # dL/dy = dL/dz * phi(y)  (R, Bp)
    return torch.stack(((dy * x).sum(-1), dy.sum(-1)), dim=1)


# -- discriminator -----------------------------------------------------------------------------


def d_dz(z: torch.Tensor, loss: str, wv: torch.Tensor, ntw: torch.Tensor,
         wsgn: torch.Tensor, sgn: torch.Tensor) -> torch.Tensor:
    """dL_D/dz per sample. wv: weights, ntw = -wv * target, sgn: +1 on fake slots and -1 on
    real ones, wsgn = wv * sgn.

    bce: BCE(sigmoid(z), t) -> sigmoid(z) - t;  lsgan: (z - t)^2 / 2 -> z - t;
    hinge: relu(1 + z) fake, relu(1 - z) real;  wgan: z fake, -z real."""
    if loss == "bce":
        return torch.addcmul(ntw, torch.sigmoid(z), wv)
    if loss == "lsgan":
        return torch.addcmul(ntw, z, wv)
    if loss == "hinge":
        return wsgn * (z * sgn > -1.0)
    return wsgn.expand_as(z)


def grads_d(d: torch.Tensor, coef: Coef, v: torch.Tensor, gz_of) -> torch.Tensor:
    """Gradient (R, 7) of ``sum_i L_i(z(v_i))`` given ``gz_of(z) = dL/dz`` per sample.

    Without autograd (the training hot path) the (R, 2, N) temporaries are reused in place:
    a third less memory traffic, the same operations in the same order, so the same bits
    (tests compare the two paths)."""
    in_place = not torch.is_grad_enabled()
    if not in_place:
        s, z = d_forward(coef, v)
        gz = gz_of(z)  # (R, N)
        gs = gz.unsqueeze(1) * s  # (R, 2, N)
        u = torch.addcmul(gs, gs, s, value=-1.0)  # dL/dz * sigmoid' = g s (1 - s)
        suv = (u * v.unsqueeze(1)).sum(-1)
    else:
        A, B, a0, a1, c = coef
        s = A * v.unsqueeze(1)
        s.add_(B)
        s.sigmoid_()
        z = s[:, 0] * a0
        z.add_(c)
        z += s[:, 1] * a1
        gz = gz_of(z)
        gs = gz.unsqueeze(1) * s
        u = torch.addcmul(gs, gs, s, value=-1.0, out=s)  # s is not needed any more
    sg = gz.sum(-1, keepdim=True)  # (R, 1)
    sgs = gs.sum(-1)  # (R, 2)
    su = u.sum(-1)
    if in_place:
        suv = u.mul_(v.unsqueeze(1)).sum(-1)
    w2x4 = d[:, 4:6] * 4.0
    return torch.cat([suv * w2x4, su * w2x4, sgs * 2.0 - sg, sg], dim=1)


def grads_penalty(
    coef: Coef, v: torch.Tensor, omega: torch.Tensor, weight: torch.Tensor, centre: float
) -> torch.Tensor:
    """Gradient (R, 7) of a gradient penalty ``sum_i omega_i P(phi(v_i))``.

    centre 0: ``P = weight/2 * phi^2`` (R1 on real samples, R2 on generated ones);
    centre 1: ``P = weight * (|phi| - 1)^2`` (WGAN-GP at interpolates). weight (R, 1)."""
    A, B, a0, a1, _ = coef
    s = torch.sigmoid(A * v.unsqueeze(1) + B)  # (R, 2, M)
    q = s - s * s  # s (1 - s)
    qp = torch.addcmul(q, q, s, value=-2.0)  # d q / d pre = q (1 - 2 s)
    a = torch.cat([a0, a1], dim=1)  # (R, 2)
    aA = a * A.squeeze(-1)  # (R, 2)
    phi = q[:, 0] * aA[:, 0:1] + q[:, 1] * aA[:, 1:2]  # (R, M)
    if centre == 0.0:
        gphi = phi * weight * omega  # dP/dphi
    else:
        gphi = (phi.abs() - 1.0) * torch.sign(phi) * (weight * 2.0) * omega
    sq = (gphi.unsqueeze(1) * q).sum(-1)  # (R, 2)
    gq = gphi.unsqueeze(1) * qp
    sqp = gq.sum(-1)
    sqpv = (gq * v.unsqueeze(1)).sum(-1)
    dA = torch.addcmul(a * sq, aA, sqpv)  # d phi/dA_j = a_j q_j + a_j A_j q'_j v
    dB = aA * sqp  # d phi/dB_j = a_j A_j q'_j
    da = A.squeeze(-1) * sq  # d phi/da_j = A_j q_j ;  phi does not depend on c
    return torch.cat([dA * 2.0, dB * 2.0, da * 2.0, torch.zeros_like(a0)], dim=1)
