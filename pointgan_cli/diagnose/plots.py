"""PNG figures for the landscapes and the stability spectrum, drawn from their JSON documents.

Figures are built on ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot): nothing can
open a window, and no global figure state leaks between calls. Each function returns PNG bytes;
the caller writes them atomically.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from ..engine.models import d_prob_packed
from . import dshape, shapes

DPI = 110


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _log_levels(z: np.ndarray, n: int = 18) -> np.ndarray:
    lo, hi = float(np.log10(max(z.min(), 1e-12))), float(np.log10(max(z.max(), 1e-12)))
    if hi - lo < 1e-9:
        hi = lo + 1e-3
    return np.linspace(lo, hi, n)


def _shaded(z: np.ndarray, n: int = 18):
    """(values to colour, levels, tick label of a level): a log scale for positive losses (the
    BCE ones span decades), a linear one when a loss can be zero or negative."""
    if z.min() > 0:
        return np.log10(z), _log_levels(z, n), lambda t: f"{10 ** t:.3g}"
    lo, hi = float(z.min()), float(z.max())
    return z, np.linspace(lo, hi if hi > lo else lo + 1e-3, n), lambda t: f"{t:.3g}"


def loss_landscape_png(doc: dict) -> bytes:
    """Left: every candidate D(v) with its loss. Right: the D loss around the trained D."""
    real = doc["loss_definition"]["real_value"]
    lo, hi = doc["generator"]["outputs"]
    fig = Figure(figsize=(14, 7.2))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    v = torch.linspace(real - dshape.WINDOW_BELOW, real + dshape.WINDOW_ABOVE, 801,
                       dtype=shapes.DT)
    ax.axvspan(lo, hi, color="tab:red", alpha=0.12, label=f"generated samples [{lo:.2f}, {hi:.2f}]")
    ax.axvline(real, color="tab:green", lw=1.5, ls=":", label=f"real value {real:g}")
    bells = [c for c in doc["candidates"] if c["kind"] == "bell"]
    cmap = colormaps["viridis"]
    for c in doc["candidates"]:
        p = d_prob_packed(torch.tensor(c["params"], dtype=shapes.DT), v).numpy()
        label = f"{c['name']}: loss {c['loss']:.4g}"
        if c["kind"] == "trained":
            ax.plot(v, p, color="black", lw=3, label=label, zorder=5)
        elif c["kind"] == "step":
            ax.plot(v, p, color="tab:orange", lw=2, ls="--", label=label)
        elif c["kind"] == "bell":
            i = bells.index(c)
            ax.plot(v, p, color=cmap(0.15 + 0.7 * i / max(1, len(bells) - 1)), lw=1.8, label=label)
        else:
            ax.plot(v, p, color="grey", lw=1.5, ls=":", label=label)
    ax.set_xlim(float(v[0]), float(v[-1]))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("sample value v")
    ax.set_ylabel("D(v) = probability 'real'")
    ax.set_title("Candidate discriminators and their D loss (lower = preferred)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9)
    ax.grid(alpha=0.3)

    s = doc["landscape"]
    a, b = np.array(s["alpha"]), np.array(s["beta"])
    z = np.array(s["loss"]).T  # rows: beta, columns: alpha
    levels = _log_levels(z)
    cs = bx.contourf(a, b, np.log10(np.maximum(z, 1e-12)), levels=levels, cmap="magma_r")
    bx.contour(a, b, np.log10(np.maximum(z, 1e-12)), levels=levels[::3], colors="k",
               linewidths=0.4, alpha=0.5)
    bx.plot([0], [0], marker="*", ms=18, color="cyan", mec="black", label="trained D")
    bx.set_xlabel("alpha (filter-normalised direction 1)")
    bx.set_ylabel("beta (filter-normalised direction 2)")
    bx.set_title(f"D loss around the trained D (seed {s['seed']})")
    bx.legend(loc="upper right", fontsize=9)
    cb = fig.colorbar(cs, ax=bx)
    ticks = levels[:: max(1, len(levels) // 6)]
    cb.set_ticks(list(ticks))
    cb.set_ticklabels([f"{10 ** t:.3g}" for t in ticks])
    cb.set_label("D loss")
    g = doc["generator"]
    at = f"step {doc['step']}" if doc.get("step") is not None else "the study's failed generator"
    fig.suptitle(f"Which discriminator does the D loss prefer? G: w = {g['w']:.3g}, "
                 f"b = {g['b']:.3g} ({at})", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _png(fig)


def generator_landscape_png(doc: dict) -> bytes:
    """G loss over (w, b) for one D, the run's trajectory on top, descent directions as arrows."""
    s = doc["surface"]
    w, b, z = np.array(s["w"]), np.array(s["b"]), np.array(s["loss"])
    fig = Figure(figsize=(9, 8.2))
    ax = fig.subplots()
    shade, levels, label = _shaded(z, 20)
    cs = ax.contourf(w, b, shade, levels=levels, cmap="viridis_r",
                     norm=BoundaryNorm(levels, 256))
    cb = fig.colorbar(cs, ax=ax)
    ticks = levels[:: max(1, len(levels) // 6)]
    cb.set_ticks(ticks)
    cb.set_ticklabels([label(t) for t in ticks])
    cb.set_label(f"G loss ({s['g_loss']})")

    ar = s["arrows"]
    W, B = np.meshgrid(ar["w"], ar["b"])
    gw, gb = -np.array(ar["dL_dw"]), -np.array(ar["dL_db"])
    mag = np.hypot(gw, gb)
    live = mag >= shapes.SATURATION_GRAD
    unit = np.where(mag > 0, mag, 1.0)
    for sel, color, label in ((live, "white", "descent direction (-grad, unit length)"),
                              (~live, "red", f"|grad| < {shapes.SATURATION_GRAD:g}: no push")):
        if sel.any():
            ax.quiver(W[sel], B[sel], (gw / unit)[sel], (gb / unit)[sel], color=color,
                      edgecolor="black", linewidth=0.4, angles="xy", pivot="mid", width=0.004,
                      scale=28, label=label)

    t = np.array(s["trajectory"])
    if len(t):
        ax.plot(t[:, 0], t[:, 1], color="black", lw=1.6, alpha=0.9, label="trajectory")
        ax.plot(t[0, 0], t[0, 1], "o", color="white", mec="black", ms=8, label="start")
    now, tgt = s["now"], s["target"]
    ax.plot(now["w"], now["b"], "*", color="orange", mec="black", ms=18,
            label=f"step {doc['step']}")
    ax.plot(tgt["w"], tgt["b"], "X", color="tab:green", mec="black", ms=13,
            label=f"target (0, {tgt['b']:g})")
    ax.set_xlim(w[0], w[-1])
    ax.set_ylim(b[0], b[-1])
    ax.set_xlabel("w (generator slope)")
    ax.set_ylabel("b (generator offset)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=9)
    ax.set_title(f"Generator loss over (w, b) against the D of step {doc['step']}", fontsize=11)
    fig.tight_layout()
    return _png(fig)



#: What each verdict means, in words for a figure's legend.
VERDICT_WORDS = {
    "locally_convergent": "converges locally (every Re λ < 0)",
    "oscillating": "orbits: no decay (largest Re λ ≈ 0)",
    "divergent": "diverges (some Re λ > 0)",
    "neutral": "neutral: some mode neither grows nor shrinks",
}


def _point_words(point: dict) -> str:
    """The legend's words for a point: its absolute verdict sentence when there is one."""
    d = point.get("decay")
    return d["words"].split(";")[0] if d else verdict_words(point["verdict"])


def verdict_words(verdict: str) -> str:
    return VERDICT_WORDS.get(verdict, verdict.replace("_", " "))


def stability_png(doc: dict) -> bytes:
    return _png(stability_figure(doc))


def stability_figure(doc: dict) -> Figure:
    """Eigenvalues of the training field's Jacobian in the complex plane, both axes linear.
    Left: near zero, where the verdict is decided: the band |Re λ| <= tol counts as zero
    (rotation without decay); eigenvalues outside the window are counted in a note. Right:
    every eigenvalue, so the fast-decaying (stiff) modes show too, and whether all of them lie
    inside the disc |1 + h λ| < 1 that gradient descent with h = lr_d needs."""
    adam = doc.get("adam")
    view = adam if adam is not None else doc  # Adam runs: the preconditioned step's spectrum
    if adam is not None:
        h, c, r = 1.0, -1.0, 1.0
        step_words = ("One Adam step (second moments of the checkpoint) shrinks a mode when "
                      "|1 + μ| < 1 (a disc of radius 1 around -1)")
        what = "one Adam step's linearisation M (eigenvalues μ)"
    else:
        h = doc["lr"]
        c, r = doc["disc"]["centre"], doc["disc"]["radius"]
        step_words = (f"Gradient descent with step h = lr_d = {h:g} shrinks a mode when "
                      f"|1 + h λ| < 1 (a disc of radius {r:g} around {c:g})")
        what = "the training field's Jacobian (G and D together)"
    tol = view["run_point"]["tol"]
    pts = (("run_point", f"the run at step {doc['step']}", "o", "tab:blue"),
           ("ideal_point", "ideal G (w = 0, b = real) with the run's D", "x", "tab:orange"))
    eigs = {k: np.array(view[k]["eigenvalues"], dtype=float).reshape(-1, 2) for k, *_ in pts}
    allv = np.concatenate(list(eigs.values()))
    mag = np.hypot(allv[:, 0], allv[:, 1])
    near = mag[mag <= 30 * tol]
    zoom = max(6 * tol, 1.25 * float(near.max()) if near.size else 0.0)
    fig = Figure(figsize=(13, 6.2))
    ax, bx = fig.subplots(1, 2)

    def draw(axis, size: float) -> None:
        for key, label, marker, color in pts:
            e = eigs[key]
            axis.scatter(e[:, 0], e[:, 1], marker=marker, s=size if marker == "o" else size * 1.3,
                         color=color, edgecolors="black" if marker == "o" else None,
                         linewidths=0.6, zorder=5,
                         label="\n".join(textwrap.wrap(f"{label}: {_point_words(view[key])}",
                                                       80)))
        axis.axhline(0.0, color="0.5", lw=0.6)
        axis.axvline(0.0, color="black", lw=0.9)
        axis.grid(alpha=0.3)
        axis.set_xlabel("Re λ: decay (< 0) or growth (> 0) rate")
        axis.set_ylabel("Im λ: rotation rate")

    # left: near zero, linear
    absolute = view["run_point"].get("decay") is not None
    ax.axvspan(-tol, tol, color="tab:red", alpha=0.15,
               label=(f"|Re λ| ≤ {tol:.2g}: less than a factor e over the run's "
                      f"{view['run_point']['decay']['horizon_steps']:,} steps" if absolute
                      else f"|Re λ| ≤ {tol:.2g}: counted as zero (no decay)"))
    draw(ax, 70)
    ax.set_xlim(-zoom, zoom)
    ax.set_ylim(-zoom, zoom)
    ax.ticklabel_format(style="sci", scilimits=(-3, 3))
    outside = int(np.sum((np.abs(allv[:, 0]) > zoom) | (np.abs(allv[:, 1]) > zoom)))
    notes = [f"{int(np.sum(mag <= tol))} of {len(allv)} eigenvalues (both points) within "
             f"{tol:.2g} of 0"]
    if outside:
        notes.append(f"{outside} outside this window: see the right panel")
    ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=9, color="0.25")
    ax.set_title("Near zero (where the verdict is decided)", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, fontsize=9)

    # right: every eigenvalue, linear; the disc's edge where it enters the view
    span = max(float(np.max(np.abs(allv))) * 1.15, zoom)
    draw(bx, 60)
    bx.set_xlim(-span, span)
    bx.set_ylim(-span, span)
    if r < 20 * span:  # the disc's curve is visible (else its edge is the imaginary axis)
        t = np.linspace(0, 2 * np.pi, 2001)
        (edge,) = bx.plot(c + r * np.cos(t), r * np.sin(t), color="tab:green", lw=1.2)
        bx.legend([edge], ["edge of the stable disc"], loc="upper right", fontsize=9)
    worst = max(max(view[k]["gd_factors"]) for k, *_ in pts)
    if absolute and adam is not None:
        words = (f"Adam's step with v_hat frozen: a mode's rate per step is Re μ, over the run "
                 f"e^(Re μ x steps). At the run's point: {view['run_point']['decay']['words']}.")
    elif absolute:
        words = (f"{step_words}. Largest factor here: {worst:.7f}; at the run's point: "
                 f"{view['run_point']['decay']['words']}.")
    else:
        words = (f"{step_words}. Largest factor here: {worst:.7f}, "
                 + ("every mode shrinks." if worst < 1 else "some mode does not shrink."))
    bx.text(0.0, -0.14, "\n".join(textwrap.wrap(words, 70)), transform=bx.transAxes,
            fontsize=9, va="top", color="0.2")
    bx.set_title("All eigenvalues", fontsize=11)
    fig.suptitle(f"Local stability at step {doc['step']}: eigenvalues of {what}", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig
