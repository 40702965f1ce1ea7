"""Local stability of training: the Jacobian of the training vector field and its eigenvalues.

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
Gauss-Hermite sums, so v is deterministic and smooth and J comes from autograd in float64
(``torch.autograd.functional.jacobian`` of a field built with ``create_graph=True``). The terms
follow the engine (see ``grads``): the G loss at ``w x + b`` plus instance noise; the D loss's
fake term averages over fakes made with noisy generator parameters ``(w + e_0) x + (b + e_1)``,
``e ~ N(0, noise_scale^2)`` (for each x that is ``w x + b`` plus Gaussian noise of variance
``noise_scale^2 (1 + x^2)``, plus the instance noise: one Gauss-Hermite sum), the real term
over the real value plus instance noise; R1 on the real samples, R2 on the generated ones,
WGAN-GP at interpolates ``(1 - u) fake + u real``, ``u ~ U[0, 1]``; label easing and the fake
weight as in ``losses``; weight decay on D as ``wd/2 |d|^2`` (decoupled decay contributes the
same field term, ``-wd d``).

Learning rates and D steps scale the blocks of the field a training step follows: with
``h = lr_d`` one step moves G by ``h (lr_g / lr_d) v_G`` and D by ``h d_steps v_D`` (to first
order), so the Jacobian whose eigenvalues are reported is ``diag(Lambda) J`` with
``Lambda = (lr_g/lr_d, lr_g/lr_d, d_steps, ..., d_steps)``; it is J itself for every preset.

The same three functions (``field_jacobian``, ``eigenvalues``, ``verdict``) serve the real runs
and the Dirac-GAN of Mescheder et al. 2018 (``dirac_gan_field``), whose eigenvalues are known in
closed form; the tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from .. import losses, rundir
from ..errors import RuntimeFailure
from ..models import D_NAMES, G_NAMES, d_logits_packed
from ..rundir import Run
from ..spec import RunSpec
from . import classify, plots
from .output import load_single_run, write_pair
from .shapes import dlogit_dv
from .source import state_at

DT = torch.float64
X_NODES = 64  # Gauss-Legendre nodes for x ~ U[-1, 1]
NOISE_NODES = 32  # Gauss-Hermite nodes for each Gaussian noise term
MIX_NODES = 16  # Gauss-Legendre nodes for the WGAN-GP interpolation weight u ~ U[0, 1]
REL_TOL = 1e-3  # |Re lambda| <= REL_TOL * max|lambda| counts as "on the imaginary axis"
ABS_TOL = 1e-9  # floor of the tolerance for a spectrum that is (almost) all zero

CONVERGENT = "locally_convergent"
OSCILLATING = "oscillating"
DIVERGENT = "divergent"
VERDICTS = (CONVERGENT, OSCILLATING, DIVERGENT)
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


def gauss_legendre(n: int, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and probability weights (summing to 1) of an n-point Gauss-Legendre rule for the
    uniform distribution on [lo, hi]."""
    x, w = leggauss(n)
    nodes = lo + (x + 1.0) * (hi - lo) / 2.0
    return torch.tensor(nodes, dtype=DT), torch.tensor(w / w.sum(), dtype=DT)


def gauss_hermite(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and probability weights of an n-point Gauss-Hermite rule for N(0, 1)."""
    x, w = hermegauss(n)
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

    def _noise(self, std_zero: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if std_zero:
            return torch.zeros(1, dtype=DT), torch.ones(1, dtype=DT)
        return gauss_hermite(self.noise_nodes)

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
        if s.weight_decay > 0:
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


def pointgan_field(spec: RunSpec) -> Field:
    """The expected game's field ``(-grad_G L_G, -grad_D L_D)`` over ``[w, b, d (7)]``."""
    game = ExpectedGame(spec)
    return game_field(game.loss_g, game.loss_d, n_g=2)


def time_scale(spec: RunSpec) -> np.ndarray:
    """Lambda: how far one training step moves each block, in units of ``lr_d`` times the
    field (G: lr_g / lr_d; D: d_steps). (9,)"""
    return np.array([spec.lr_g / spec.lr_d] * 2 + [float(spec.d_steps)] * 7)


# -- one point: Jacobian, spectrum, verdict ---------------------------------------------------


def analyse(field: Field, theta: torch.Tensor, h: float,
            scale: np.ndarray | None = None) -> dict[str, Any]:
    """Everything about one point: the Jacobian, its eigenvalues, tol and verdict. With
    ``scale`` (Lambda, see ``time_scale``) the field and the Jacobian's rows are scaled by it."""
    jac, v = field_jacobian(field, theta)
    if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(v))):
        raise RuntimeFailure("the training field or its Jacobian is not finite at these "
                             "parameters")
    if scale is not None:
        jac, v = scale[:, None] * jac, scale * v
    eigs = eigenvalues(jac)
    tol = tolerance(eigs)
    factors = gd_factors(eigs, h)
    return {
        "params": [float(t) for t in theta],
        "field": [float(t) for t in v],
        "field_norm": float(np.linalg.norm(v)),
        "jacobian": jac.tolist(),
        "eigenvalues": [[float(e.real), float(e.imag)] for e in eigs],
        "max_real_part": float(np.max(eigs.real)),
        "spectral_scale": float(np.max(np.abs(eigs))),
        "tol": tol,
        "verdict": verdict(eigs, tol),
        "marginal": marginal(eigs, tol),
        "gd_factors": [float(f) for f in factors],
        "inside_gd_disc": bool(np.all(factors < 1.0)),
    }


def marginal(eigs: np.ndarray, tol: float) -> dict[str, int]:
    """Eigenvalues within tol of the imaginary axis: rotations (imaginary part beyond tol) and
    neutral directions (|lambda| <= tol)."""
    on_axis = np.abs(eigs.real) <= tol
    rot = on_axis & (np.abs(eigs.imag) > tol)
    return {"rotating": int(rot.sum()), "neutral": int((on_axis & ~rot).sum())}


def _describe(point: dict[str, Any]) -> str:
    m = point["marginal"]
    v = point["verdict"]
    head = (f"max Re lambda = {point['max_real_part']:.3g} (tol {point['tol']:.2g}, "
            f"spectral scale {point['spectral_scale']:.3g})")
    if v == OSCILLATING:
        parts = []
        if m["rotating"]:
            parts.append(f"{m['rotating']} rotating")
        if m["neutral"]:
            parts.append(f"{m['neutral']} neutral")
        return f"{v}: {head}; on the imaginary axis: {', '.join(parts)}"
    return f"{v}: {head}"


def finding(run_point: dict[str, Any], ideal: dict[str, Any], run_cls: dict[str, Any],
            step: int) -> str:
    """One sentence: the run's class (from its summary, never re-judged here) and what the
    linearisation at ``step`` adds to it."""
    v = run_point["verdict"]
    cls = run_cls["class"]
    text = (f"the run is {cls} ({run_cls['reason']}); at step {step} the linearised training "
            f"field is {v} (max Re lambda = {run_point['max_real_part']:.3g}, tol "
            f"{run_point['tol']:.2g}); at the ideal generator with this D it is "
            f"{ideal['verdict']}")
    weak = [f"{p['verdict']} at {name}" for name, p in
            (("the run's point", run_point), ("the ideal generator", ideal))
            if p["verdict"] != CONVERGENT]
    if cls == classify.APPROACHING and weak:
        text += (f". Approaching, but the linearisation is {' and '.join(weak)} (not "
                 f"locally convergent): a shrinking distance is not convergence")
    elif cls == classify.CONVERGED and v != CONVERGENT:
        text += (f". Converged over the window, but the linearisation is {v}: small "
                 f"perturbations are not damped here")
    elif cls != classify.CONVERGED and v == CONVERGENT:
        text += ". Locally convergent here, but the run did not converge within its window"
    return text


def stability(run_dir: Path, step: int | None = None, out: Path | None = None) -> dict[str, Any]:
    """``diagnose stability``: both points analysed, PNG + JSON written, the document."""
    run: Run = load_single_run(run_dir)
    st = state_at(run, step)
    spec = run.spec
    field = pointgan_field(spec)
    h = spec.lr_d
    scale = time_scale(spec)
    theta_run = torch.cat([st.g, st.d])
    theta_ideal = torch.cat([torch.tensor([0.0, spec.real_value], dtype=DT), st.d])
    at_run = analyse(field, theta_run, h, scale)
    at_ideal = analyse(field, theta_ideal, h, scale)
    rows = [r for r in run.metrics if int(r["step"]) <= st.step]
    trend = classify.distance_trend(rows, spec.real_value, spec.tolerance)
    run_cls = classify.run_class(run)
    doc: dict[str, Any] = {
        "command": "stability",
        "run_dir": str(run_dir),
        "step": st.step,
        "parameters_from": st.origin,
        "parameter_names": list(PARAM_NAMES),
        "lr": h,
        "disc": {"centre": -1.0 / h, "radius": 1.0 / h,
                 "rule": "gradient descent with step h = lr_d is stable iff |1 + h lambda| < 1"},
        "optimizer": spec.optimizer,
        "time_scale": scale.tolist(),
        "tol_rule": f"max({REL_TOL:g} * max|lambda|, {ABS_TOL:g})",
        "field_definition": {
            "loss": spec.loss, "g_loss": spec.g_loss, "label_easing": spec.label_easing,
            "fake_weight": spec.fake_weight, "noise_scale": spec.noise_scale,
            "instance_noise": spec.instance_noise, "r1": spec.r1, "r2": spec.r2,
            "gp_weight": spec.gp_weight, "weight_decay": spec.weight_decay,
            "weight_decay_mode": spec.weight_decay_mode, "update": spec.update,
            "quadrature": {"x": f"Gauss-Legendre, {X_NODES} nodes",
                           "noise": f"Gauss-Hermite, {NOISE_NODES} nodes",
                           "gp_mix": f"Gauss-Legendre, {MIX_NODES} nodes"},
            "approximation": "field of the expected losses, simultaneous gradient play",
        },
        "run_point": at_run,
        "ideal_point": dict(at_ideal, discriminator="the run's D at this step"),
        "run_class": run_cls,
        "distance_trend": trend,
        "finding": finding(at_run, at_ideal, run_cls, st.step),
    }
    target = out if out is not None else rundir.diagnose_dir(Path(run_dir))
    doc["files"] = write_pair(target, "stability", doc, plots.stability_png(doc))
    return doc


def describe_points(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, words) for each analysed point, for the text output."""
    return [("run", _describe(doc["run_point"])), ("ideal G", _describe(doc["ideal_point"]))]

