"""``diagnose stability`` of a Dirac-GAN run: the Jacobian of its training field at the run's
point and at the equilibrium (0, 0), held against the closed form Mescheder et al. (2018) give.

The field is ``dirac.expected_field`` (the gradients the run follows, instance noise in
expectation, consensus included), differentiated by autograd in float64, and judged by the
same ``analyse``/``verdict`` as the pointgan game. Where the spec is one of the paper's cases
(one regulariser at a time, the paper's losses, no label easing or weight decay), the
eigenvalues at the equilibrium are also computed from the paper's formula and compared.
"""

from __future__ import annotations

import cmath
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.dirac import expected_field
from ..games import DIRAC, game_of
from ..store import rundir
from ..store.rundir import Run
from . import classify
from .output import load_single_run, write_pair
from .stability import (
    CONVERGENT,
    eigenvalues,
    field_jacobian,
    gd_factors,
    marginal,
    tolerance,
    verdict,
)
from .stability import stability as pointgan_stability

FP0 = {"bce": 0.5, "wgan": 1.0}  # f'(0): GAN f(t) = -log(1 + e^-t); WGAN f(t) = t
FPP0 = -0.25  # f''(0) of the GAN's f


def closed_form(spec) -> tuple[list[complex], str] | None:
    """The paper's eigenvalues at (0, 0) for ``spec`` and the formula's name, or None where the
    paper gives none (several regularisers at once, WGAN-GP, other losses, easing, decay)."""
    fp = FP0.get(spec.loss)
    if (fp is None or spec.label_easing or spec.fake_weight != 1.0 or spec.weight_decay
            or spec.gp_weight or spec.lecam):
        return None
    regs = [n for n in ("instance_noise", "r1", "r2", "consensus") if getattr(spec, n) > 0]
    if spec.r1 > 0 and spec.r2 > 0:
        regs = ["r1+r2"] + [r for r in regs if r not in ("r1", "r2")]
    if len(regs) > 1:
        return None
    if not regs:
        return [1j * fp, -1j * fp], "+-f'(0) i"
    if regs[0] in ("r1", "r2", "r1+r2"):
        g = spec.r1 + spec.r2
        r = cmath.sqrt(g * g / 4 - fp * fp)
        return [-g / 2 + r, -g / 2 - r], "-gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)"
    if regs[0] == "consensus":
        g = spec.consensus
        return [-g * fp * fp + 1j * fp, -g * fp * fp - 1j * fp], "-gamma f'(0)^2 +- f'(0) i"
    if spec.loss != "bce":
        return None
    s2 = spec.instance_noise**2
    r = cmath.sqrt(FPP0 * FPP0 * s2 * s2 - fp * fp)
    return [FPP0 * s2 + r, FPP0 * s2 - r], "f''(0) sigma^2 +- sqrt(f''(0)^2 sigma^4 - f'(0)^2)"


def stability_command(run_dir: Path, step: int | None = None,
                      out: Path | None = None) -> dict[str, Any]:
    """``diagnose stability`` of any run: a Dirac-GAN run here, a pointgan run by
    ``stability.stability``."""
    run = load_single_run(run_dir, any_game=True)
    if game_of(run.spec) is not DIRAC:
        return pointgan_stability(run_dir, step, out)
    return stability(run, step, out)


def analyse(field, theta: torch.Tensor, h: float) -> dict[str, Any]:
    """One point of the (theta, psi) field: Jacobian, eigenvalues, tol, verdict and the
    factors ``|1 + h lambda|`` of gradient descent with step h (the same rules as the
    pointgan game's ``spectrum``, without its generator/discriminator blocks: one each)."""
    jac, v = field_jacobian(field, theta)
    eigs = eigenvalues(jac)
    tol = tolerance(eigs)
    factors = gd_factors(eigs, h)
    return {"params": [float(t) for t in theta], "field": [float(t) for t in v],
            "field_norm": float(np.linalg.norm(v)), "jacobian": np.asarray(jac).tolist(),
            "eigenvalues": [[float(e.real), float(e.imag)] for e in eigs],
            "max_real_part": float(np.max(eigs.real)),
            "spectral_scale": float(np.max(np.abs(eigs))), "tol": tol,
            "verdict": verdict(eigs, tol), "marginal": marginal(eigs, tol),
            "gd_factors": [float(f) for f in factors],
            "inside_gd_disc": bool(np.all(factors < 1.0))}


NOT_DIFFERENTIABLE = "not_differentiable"


def kink(spec, psi: float) -> dict[str, Any] | None:
    """Where the field has no Jacobian: the WGAN-GP penalty ``gp (|psi| - 1)^2`` (D's input
    gradient is psi) has a kink at ``psi = 0``, where its gradient jumps from ``+2 gp`` to
    ``-2 gp``. Autograd returns one side's derivative there (the penalty's contribution to the
    Jacobian silently drops out), so the eigenvalues at such a point describe a field that is
    not the training's. None where the field is differentiable."""
    if spec.gp_weight > 0 and abs(psi) < 1e-12:
        return {"term": f"WGAN-GP penalty {spec.gp_weight:g} (|psi| - 1)^2", "at": "psi = 0",
                "gradient_jump": 4.0 * spec.gp_weight,
                "words": f"the WGAN-GP penalty {spec.gp_weight:g} (|psi| - 1)^2 is not "
                         f"differentiable at psi = 0 (its gradient jumps by "
                         f"{4.0 * spec.gp_weight:g}): the field has no Jacobian here and the "
                         f"eigenvalues below leave the penalty out"}
    return None


def stability(run: Run, step: int | None = None, out: Path | None = None) -> dict[str, Any]:
    """Both points analysed, PNG + JSON written, the document."""
    spec = run.spec
    row = run.row_at(step)
    point = torch.tensor([float(row["theta"]), float(row["psi"])], dtype=torch.float64)

    def field(p: torch.Tensor) -> torch.Tensor:
        return expected_field(p.view(1, 2), spec)[0]

    at_run = analyse(field, point, spec.lr_d)
    at_eq = analyse(field, torch.zeros(2, dtype=torch.float64), spec.lr_d)
    for at in (at_run, at_eq):
        at["non_differentiable"] = kink(spec, at["params"][1])
        if at["non_differentiable"] is not None:
            at["verdict"] = NOT_DIFFERENTIABLE
    known = closed_form(spec)
    cf = None
    if known is not None:
        want = np.array(known[0])
        got = np.array([complex(re, im) for re, im in at_eq["eigenvalues"]])
        err = max(min(abs(w - g) for g in got) for w in want)
        cf = {"formula": known[1], "eigenvalues": [[w.real, w.imag] for w in want],
              "max_error": float(err), "matches": bool(err < 1e-6)}
    run_cls = classify.run_class(run)
    doc: dict[str, Any] = {
        "command": "stability",
        "game": DIRAC.name,
        "run_dir": str(run.path),
        "step": int(row["step"]),
        "parameters_from": rundir.METRICS,
        "parameter_names": ["theta", "psi"],
        "lr": spec.lr_d,
        "optimizer": spec.optimizer,
        "disc": {"centre": -1.0 / spec.lr_d, "radius": 1.0 / spec.lr_d,
                 "rule": "gradient descent with step h = lr_d is stable iff |1 + h lambda| < 1"
                         + ("" if spec.optimizer == "sgd" else " (the run used Adam: the disc "
                            "is gradient descent's, not Adam's)")},
        "field_definition": {
            "loss": spec.loss, "g_loss": spec.g_loss, "instance_noise": spec.instance_noise,
            "r1": spec.r1, "r2": spec.r2, "gp_weight": spec.gp_weight,
            "consensus": spec.consensus, "lecam": spec.lecam,
            "approximation": "the expected training gradients (instance noise by Gauss-Hermite "
                             "quadrature), simultaneous gradient play",
        },
        "run_point": at_run,
        "ideal_point": dict(at_eq, point="the equilibrium (theta, psi) = (0, 0)"),
        "ideal_label": "equilibrium",
        "ideal_caption": "equilibrium: (theta, psi) = (0, 0), the Dirac-GAN's only one; "
                         "|1+h l| < 1 is inside the gradient-descent disc",
        "closed_form": cf,
        "run_class": run_cls,
        "finding": (f"the run is {run_cls['class']}; at the equilibrium "
                    + (at_eq["non_differentiable"]["words"] if at_eq["non_differentiable"]
                       else f"the training field is {at_eq['verdict']}")
                    + f" (max Re lambda = {at_eq['max_real_part']:.3g})"
                    + ("" if cf is None else
                       f"; the paper's {cf['formula']} "
                       + ("agrees" if cf["matches"] else "DISAGREES")
                       + f" (max error {cf['max_error']:.2g})")
                    + ("" if at_eq["verdict"] in (CONVERGENT, NOT_DIFFERENTIABLE) else
                       ": small perturbations of the equilibrium are not damped")),
    }
    doc["files"] = write_pair(out, "stability", doc, _png(run, doc), run.path)
    return doc


def _png(run: Run, doc: dict[str, Any]) -> bytes:
    """The trajectory up to the analysed step over the field, the eigenvalues in the title."""
    from ..render.phase import grid_figure

    rows = [r for r in run.metrics if int(r["step"]) <= doc["step"]]
    eq = ", ".join(f"{re:+.3g}{im:+.3g}i" for re, im in doc["ideal_point"]["eigenvalues"])
    title = f"step {doc['step']}: {doc['ideal_point']['verdict']} at (0, 0)\nlambda = {eq}"
    fig = grid_figure([{"spec": run.spec, "theta": np.array([r["theta"] for r in rows]),
                        "psi": np.array([r["psi"] for r in rows]), "title": title,
                        "ok": doc["ideal_point"]["verdict"] == CONVERGENT}], 1,
                      f"{run.path.name}: Dirac-GAN stability")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()
