"""The training game as a vector field: its losses in expectation, its Jacobian, eigenvalues.

Training is a game: the generator descends its loss, the discriminator descends its own. Its
continuous-time limit is the vector field over all 2 + 7 = 9 parameters

    v(theta) = (-grad_G L_G(theta), -grad_D L_D(theta)),

simultaneous gradient play. Near a point theta, v(theta + e) ~ v(theta) + J e with J the
Jacobian of v; J's eigenvalues say what the flow does to small perturbations: a real part < 0
damps the mode, > 0 amplifies it, = 0 (purely imaginary) rotates it forever. Gradient descent
with step h maps e -> (I + h J) e, which is stable iff every eigenvalue lies in the disc
``|1 + h lambda| < 1`` (radius 1/h centred at -1/h): purely imaginary eigenvalues lie outside it.

What the field is, exactly (``pointgan_field``): the losses of the *expected* game, not of any
batch. Expectations over ``x ~ U[-1, 1]`` are Gauss-Legendre sums, those over Gaussian noise
trapezoid sums (``gaussian_rule``; node counts are parameters, ``spectrum.converged_jacobians``
doubles them until the eigenvalues stop changing), so v is deterministic and smooth and J comes
from autograd in float64
(``torch.autograd.functional.jacobian`` of a field built with ``create_graph=True``). The terms
follow the engine (see ``grads``): the G loss at ``w x + b`` plus instance noise; the D loss's
fake term averages over fakes made with noisy generator parameters ``(w + e_0) x + (b + e_1)``,
``e ~ N(0, noise_scale^2)`` (for each x that is ``w x + b`` plus Gaussian noise of variance
``noise_scale^2 (1 + x^2)``, plus the instance noise: one Gaussian sum), the real term
over the real value plus instance noise; R1 on the real samples, R2 on the generated ones,
WGAN-GP at interpolates ``(1 - u) fake + u real``, ``u ~ U[0, 1]``; label easing and the fake
weight as in ``losses``; weight decay on D as ``wd/2 |d|^2`` (``decay=False`` leaves it out, so
``spectrum`` can add it the way the optimizer applies it: under plain gradient descent L2 and
decoupled decay are the same term ``-wd d``, under Adam they are not).

Learning rates and D steps scale the blocks of the field a training step follows: with
``h = lr_d`` one step moves G by ``h (lr_g / lr_d) v_G`` and D by ``h d_steps v_D`` (to first
order), so the Jacobian whose eigenvalues are reported is ``diag(Lambda) J`` with
``Lambda = (lr_g/lr_d, lr_g/lr_d, d_steps, ..., d_steps)``; it is J itself for every preset.

The same functions (``field_jacobian``, ``eigenvalues``, ``verdict``) serve the real runs
and the Dirac-GAN of Mescheder et al. 2018 (``dirac_gan_field``), whose eigenvalues are known in
closed form; the tests hold them to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from ..engine import losses
from ..engine.models import d_logits_packed
from ..games.point import D_NAMES, G_NAMES
from ..spec import RunSpec
from .shapes import dlogit_dv

DT = torch.float64
X_NODES = 64  # Gauss-Legendre nodes for x ~ U[-1, 1]
NOISE_NODES = 64  # trapezoid nodes on [-NOISE_SPAN, NOISE_SPAN] for each Gaussian noise term
NOISE_SPAN = 9.0  # standard deviations: the Gaussian tail beyond weighs exp(-40.5)
MIX_NODES = 16  # Gauss-Legendre nodes for the WGAN-GP interpolation weight u ~ U[0, 1]
REL_TOL = 1e-3  # |Re lambda| <= REL_TOL * max|lambda| counts as "on the imaginary axis"
ABS_TOL = 1e-9  # floor of the tolerance for a spectrum that is (almost) all zero

CONVERGENT = "locally_convergent"
OSCILLATING = "oscillating"
DIVERGENT = "divergent"
NEUTRAL = "neutral"  # absolute verdicts only (``decay``): within one e-fold, not turning
VERDICTS = (CONVERGENT, OSCILLATING, DIVERGENT, NEUTRAL)
PARAM_NAMES = tuple(G_NAMES) + tuple(f"d_{n}" for n in D_NAMES)

Field = Callable[[torch.Tensor], torch.Tensor]
Loss = Callable[[torch.Tensor], torch.Tensor]


# -- the generic part: a game's field, its Jacobian, eigenvalues, verdict ----------------------


def game_field(loss_g: Loss, loss_d: Loss, n_g: int) -> Field:
    """The field ``v(theta) = (-grad_G L_G, -grad_D L_D)`` of a game whose first ``n_g``
    parameters belong to the player minimising ``loss_g`` and the rest to the one minimising
    ``loss_d`` (both functions of the whole parameter vector). The field keeps its graph, so it
    can be differentiated again (``field_jacobian``)."""

    def field(theta: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            t = theta if theta.requires_grad else theta.detach().requires_grad_(True)
            (gg,) = torch.autograd.grad(loss_g(t), t, create_graph=True)
            (gd,) = torch.autograd.grad(loss_d(t), t, create_graph=True)
            return -torch.cat([gg[:n_g], gd[n_g:]])

    return field


def field_jacobian(field: Field, theta: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(J, v): the Jacobian ``dv_i / dtheta_j`` of ``field`` at ``theta`` (float64) and the field
    itself there."""
    theta = theta.detach().to(DT)
    jac = torch.autograd.functional.jacobian(field, theta)
    return jac.detach().numpy(), field(theta).detach().numpy()


def eigenvalues(jac: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``jac``, largest real part first (ties: larger imaginary part first)."""
    ev = np.linalg.eigvals(np.asarray(jac, dtype=np.float64)).astype(np.complex128)
    return ev[np.lexsort((-ev.imag, -ev.real))]


def tolerance(eigs: np.ndarray, rel: float = REL_TOL) -> float:
    """How close to the imaginary axis counts as on it: ``rel`` times the spectrum's scale
    ``max |lambda|`` (at least ``ABS_TOL``). A mode whose real part is a fraction r of its
    modulus changes its amplitude by ``exp(2 pi r)`` per turn; with r = 1e-3 that is 0.6 %,
    indistinguishable from a closed orbit over the few turns a run makes."""
    scale = float(np.max(np.abs(eigs))) if len(eigs) else 0.0
    return max(rel * scale, ABS_TOL)


def verdict(eigs: np.ndarray, tol: float) -> str:
    """``divergent`` if some real part > tol; else ``locally_convergent`` if every real part
    < -tol; else ``oscillating`` (eigenvalues on the imaginary axis within tol)."""
    re = np.real(eigs)
    if np.any(re > tol):
        return DIVERGENT
    if np.all(re < -tol):
        return CONVERGENT
    return OSCILLATING


def gd_factors(eigs: np.ndarray, h: float) -> np.ndarray:
    """``|1 + h lambda|``: the factor gradient descent with step h multiplies each mode by per
    step; < 1 means inside the stability disc."""
    return np.abs(1.0 + h * np.asarray(eigs))


def dirac_gan_field(f: Callable[[torch.Tensor], torch.Tensor], gamma: float = 0.0) -> Field:
    """The Dirac-GAN (Mescheder et al. 2018): generator theta outputs the constant theta,
    linear discriminator ``D(x) = psi x`` (a logit), real data at 0, objective
    ``L(theta, psi) = f(psi theta) + f(0)`` (the generator minimises it, the discriminator
    maximises it) with a zero-centred gradient penalty ``gamma/2 psi^2`` on D (R1: D's input
    gradient is psi everywhere). Parameters ``(theta, psi)``. At (0, 0) the field's eigenvalues
    are ``+-f'(0) i`` for gamma = 0 and ``-gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)`` otherwise."""

    def objective(t: torch.Tensor) -> torch.Tensor:
        return f(t[1] * t[0]) + f(torch.zeros((), dtype=t.dtype))

    def loss_d(t: torch.Tensor) -> torch.Tensor:
        return -objective(t) + 0.5 * gamma * t[1] ** 2

    return game_field(objective, loss_d, n_g=1)


# -- the expected PointGAN game ---------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``leggauss(n)``, computed once per n: it solves an eigenproblem every call, and
    ``diagnose stability`` asked for the same rule 24 times (about 1.5 s)."""
    x, w = leggauss(n)
    x.flags.writeable = w.flags.writeable = False
    return x, w


def gauss_legendre(n: int, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and probability weights (summing to 1) of an n-point Gauss-Legendre rule for the
    uniform distribution on [lo, hi]."""
    x, w = _leggauss(n)
    nodes = lo + (x + 1.0) * (hi - lo) / 2.0
    return torch.tensor(nodes, dtype=DT), torch.tensor(w / w.sum(), dtype=DT)


def gauss_hermite(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and probability weights of an n-point Gauss-Hermite rule for N(0, 1)."""
    x, w = hermegauss(n)
    return torch.tensor(x, dtype=DT), torch.tensor(w / w.sum(), dtype=DT)


def gaussian_rule(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and probability weights of an n-point trapezoid rule for N(0, 1) on
    [-NOISE_SPAN, NOISE_SPAN]. Why not Gauss-Hermite: the noisy runs' D is steep on the scale of
    the noise (a tanh of slope ~3 under noise of std >= 1.5), and Gauss-Hermite's nodes stay
    too sparse near the centre: with 32 to 256 nodes a Jacobian entry still moved by 0.1-0.7,
    while the trapezoid rule (spectrally accurate for smooth integrands with Gaussian decay)
    agreed to 1e-9 from 512 nodes on."""
    x = np.linspace(-NOISE_SPAN, NOISE_SPAN, n)
    w = np.exp(-0.5 * x * x)
    return torch.tensor(x, dtype=DT), torch.tensor(w / w.sum(), dtype=DT)


def _per_sample(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Apply a loss from ``losses`` (a mean over the last axis) to every sample on its own."""
    return fn(z.unsqueeze(-1))


@dataclass(frozen=True)
class ExpectedGame:
    """The run's losses in expectation, as functions of the packed 9 parameters ``[w, b, d]``."""

    spec: RunSpec
    x_nodes: int = X_NODES
    noise_nodes: int = NOISE_NODES
    mix_nodes: int = MIX_NODES
    decay: bool = True  # include weight decay as the loss term wd/2 |d|^2

    def _noise(self, std_zero: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if std_zero:
            return torch.zeros(1, dtype=DT), torch.ones(1, dtype=DT)
        return gaussian_rule(self.noise_nodes)

    def loss_g(self, theta: torch.Tensor) -> torch.Tensor:
        """``E_x E_n g_loss(z(w x + b + instance_noise n))``."""
        s = self.spec
        w, b, d = theta[0], theta[1], theta[2:]
        x, px = gauss_legendre(self.x_nodes, -1.0, 1.0)
        n, pn = self._noise(s.instance_noise == 0)
        y = (w * x + b).unsqueeze(-1) + s.instance_noise * n  # (X, H)
        z = d_logits_packed(d, y.reshape(-1)).reshape(y.shape)
        per = _per_sample(lambda t: losses.g_loss(t, s.loss, s.g_loss), z)
        return (px.unsqueeze(-1) * pn * per).sum()

    def _fakes(self, w, b) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated samples the D step sees and their probability weights: (X, H), (X, H)."""
        s = self.spec
        x, px = gauss_legendre(self.x_nodes, -1.0, 1.0)
        std = torch.sqrt(s.noise_scale**2 * (1.0 + x * x) + s.instance_noise**2).unsqueeze(-1)
        n, pn = self._noise(s.noise_scale == 0 and s.instance_noise == 0)
        return (w * x + b).unsqueeze(-1) + std * n, px.unsqueeze(-1) * pn

    def loss_d(self, theta: torch.Tensor) -> torch.Tensor:
        """The D loss with its penalties and weight decay (see the module docstring)."""
        s = self.spec
        w, b, d = theta[0], theta[1], theta[2:]
        fake, pf = self._fakes(w, b)
        n, pn = self._noise(s.instance_noise == 0)
        real = s.real_value + s.instance_noise * n  # (H,)
        zf = d_logits_packed(d, fake.reshape(-1)).reshape(fake.shape)
        zr = d_logits_packed(d, real)
        lf = _per_sample(lambda t: losses.d_loss_parts(t, t, s.loss, s.label_easing)[0], zf)
        lr = _per_sample(lambda t: losses.d_loss_parts(t, t, s.loss, s.label_easing)[1], zr)
        fw = s.fake_weight
        total = (fw * (pf * lf).sum() + (pn * lr).sum()) / (1.0 + fw)
        if s.r1 > 0:
            phi = dlogit_dv(d, real)
            total = total + (pn * _per_sample(
                lambda t: losses.zero_centred_penalty(t, losses.penalty_weight(s.r1, fw)),
                phi)).sum()
        if s.r2 > 0:
            phi = dlogit_dv(d, fake.reshape(-1)).reshape(fake.shape)
            total = total + (pf * _per_sample(
                lambda t: losses.zero_centred_penalty(t, losses.penalty_weight(s.r2, fw)),
                phi)).sum()
        if s.gp_weight > 0:
            total = total + self._gradient_penalty(w, b, d)
        if s.weight_decay > 0 and self.decay:
            total = total + 0.5 * s.weight_decay * (d * d).sum()
        return total

    def _gradient_penalty(self, w, b, d) -> torch.Tensor:
        """WGAN-GP at ``(1 - u) fake + u real`` with independent noise on both ends: for given
        x and u a Gaussian around ``(1 - u)(w x + b) + u real``."""
        s = self.spec
        x, px = gauss_legendre(self.x_nodes, -1.0, 1.0)
        u, pu = gauss_legendre(self.mix_nodes, 0.0, 1.0)
        sf = torch.sqrt(s.noise_scale**2 * (1.0 + x * x) + s.instance_noise**2)  # (X,)
        n, pn = self._noise(s.noise_scale == 0 and s.instance_noise == 0)
        mean = (1.0 - u) * (w * x + b).unsqueeze(-1) + u * s.real_value  # (X, U)
        std = torch.sqrt(((1.0 - u) * sf.unsqueeze(-1)) ** 2 + (u * s.instance_noise) ** 2)
        v = mean.unsqueeze(-1) + std.unsqueeze(-1) * n  # (X, U, H)
        p = px[:, None, None] * pu[None, :, None] * pn
        phi = dlogit_dv(d, v.reshape(-1)).reshape(v.shape)
        lam = losses.penalty_weight(s.gp_weight, s.fake_weight)
        return (p * _per_sample(lambda t: losses.one_centred_penalty(t, lam), phi)).sum()


def pointgan_field(spec: RunSpec, x_nodes: int = X_NODES, noise_nodes: int = NOISE_NODES,
                   mix_nodes: int = MIX_NODES, decay: bool = True) -> Field:
    """The expected game's field ``(-grad_G L_G, -grad_D L_D)`` over ``[w, b, d (7)]``, with
    the given quadrature node counts; ``decay=False`` leaves weight decay out. With the
    consensus term when the spec has one (``--lecam`` is not modelled: its anchors are
    training history, not a function of the point)."""
    game = ExpectedGame(spec, x_nodes, noise_nodes, mix_nodes, decay)
    field = game_field(game.loss_g, game.loss_d, n_g=2)
    return with_consensus(field, spec.consensus) if spec.consensus > 0 else field


def with_consensus(field: Field, gamma: float) -> Field:
    """Consensus optimisation's field ``v - gamma J^T v`` (``J^T v`` is the gradient of
    ``1/2 |v|^2``), differentiable again like ``field``."""

    def consensus(theta: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            t = theta if theta.requires_grad else theta.detach().requires_grad_(True)
            v = field(t)
            (jtv,) = torch.autograd.grad(0.5 * (v * v).sum(), t, create_graph=True)
            return v - gamma * jtv

    return consensus


def time_scale(spec: RunSpec) -> np.ndarray:
    """Lambda: how far one training step moves each block, in units of ``lr_d`` times the
    field (G: lr_g / lr_d; D: d_steps). (9,)"""
    return np.array([spec.lr_g / spec.lr_d] * 2 + [float(spec.d_steps)] * 7)
