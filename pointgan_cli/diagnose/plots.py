"""PNG figures for the landscapes and the stability spectrum, drawn from their JSON documents.

Figures are built on ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot): nothing can
open a window, and no global figure state leaks between calls. Each function returns PNG bytes;
the caller writes them atomically.
"""

from __future__ import annotations

import io
import math
import textwrap

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from ..models import d_prob_packed
from . import shapes

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
    v = torch.linspace(real - shapes.WINDOW_BELOW, real + shapes.WINDOW_ABOVE, 801,
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
    cb.set_ticks(ticks)
    cb.set_ticklabels([f"{10 ** t:.3g}" for t in ticks])
    cb.set_label("D loss")
    fig.suptitle("\n".join(textwrap.wrap(doc["finding"]["text"], 130)), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
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
    ax.set_title("\n".join(textwrap.wrap(doc["finding"], 95)), fontsize=10)
    fig.tight_layout()
    return _png(fig)



def stability_png(doc: dict) -> bytes:
    """Eigenvalues of the training field at the run's point and at the ideal generator, on the
    complex plane. Left: the real axis is symmetric-log, linear within +-tol (the band counted
    as the imaginary axis), so the signs of small real parts, which decide the verdict, stay
    visible next to the stiff modes; the edge of the gradient-descent disc is drawn too. Right:
    the whole disc ``|1 + h lambda| < 1`` at linear scale."""
    h = doc["lr"]
    c, r = doc["disc"]["centre"], doc["disc"]["radius"]
    pts = (("run_point", f"run, step {doc['step']}", "o", "tab:blue"),
           ("ideal_point", "ideal G (w = 0, b = real), run's D", "x", "tab:orange"))
    eigs = {k: np.array(doc[k]["eigenvalues"]).reshape(-1, 2) for k, *_ in pts}
    allv = np.concatenate(list(eigs.values()))
    tol = doc["run_point"]["tol"]
    re_lim = max(1.6 * float(np.max(np.abs(allv[:, 0]))), 10 * tol)
    im_lim = max(1.3 * float(np.max(np.abs(allv[:, 1]))), 0.1 * re_lim, 10 * tol)
    fig = Figure(figsize=(15, 7))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})

    # left: near the imaginary axis
    ys = np.linspace(-im_lim, im_lim, 401)
    edge = c + np.sqrt(np.maximum(r * r - ys * ys, 0.0))  # right edge of the disc
    ax.fill_betweenx(ys, -re_lim, edge, color="tab:green", alpha=0.12,
                     label=f"GD stable: |1 + h lambda| < 1, h = lr_d = {h:g}")
    ax.plot(edge, ys, color="tab:green", lw=1.2)
    ax.axvspan(-tol, tol, color="tab:red", alpha=0.18,
               label=f"|Re| <= tol = {tol:.2g} (run point): on the imaginary axis")
    ax.axvline(0.0, color="black", lw=1.0, label="imaginary axis")
    ax.axhline(0.0, color="grey", lw=0.6)
    for axis in (ax, bx):
        for key, label, marker, color in pts:
            e = eigs[key]
            verdict = doc[key]["verdict"].replace("_", " ")
            axis.scatter(e[:, 0], e[:, 1], marker=marker, s=70 if marker == "o" else 90,
                         color=color, edgecolors="black" if marker == "o" else None,
                         linewidths=0.6, zorder=5, label=f"{label}: {verdict}")
    ax.set_xscale("symlog", linthresh=tol, linscale=1.0)
    ax.set_xlim(-re_lim, re_lim)
    decades = [10.0**k for k in range(math.ceil(math.log10(3 * tol)),
                                      math.floor(math.log10(re_lim)) + 1)]
    ax.set_xticks([-x for x in reversed(decades)] + [0.0] + decades)
    ax.set_xticks([], minor=True)
    ax.set_ylim(-im_lim, im_lim)
    ax.set_xlabel(f"Re lambda (symmetric log, linear within +-tol = {tol:.2g})")
    ax.set_ylabel("Im lambda")
    ax.set_title("Eigenvalues of the training field's Jacobian")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=9)

    # right: the whole disc
    t = np.linspace(0, 2 * np.pi, 721)
    bx.fill(c + r * np.cos(t), r * np.sin(t), color="tab:green", alpha=0.12)
    bx.plot(c + r * np.cos(t), r * np.sin(t), color="tab:green", lw=1.2)
    bx.axvline(0.0, color="black", lw=1.0)
    bx.axhline(0.0, color="grey", lw=0.6)
    right = max(0.1 * r, float(np.max(allv[:, 0])) * 1.2)
    bx.set_xlim(c - 1.1 * r, right)
    bx.set_ylim(-1.1 * r, 1.1 * r)
    bx.set_aspect("equal", adjustable="box")
    bx.set_xlabel("Re lambda")
    bx.set_ylabel("Im lambda")
    bx.set_title(f"The whole disc: centre -1/h = {c:g}, radius 1/h = {r:g}")
    bx.grid(alpha=0.3)
    fig.suptitle("\n".join(textwrap.wrap(doc["finding"], 160)), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _png(fig)
