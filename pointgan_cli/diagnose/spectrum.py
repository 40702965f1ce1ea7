"""Spectra of the training field at a point, as the optimizer actually follows it.

Pure maths on the field of ``field`` (no files, no wording; ``stability`` writes and words):

- ``converged_jacobians``: the expected game's Jacobians with every quadrature rule doubled
  until the eigenvalues change by less than ``QUAD_REL_TOL`` of the spectral scale from one
  rule to the next (noisy runs need hundreds of noise nodes, plain ones few).
- ``analyse``: eigenvalues, the imaginary-axis tolerance, the verdict, and for every mode the
  share of its eigenvector in the generator's two parameters (``g_share``: 1 is a pure
  generator mode, 0 a pure discriminator one), plus the eigenvalues of the G block and of the
  D block alone (each player's own dynamics with the other frozen).
- ``adam_step_matrix``: what one Adam step does to a small perturbation, with the second
  moments of a checkpoint frozen: ``M = S (P J_data + W)`` where ``P = diag(lr / (sqrt(v_hat) +
  eps))`` is Adam's per-coordinate step, ``J_data`` the Jacobian of the field without weight
  decay, ``S`` the D steps per G step, and ``W`` the weight decay as Adam applies it:
  decoupled (AdamW) shrinks D by ``lr_d * wd`` per step whatever ``v_hat`` is; L2 adds
  ``wd * d`` to the gradient, which then goes through the preconditioner, ``-P_D wd``. A step
  maps a perturbation e to ``(I + M) e``: stable iff every eigenvalue mu of M has
  ``|1 + mu| < 1``. Momentum (beta1) is left out: a first-order picture of the preconditioned
  field, not of Adam's full second-order recursion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import RuntimeFailure
from ..spec import RunSpec
from . import decay
from .field import (
    MIX_NODES,
    NOISE_NODES,
    X_NODES,
    eigenvalues,
    field_jacobian,
    gd_factors,
    pointgan_field,
    tolerance,
    verdict,
)

N_G = 2  # the generator's parameters come first: [w, b, d (7)]
QUAD_REL_TOL = 1e-3  # stop doubling nodes when eigenvalues move less than this (relative)
QUAD_MAX_ROUNDS = 5  # at most 4 doublings: 16x the starting node counts


def eig_change(a: np.ndarray, b: np.ndarray) -> float:
    """How far two spectra are apart, relative to the larger spectral scale: the largest
    distance from an eigenvalue of either to the nearest one of the other (symmetric, so a
    reordering of near-ties does not count as change)."""
    if len(a) == 0:
        return 0.0
    d = np.abs(a[:, None] - b[None, :])
    gap = max(float(d.min(1).max()), float(d.min(0).max()))
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    return gap / scale


def _node_counts(spec: RunSpec, k: int) -> tuple[int, int, int]:
    """Round k's rules: the noise and interpolation rules double every round; the x rule
    (Gauss-Legendre on a smooth integrand, exact long before) doubles up to 4x."""
    f = 2**k
    return X_NODES * min(f, 4), NOISE_NODES * f, MIX_NODES * f


def converged_jacobians(spec: RunSpec, thetas: Sequence[torch.Tensor], decay: bool = True
                        ) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """``(J, v)`` at every point of ``thetas``, the quadrature doubled until the eigenvalues of
    every point change by less than ``QUAD_REL_TOL`` (relative) between two rules, at most
    ``QUAD_MAX_ROUNDS`` rules. Also returns the record: nodes used, the change per round, and
    whether it converged."""
    rounds: list[dict[str, Any]] = []
    prev: list[np.ndarray] | None = None
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(QUAD_MAX_ROUNDS):
        x, h, m = _node_counts(spec, k)
        field = pointgan_field(spec, x, h, m, decay=decay)
        out = [field_jacobian(field, t) for t in thetas]
        for jac, v in out:
            if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(v))):
                raise RuntimeFailure("the training field or its Jacobian is not finite at "
                                     "these parameters")
        eigs = [eigenvalues(jac) for jac, _ in out]
        change = None if prev is None else max(eig_change(a, b) for a, b in zip(eigs, prev))
        rounds.append({"x_nodes": x, "noise_nodes": h, "mix_nodes": m,
                       "max_relative_change": change})
        if change is not None and change < QUAD_REL_TOL:
            break
        prev = eigs
    last = rounds[-1]
    return out, {
        "x_nodes": last["x_nodes"],
        "noise_nodes": last["noise_nodes"] if _noisy(spec) else 0,
        "mix_nodes": last["mix_nodes"] if spec.gp_weight > 0 else 0,
        "rounds": rounds,
        "converged": last["max_relative_change"] is not None
        and last["max_relative_change"] < QUAD_REL_TOL,
        "rule": f"double every rule until the eigenvalues move by < {QUAD_REL_TOL:g} of the "
                f"spectral scale (at most {QUAD_MAX_ROUNDS} rules)",
    }


def _noisy(spec: RunSpec) -> bool:
    return spec.noise_scale > 0 or spec.instance_noise > 0


def modes(jac: np.ndarray) -> list[dict[str, Any]]:
    """Every eigenvalue with the share of its eigenvector in the generator's parameters,
    largest real part first."""
    vals, vecs = np.linalg.eig(np.asarray(jac, dtype=np.float64))
    order = np.lexsort((-vals.imag, -vals.real))
    out = []
    for i in order:
        u = vecs[:, i]
        share = float(np.sum(np.abs(u[:N_G]) ** 2) / max(np.sum(np.abs(u) ** 2), 1e-300))
        out.append({"eigenvalue": [float(vals[i].real), float(vals[i].imag)],
                    "g_share": share})
    return out


def _block(jac: np.ndarray, sl: slice) -> dict[str, Any]:
    eigs = eigenvalues(jac[sl, sl])
    return {"eigenvalues": [[float(e.real), float(e.imag)] for e in eigs],
            "max_real_part": float(np.max(eigs.real))}


def analyse_matrix(jac: np.ndarray, h: float, horizon: int | None = None,
                   exact_step: bool = True) -> dict[str, Any]:
    """Spectrum, verdict, modes with their G share, the G and D blocks, and the factors
    ``|1 + h lambda|`` of a step of size h (h = 1 when ``jac`` is already per step).

    With ``horizon`` (a run's steps) the verdict is the absolute one of ``decay.decay_over``
    (e-folds and turns of every mode over the horizon; ``exact_step``: the gradient-descent
    step's exact factor, else Adam's first-order rate), ``tol`` is the band of one e-fold
    over the horizon, and ``decay`` holds the numbers; without it, the verdict relative to
    the spectrum's scale (``field.verdict``), as for hand-built fields in closed form."""
    eigs = eigenvalues(jac)
    tol = tolerance(eigs)
    factors = gd_factors(eigs, h)
    absolute = None if horizon is None else decay.decay_over(eigs, h, horizon, exact_step)
    if absolute is not None:
        tol = absolute["band"]
    return {
        "jacobian": np.asarray(jac).tolist(),
        "eigenvalues": [[float(e.real), float(e.imag)] for e in eigs],
        "max_real_part": float(np.max(eigs.real)),
        "spectral_scale": float(np.max(np.abs(eigs))),
        "tol": tol,
        "verdict": verdict(eigs, tol) if absolute is None else absolute["verdict"],
        "decay": absolute,
        "marginal": marginal(eigs, tol),
        "modes": modes(jac),
        "g_block": _block(jac, slice(0, N_G)),
        "d_block": _block(jac, slice(N_G, None)),
        "gd_factors": [float(f) for f in factors],
        "inside_gd_disc": bool(np.all(factors < 1.0)),
    }


def analyse(jac: np.ndarray, v: np.ndarray, theta: torch.Tensor, h: float,
            scale: np.ndarray | None = None, horizon: int | None = None) -> dict[str, Any]:
    """One point of the continuous field: ``analyse_matrix`` of ``diag(scale) J`` plus the
    parameters and the field itself."""
    if scale is not None:
        jac, v = scale[:, None] * jac, scale * v
    return {"params": [float(t) for t in theta], "field": [float(t) for t in v],
            "field_norm": float(np.linalg.norm(v)), **analyse_matrix(jac, h, horizon)}


def marginal(eigs: np.ndarray, tol: float) -> dict[str, int]:
    """Eigenvalues within tol of the imaginary axis: rotations (imaginary part beyond tol) and
    neutral directions (|lambda| <= tol)."""
    on_axis = np.abs(eigs.real) <= tol
    rot = on_axis & (np.abs(eigs.imag) > tol)
    return {"rotating": int(rot.sum()), "neutral": int((on_axis & ~rot).sum())}


def adam_preconditioner(spec: RunSpec, v_g: torch.Tensor, v_d: torch.Tensor,
                        step: int) -> np.ndarray:
    """``lr / (sqrt(v_hat) + eps)`` per parameter (9,) from a checkpoint's second moments
    ``exp_avg_sq`` after ``step`` training steps (D took ``d_steps`` per step), bias-corrected
    as Adam does."""
    t_g, t_d = max(step, 1), max(step * spec.d_steps, 1)
    vg = v_g.double().numpy() / (1.0 - spec.beta2**t_g)
    vd = v_d.double().numpy() / (1.0 - spec.beta2**t_d)
    return np.concatenate([spec.lr_g / (np.sqrt(vg) + spec.adam_eps),
                           spec.lr_d / (np.sqrt(vd) + spec.adam_eps)])


def adam_step_matrix(spec: RunSpec, jac_data: np.ndarray, precond: np.ndarray) -> np.ndarray:
    """``M = S (P J_data + W)``: one Adam step's action on a perturbation (module docstring),
    weight decay ``W`` as the run's ``weight_decay_mode`` applies it under Adam."""
    m = precond[:, None] * jac_data
    wd = spec.weight_decay
    if wd > 0:
        d = np.arange(N_G, len(precond))
        if spec.weight_decay_mode == "decoupled":
            m[d, d] -= spec.lr_d * wd  # AdamW: shrink, not preconditioned
        else:
            m[d, d] -= precond[d] * wd  # L2: through the preconditioner
    s = np.array([1.0] * N_G + [float(spec.d_steps)] * (len(precond) - N_G))
    return s[:, None] * m  # S: 1 for G, d_steps for D


def sgd_decay(spec: RunSpec, jac_data: np.ndarray) -> np.ndarray:
    """The field's Jacobian with weight decay as plain (momentum-free) gradient descent applies
    it: L2 and decoupled decay are then the same term ``-wd`` on D's diagonal."""
    j = np.array(jac_data, dtype=np.float64)
    if spec.weight_decay > 0:
        d = np.arange(N_G, j.shape[0])
        j[d, d] -= spec.weight_decay
    return j
