"""The two loss landscapes: which discriminators the D loss prefers, and where the G loss
pushes the generator.

Why hand-built candidates get the trained D's own weight sizes: any D separates a point from an
interval once its weights grow without bound, so comparing shapes only means something at an
equal weight budget. Which budget is a convention, so both are shown: equal mean |weight| per
layer (``candidates``) and equal L2 norm of all weights and biases but the output bias
(``candidates_equal_l2``); a finding that holds under one and not the other says so. A bell
spends half of its budget on its right-hand edge, beyond the real value, where no sample ever
lies, so the D loss pays it nothing for being the shape a human would call right. Beside each
D's own loss: what it does to the generator, the G loss and its push on b (``-dL_G/db``),
because a D the D loss ranks low can still pull the generator to the target. The output bias
c2 of every hand-built candidate is fitted to its best value, which only favours them.

The 2D view follows Li et al. 2018 ("Visualizing the Loss Landscape of Neural Nets"): two random
directions, each rescaled filter by filter (here: per neuron, its incoming weights and bias) to
the norm of the trained D's filter, so the picture does not depend on the weights' scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..engine import losses
from ..engine.grads import g_dz
from ..engine.models import d_logits_packed, d_prob_packed
from ..spec import RunSpec
from . import shapes
from .shapes import DT

BELL_HALF_WIDTHS = (0.1, 0.25, 0.5, 1.0)
FILTERS = ((0, 2), (1, 3), (4, 5, 6))  # hidden unit 0, hidden unit 1, output unit
SURFACE_SEED = 0
SURFACE_SPAN = 1.0  # alpha, beta in [-span, span]
SURFACE_POINTS = 41
G_GRID_POINTS = 61
G_ARROWS = 17


@dataclass
class Candidate:
    """One discriminator function and its expected loss against the generator."""

    name: str
    kind: str  # trained | step | bell | flat
    d: torch.Tensor  # (7,)
    loss: float
    half_width: float | None = None

    def to_json(self, g: torch.Tensor, real: float) -> dict:
        y = shapes.generated(g)
        return {
            "name": self.name,
            "kind": self.kind,
            "half_width": self.half_width,
            "params": [float(v) for v in self.d],
            "loss": self.loss,
            "d_at_real": float(d_prob_packed(self.d, torch.tensor([real], dtype=DT))[0]),
            "d_on_generated_mean": float(d_prob_packed(self.d, y).mean()),
            "saturation_fraction": shapes.saturation_fraction(self.d, g),
        }


def step_threshold(g: torch.Tensor, real: float) -> tuple[float, bool]:
    """Where a separating step goes: midway between the generated interval and the real value,
    rising toward it. When the interval covers the real value, nothing separates: the step
    sits on the real value."""
    w, b = float(g[0]), float(g[1])
    lo, hi = b - abs(w), b + abs(w)
    if real > hi:
        return (hi + real) / 2, True
    if real < lo:
        return (lo + real) / 2, False
    return real, True


def candidates(trained: torch.Tensor, g: torch.Tensor, spec: RunSpec) -> list[Candidate]:
    """The trained D, a separating step, bells centred on the real value and a flat D."""
    k, h = shapes.weight_scale(trained)
    t, rising = step_threshold(g, spec.real_value)
    built = [shapes.step(k, h, t, rising)]
    built += [shapes.bell(k, h, spec.real_value, a) for a in BELL_HALF_WIDTHS]
    built.append(shapes.flat())
    fitted = shapes.fit_c2(torch.stack(built), g, spec)  # (C, 7)
    values = shapes.d_loss(torch.cat([trained.unsqueeze(0), fitted]), g, spec).tolist()
    r = _num(spec.real_value)
    out = [Candidate("trained D", "trained", trained.clone(), values[0])]
    out.append(Candidate(f"step at {t:.3g}", "step", fitted[0], values[1]))
    for i, a in enumerate(BELL_HALF_WIDTHS):
        out.append(Candidate(f"bell {r} ± {a:g}", "bell", fitted[1 + i], values[2 + i], a))
    out.append(Candidate("flat D", "flat", fitted[-1], values[-1]))
    return out


def candidates_equal_l2(trained: torch.Tensor, g: torch.Tensor, spec: RunSpec
                        ) -> list[Candidate]:
    """The step and the bells with all weights and biases but c2 scaled to the trained D's L2
    norm (a bell's centre and width do not change under that scaling), c2 refitted."""
    k, h = shapes.weight_scale(trained)
    t, rising = step_threshold(g, spec.real_value)
    built = [shapes.step(k, h, t, rising)]
    built += [shapes.bell(k, h, spec.real_value, a) for a in BELL_HALF_WIDTHS]
    target = float(trained[:6].norm())
    scaled = torch.stack([torch.cat([d[:6] * (target / float(d[:6].norm())), d[6:]])
                          if float(d[:6].norm()) > 0 else d for d in built])
    fitted = shapes.fit_c2(scaled, g, spec)
    values = shapes.d_loss(fitted, g, spec).tolist()
    r = _num(spec.real_value)
    out = [Candidate(f"step at {t:.3g} (equal L2)", "step", fitted[0], values[0])]
    for i, a in enumerate(BELL_HALF_WIDTHS):
        out.append(Candidate(f"bell {r} ± {a:g} (equal L2)", "bell", fitted[1 + i],
                             values[1 + i], a))
    return out


def g_terms(d: torch.Tensor, g: torch.Tensor, spec: RunSpec) -> dict:
    """What D does to the generator: the G loss at ``g`` and its push on b, ``-dL_G/db``
    (positive: b is pushed up), and whether that push points toward the real value."""
    loss, _, db = g_loss_and_grad(d, g[0:1], g[1:2], spec)
    push = -float(db[0])
    toward = (spec.real_value - float(g[1])) * push > 0
    return {"g_loss": float(loss[0]), "g_push_b": push, "g_push_toward_real": toward}


def _num(v: float) -> str:
    return f"{v:g}"


def finding(cands: list[Candidate], real: float, cands_l2: list[Candidate] | None = None,
            g_effects: dict[str, dict] | None = None) -> dict:
    """Compare the best bell with the trained D under each weight budget, and say what each
    does to the generator; the sentence is built from those numbers only."""
    trained = next(c for c in cands if c.kind == "trained")
    bell = min((c for c in cands if c.kind == "bell"), key=lambda c: c.loss)
    worse = bell.loss > trained.loss
    verdict = "worse" if worse else "better"
    best = min(cands, key=lambda c: c.loss)
    text = (
        f"the bell-shaped D centred on {_num(real)} (half-width {bell.half_width:g}, same mean "
        f"|weight| as the trained D) scores loss {bell.loss:.4g}, {verdict} than the trained "
        f"D's {trained.loss:.4g} (lowest of all: {best.name}, {best.loss:.4g})"
    )
    out = {"bell": bell.name, "bell_loss": bell.loss, "trained_loss": trained.loss,
           "bell_worse": worse, "best": best.name, "best_loss": best.loss}
    if cands_l2:
        bell2 = min((c for c in cands_l2 if c.kind == "bell"), key=lambda c: c.loss)
        worse2 = bell2.loss > trained.loss
        text += (f"; at equal L2 norm the best bell (± {bell2.half_width:g}) scores "
                 f"{bell2.loss:.4g}, {'worse' if worse2 else 'better'} than the trained D")
        out.update(bell_l2=bell2.name, bell_l2_loss=bell2.loss, bell_l2_worse=worse2)
        if worse and worse2:
            text += ": the D loss prefers the trained D over a bell under both weight budgets"
        elif worse != worse2:
            text += (": whether the D loss prefers the trained D over a bell depends on how "
                     "the weight budget is counted")
        else:
            text += ": under both weight budgets the D loss prefers the bell"
    if g_effects:
        t, b = g_effects.get(trained.name), g_effects.get(bell.name)
        if t is not None and b is not None:
            def push(e: dict) -> str:
                way = "toward" if e["g_push_toward_real"] else "away from"
                return f"{abs(e['g_push_b']):.3g} {way} the real value"

            text += (f". For the generator, -dL_G/db is {push(t)} under the trained D and "
                     f"{push(b)} under that bell")
            out.update(g_push_trained=t["g_push_b"], g_push_bell=b["g_push_b"])
    return {"text": text, **out}


def filter_normalised_direction(d: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A Gaussian direction rescaled per filter to the norm of ``d``'s filter. (7,) -> (7,)"""
    r = torch.randn(7, generator=gen, dtype=DT)
    for idx in FILTERS:
        i = list(idx)
        norm = float(r[i].norm())
        r[i] = r[i] * (float(d[i].norm()) / norm if norm > 0 else 0.0)
    return r


def loss_surface(
    d: torch.Tensor,
    g: torch.Tensor,
    spec: RunSpec,
    seed: int = SURFACE_SEED,
    span: float = SURFACE_SPAN,
    n: int = SURFACE_POINTS,
) -> dict:
    """D loss on the plane ``d + alpha * u + beta * v`` (u, v filter-normalised, seeded)."""
    gen = torch.Generator().manual_seed(seed)
    u = filter_normalised_direction(d, gen)
    v = filter_normalised_direction(d, gen)
    a = torch.linspace(-span, span, n, dtype=DT)
    plane = d + a.view(n, 1, 1) * u + a.view(1, n, 1) * v  # (n_alpha, n_beta, 7)
    surface = shapes.d_loss(plane, g, spec)  # (n_alpha, n_beta)
    return {
        "seed": seed,
        "directions": [[float(x) for x in u], [float(x) for x in v]],
        "alpha": a.tolist(),
        "beta": a.tolist(),
        "loss": surface.tolist(),  # loss[i][j] at (alpha[i], beta[j])
        "loss_at_trained": float(shapes.d_loss(d, g, spec)),
        "min_loss": float(surface.min()),
    }


# -- the generator's side --------------------------------------------------------------------


def g_loss_and_grad(d: torch.Tensor, w: torch.Tensor, b: torch.Tensor, spec: RunSpec):
    """Expected G loss ``E_x l(z(w x + b))`` and its gradient, for D ``d`` (7,) at generators
    (w, b) of any equal shapes S. -> (loss, dL/dw, dL/db), each of shape S."""
    x = shapes.x_grid()
    y = w.unsqueeze(-1) * x + b.unsqueeze(-1)  # (*S, n)
    z = d_logits_packed(d, y)
    value = losses.g_loss(z, spec.loss, spec.g_loss)  # the run's own G loss, (*S,)
    dz = g_dz(z, torch.ones((), dtype=z.dtype), spec.loss, spec.g_loss)  # dL/dz per sample
    dy = dz * shapes.dlogit_dv(d, y)  # dL/dy per sample
    return value, (dy * x).mean(-1), dy.mean(-1)


def _bounds(vals: list[float]) -> tuple[float, float]:
    lo, hi = min(vals), max(vals)
    pad = 0.15 * (hi - lo) + 0.25
    return lo - pad, hi + pad


def generator_surface(
    d: torch.Tensor, traj: torch.Tensor, now: torch.Tensor, spec: RunSpec
) -> dict:
    """G loss over a (w, b) grid covering the trajectory (T, 2), the current point and the
    target (0, real), plus the gradient field on a coarser grid."""
    real = spec.real_value
    ws = [float(v) for v in traj[:, 0]] + [float(now[0]), 0.0]
    bs = [float(v) for v in traj[:, 1]] + [float(now[1]), real]
    (w0, w1), (b0, b1) = _bounds(ws), _bounds(bs)
    wg = torch.linspace(w0, w1, G_GRID_POINTS, dtype=DT)
    bg = torch.linspace(b0, b1, G_GRID_POINTS, dtype=DT)
    grid_w = wg.view(1, -1).expand(len(bg), -1)  # (n_b, n_w)
    grid_b = bg.view(-1, 1).expand(-1, len(wg))
    L, _, _ = g_loss_and_grad(d, grid_w, grid_b, spec)
    wa = torch.linspace(w0, w1, G_ARROWS, dtype=DT)
    ba = torch.linspace(b0, b1, G_ARROWS, dtype=DT)
    W, B = wa.view(1, -1).expand(len(ba), -1), ba.view(-1, 1).expand(-1, len(wa))
    _, gw, gb = g_loss_and_grad(d, W, B, spec)
    l_now, gw_now, gb_now = (float(t) for t in g_loss_and_grad(d, now[0:1], now[1:2], spec))
    l_target = float(g_loss_and_grad(d, torch.zeros(1, dtype=DT),
                                     torch.tensor([real], dtype=DT), spec)[0])
    to_target = (0.0 - float(now[0]), real - float(now[1]))
    gnorm = math.hypot(gw_now, gb_now)
    dist = math.hypot(*to_target)
    cos = (-(gw_now * to_target[0] + gb_now * to_target[1]) / (gnorm * dist)
           if gnorm > 0 and dist > 0 else 0.0)
    return {
        "g_loss": spec.g_loss if spec.loss == "bce" else spec.loss,
        "w": wg.tolist(),
        "b": bg.tolist(),
        "loss": L.tolist(),  # loss[i][j] at (w[j], b[i])
        "arrows": {"w": wa.tolist(), "b": ba.tolist(), "dL_dw": gw.tolist(), "dL_db": gb.tolist()},
        "trajectory": traj.tolist(),
        "now": {"w": float(now[0]), "b": float(now[1]), "loss": l_now,
                "dL_dw": gw_now, "dL_db": gb_now, "grad_norm": gnorm},
        "target": {"w": 0.0, "b": real, "loss": l_target},
        "descent_cos_to_target": cos,
    }


def generator_finding(surf: dict, step: int) -> str:
    now, tgt = surf["now"], surf["target"]
    cos = surf["descent_cos_to_target"]
    if now["grad_norm"] < shapes.SATURATION_GRAD:
        where = "the generator gets (almost) no gradient"
    elif cos > 0.5:
        where = "gradient descent points toward the target"
    elif cos < -0.5:
        where = "gradient descent points away from the target"
    else:
        where = "gradient descent points sideways to the target"
    return (
        f"at step {step} the generator (w={now['w']:.3g}, b={now['b']:.3g}) has G loss "
        f"{now['loss']:.4g} and gradient size {now['grad_norm']:.3g}; {where} (cos {cos:.2f}); "
        f"the target (0, {_num(tgt['b'])}) scores {tgt['loss']:.4g} under this discriminator"
    )
