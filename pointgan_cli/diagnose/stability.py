"""``diagnose stability``: is training locally stable where a run is? Wording and files.

The maths is elsewhere: ``field`` builds the expected game's vector field and its Jacobian,
``spectrum`` adapts the quadrature, splits the modes into generator and discriminator parts and
applies the optimizer (Adam's per-coordinate steps from the run's checkpoint, weight decay as
the optimizer applies it). This module picks what to compute for a run, words the verdict and
writes ``diagnose/stability.png`` + ``.json``.

Which verdict: for an SGD run, the gradient-descent disc ``|1 + lr_d lambda| < 1`` of the field
(scaled by the learning-rate and D-step ratios). For an Adam run that disc means nothing (Adam's
step lr/sqrt(v_hat) differs per coordinate by orders of magnitude), so the verdict is the one of
Adam's preconditioned step ``M`` (``spectrum.adam_step_matrix``) with the second moments of the
checkpoint nearest the step; the plain field's spectrum is still reported beside it. The run's
class comes from ``classify.run_class`` (the success-window verdict, judged from the run's
metrics); this command adds evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UsageError
from ..spec import RunSpec
from ..store.rundir import Run
from . import classify, plots, spectrum
from .field import (  # noqa: F401 - re-exported: the maths' public names, for callers and tests
    ABS_TOL,
    CONVERGENT,
    DIVERGENT,
    DT,
    MIX_NODES,
    NEUTRAL,
    NOISE_NODES,
    OSCILLATING,
    PARAM_NAMES,
    REL_TOL,
    VERDICTS,
    X_NODES,
    ExpectedGame,
    dirac_gan_field,
    eigenvalues,
    field_jacobian,
    gauss_hermite,
    gauss_legendre,
    gd_factors,
    pointgan_field,
    time_scale,
    tolerance,
    verdict,
    with_consensus,
)
from .output import load_single_run, write_pair
from .source import optimizer_state_at, state_at
from .spectrum import marginal  # noqa: F401 - re-exported


def analyse(field, theta: torch.Tensor, h: float, scale: np.ndarray | None = None
            ) -> dict[str, Any]:
    """One point of a field at the default quadrature (for fields built by hand, e.g. the
    Dirac-GAN's): see ``spectrum.analyse``."""
    jac, v = field_jacobian(field, theta)
    if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(v))):
        from ..errors import RuntimeFailure

        raise RuntimeFailure("the training field or its Jacobian is not finite at these "
                             "parameters")
    return spectrum.analyse(jac, v, theta, h, scale)


def _describe(point: dict[str, Any]) -> str:
    if point.get("decay"):
        return (f"{point['decay']['words']}; max Re lambda = {point['max_real_part']:.3g} "
                f"(one e-fold over the run: {point['tol']:.2g}); {_g_words(point)}")
    m = point["marginal"]
    v = point["verdict"]
    head = (f"max Re lambda = {point['max_real_part']:.3g} (tol {point['tol']:.2g}, "
            f"spectral scale {point['spectral_scale']:.3g}); {_g_words(point)}")
    if v == OSCILLATING:
        parts = []
        if m["rotating"]:
            parts.append(f"{m['rotating']} rotating")
        if m["neutral"]:
            parts.append(f"{m['neutral']} neutral")
        return f"{v}: {head}; on the imaginary axis: {', '.join(parts)}"
    return f"{v}: {head}"


def _g_words(point: dict[str, Any]) -> str:
    """The generator's own modes and where the least damped mode lives."""
    top = point["modes"][0]
    g = point["g_block"]
    gm = ", ".join(f"{re:+.3g}{im:+.3g}i" if im else f"{re:+.3g}" for re, im in g["eigenvalues"])
    return (f"G block eigenvalues {gm}; the least damped mode (Re {top['eigenvalue'][0]:+.3g}) "
            f"is {100 * top['g_share']:.0f}% generator")


def finding(run_point: dict[str, Any], ideal: dict[str, Any], run_cls: dict[str, Any],
            step: int, assumes: str) -> str:
    """One sentence: the run's class (from its summary, never re-judged here) and what the
    linearisation at ``step`` adds to it, under the optimizer the verdict assumes."""
    v = run_point["verdict"]
    cls = run_cls["class"]
    if run_point.get("decay"):
        text = (f"the run is {cls} ({run_cls['reason']}); at step {step}, {assumes}, the "
                f"linearised training step is {run_point['decay']['words']} ("
                f"{_g_words(run_point)}); at the ideal generator with this D it is "
                f"{ideal['decay']['words']}")
    else:
        text = (f"the run is {cls} ({run_cls['reason']}); at step {step}, {assumes}, the "
                f"linearised training step is {v} (max Re = {run_point['max_real_part']:.3g}, "
                f"tol {run_point['tol']:.2g}; {_g_words(run_point)}); at the ideal generator "
                f"with this D it is {ideal['verdict']}")
    weak = [f"{p['verdict']} at {name}" for name, p in
            (("the run's point", run_point), ("the ideal generator", ideal))
            if p["verdict"] != CONVERGENT]
    if cls == classify.APPROACHING and weak:
        text += (f". Approaching, but the linearisation is {' and '.join(weak)} (not "
                 f"locally convergent): a shrinking distance is not convergence")
    elif cls == classify.CONVERGED and v != CONVERGENT:
        text += (f". Converged over the window, but the linearisation is {v}: some small "
                 f"perturbation changes by less than a factor e over a run length here")
    elif cls != classify.CONVERGED and v == CONVERGENT:
        text += ". Locally convergent here, but the run did not converge within its window"
    return text


def _with_decay(spec: RunSpec, theta: torch.Tensor, v: np.ndarray) -> np.ndarray:
    out = np.array(v, dtype=np.float64)
    if spec.weight_decay > 0:
        out[spectrum.N_G:] -= spec.weight_decay * theta[spectrum.N_G:].numpy()
    return out


def stability(run_dir: Path, step: int | None = None, out: Path | None = None) -> dict[str, Any]:
    """``diagnose stability``: both points analysed, PNG + JSON written, the document. A
    Dirac-GAN run goes to ``dirac_stability.stability_command``."""
    run: Run = load_single_run(run_dir)
    st = state_at(run, step)
    spec = run.spec
    h = spec.lr_d
    scale = time_scale(spec)
    theta_run = torch.cat([st.g, st.d])
    theta_ideal = torch.cat([torch.tensor([0.0, spec.real_value], dtype=DT), st.d])
    thetas = (theta_run, theta_ideal)
    data, quad = spectrum.converged_jacobians(spec, thetas, decay=False)
    field_pts = [spectrum.analyse(spectrum.sgd_decay(spec, j), _with_decay(spec, t, v), t, h,
                                  scale, horizon=spec.steps) for (j, v), t in zip(data, thetas)]
    adam, ost = None, None
    if spec.optimizer == "adam":
        try:
            ost = optimizer_state_at(run, st.step)
        except UsageError:
            ost = None  # no checkpoint: Adam's step cannot be modelled, say so below
    if ost is not None:
        pre = spectrum.adam_preconditioner(spec, ost.v_g, ost.v_d, ost.step)
        pts = [dict(spectrum.analyse_matrix(spectrum.adam_step_matrix(spec, j, pre), 1.0,
                                            horizon=spec.steps, exact_step=False),
                    params=[float(x) for x in t]) for (j, _), t in zip(data, thetas)]
        adam = {"checkpoint": ost.origin, "checkpoint_step": ost.step,
                "preconditioner": pre.tolist(),
                "rule": "one Adam step maps e -> (I + M) e, M = S (P J_data + W), "
                        "P = diag(lr / (sqrt(v_hat) + eps)) frozen at the checkpoint (Adam "
                        "adapts v_hat as it goes); stable iff |1 + mu| < 1",
                "run_point": pts[0], "ideal_point": pts[1]}
        assumes = (f"under Adam with the second moments of {ost.origin} (step {ost.step}; "
                   f"per-step size lr/sqrt(v_hat) {pre.min():.3g}-{pre.max():.3g})")
        judged = pts
    elif spec.optimizer == "adam":
        assumes = (f"with no checkpoint holding Adam's second moments, for the plain field "
                   f"under gradient descent with step lr_d = {h:g} (not Adam's own step)")
        judged = field_pts
    else:
        assumes = f"under gradient descent with step lr_d = {h:g}"
        judged = field_pts
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
        "optimizer": spec.optimizer,
        "verdict_assumes": assumes,
        "disc": None if adam is not None else {
            "centre": -1.0 / h, "radius": 1.0 / h,
            "rule": "gradient descent with step h = lr_d is stable iff |1 + h lambda| < 1"},
        "time_scale": scale.tolist(),
        "tol_rule": "one e-fold over the run's steps: |Re lambda| = 1 / (h steps) (h = lr_d "
                    "for the field, 1 for Adam's per-step M); verdicts from each mode's e-folds "
                    "over the run (diagnose.decay)",
        "quadrature": quad,
        "field_definition": {
            "loss": spec.loss, "g_loss": spec.g_loss, "label_easing": spec.label_easing,
            "fake_weight": spec.fake_weight, "noise_scale": spec.noise_scale,
            "instance_noise": spec.instance_noise, "r1": spec.r1, "r2": spec.r2,
            "gp_weight": spec.gp_weight, "weight_decay": spec.weight_decay,
            "weight_decay_mode": spec.weight_decay_mode, "update": spec.update,
            "consensus": spec.consensus, "lecam": f"{spec.lecam:g} (not modelled)"
            if spec.lecam > 0 else 0.0,
            "quadrature": {"x": f"Gauss-Legendre, {quad['x_nodes']} nodes",
                           "noise": f"trapezoid on +-9 sd, {quad['noise_nodes']} nodes",
                           "gp_mix": f"Gauss-Legendre, {quad['mix_nodes']} nodes"},
            "weight_decay_model": "field term -wd d (gradient descent: L2 = decoupled); under "
                                  "Adam see adam.rule (decoupled: -lr_d wd, L2: -P_D wd)",
            "approximation": "field of the expected losses, simultaneous gradient play",
        },
        "run_point": field_pts[0],
        "ideal_point": dict(field_pts[1], discriminator="the run's D at this step"),
        "adam": adam,
        "run_class": run_cls,
        "distance_trend": trend,
        "finding": finding(judged[0], judged[1], run_cls, st.step, assumes),
    }
    doc["files"] = write_pair(out, "stability", doc, plots.stability_png(doc), Path(run_dir))
    return doc


def describe_points(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, words) for each analysed point, for the text output."""
    out = [("quadrature", _quad_words(doc["quadrature"])),
           ("verdict assumes", doc["verdict_assumes"])]
    if doc["adam"] is not None:
        out += [("run (Adam step)", _describe(doc["adam"]["run_point"])),
                ("ideal G (Adam step)", _describe(doc["adam"]["ideal_point"]))]
    out += [("run (field)", _describe(doc["run_point"])),
            ("ideal G (field)", _describe(doc["ideal_point"]))]
    return out


def _quad_words(q: dict[str, Any]) -> str:
    change = q["rounds"][-1]["max_relative_change"]
    state = "converged" if q["converged"] else "NOT converged"
    return (f"{q['x_nodes']} x nodes, {q['noise_nodes']} noise nodes, {q['mix_nodes']} "
            f"interpolation nodes; {state} (last change {change:.2g})" if change is not None
            else f"{q['x_nodes']} x nodes")


