"""The sweep's charts: ``weights.png`` (w and b over training, per experiment),
``success.png`` (success rate per group with its Wilson interval) and ``convergence.png``
(fraction converged by step, per group).

Why apart from ``report``: the statistics need numpy only, the charts matplotlib, whose import
alone takes 0.36 s; ``Preload`` imports it on a thread where a core would otherwise wait for
training. Reads members through ``sweepdir`` only.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..store import sweepdir

DPI = 110  # the charts' resolution (dots per inch)


class Preload:
    """Import the charts' libraries (matplotlib with Agg, PIL) on a thread of their own, at
    most once (``start``), while this process waits for training in other processes: 0.3 s
    that the report would otherwise spend after training. ``join`` waits for it."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=_import_charts, name="pointgan-preload",
                                            daemon=True)
            self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _import_charts() -> None:
    with contextlib.suppress(Exception):  # the report imports (and reports) them itself
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        from matplotlib import patheffects  # noqa: F401
        from matplotlib.collections import LineCollection  # noqa: F401
        from PIL import Image  # noqa: F401


def group_curves(sweep_dir: Path, member_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Steps (S,) and w, b per member (M, S, 2) from the members' snapshots (the first
    member's steps; every curve cut to that length)."""
    curves = sweepdir.member_curves(sweep_dir, member_ids)
    if not curves:
        return np.zeros(0, np.int64), np.zeros((0, 0, 2))
    steps = curves[0][0]
    return steps, np.stack([wb[: len(steps)] for _, wb in curves])


#: Seeds drawn per group and outcome (converged, not) in the weights chart. The median and the
#: axis limits use every seed; beyond this many faint lines the picture no longer changes, and
#: a 16,384-member sweep would spend seconds drawing them.
MAX_DRAWN = 512


def evenly(indices: np.ndarray, cap: int) -> np.ndarray:
    """At most ``cap`` of ``indices``, evenly spaced and keeping the first and the last."""
    if len(indices) <= cap:
        return indices
    return indices[np.round(np.linspace(0, len(indices) - 1, cap)).astype(int)]


def split_group(name: str) -> tuple[str, str]:
    """A group name (``group_name``: the variant's label, then ``field=value`` words of its grid
    point) as (experiment, point): ``"R1 lr=0.003"`` -> ``("R1", "lr=0.003")``."""
    words = name.split(" ")
    i = len(words)
    while i > 1 and "=" in words[i - 1]:
        i -= 1
    return " ".join(words[:i]), " ".join(words[i:])


def experiments(groups: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Groups by experiment, in the summary's order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        out.setdefault(split_group(g["group"])[0], []).append(g)
    return out


def robust_limits(values: np.ndarray, target: float, init: tuple[float, float]) -> tuple[
        float, float, bool]:
    """y-limits that hold the target, the initial values and the bulk of the curves (2nd to
    98th percentile), so one runaway seed does not flatten the rest; and whether any value
    falls outside them (the panel then says so)."""
    finite = values[np.isfinite(values)]
    lo = min(target, init[0], float(np.quantile(finite, 0.02)) if finite.size else target)
    hi = max(target, init[1], float(np.quantile(finite, 0.98)) if finite.size else target)
    pad = 0.08 * (hi - lo) + 0.05
    lo, hi = lo - pad, hi + pad
    clipped = bool(finite.size and (finite.min() < lo or finite.max() > hi))
    return lo, hi, clipped


def plot_weights(sweep_dir: Path, summary: dict[str, Any], real: float) -> bytes:
    """``weights.png``: see ``weights_figure``."""
    fig, plt = weights_figure(sweep_dir, summary, real)
    return _png(fig, plt)


def weights_figure(sweep_dir: Path, summary: dict[str, Any], real: float) -> tuple[Any, Any]:
    """The study's chart as small multiples: per experiment (a preset or variant), w above b,
    one colour per grid point (e.g. learning rate); the median over seeds bold, each seed faint
    (a seed that did not converge dashed), so one failing seed stays visible instead of being
    averaged away; beyond ``MAX_DRAWN`` seeds of one outcome in a group, that many evenly spaced
    ones are drawn (the median and the limits still use every seed). Each panel's y-limits
    hold its target, the initial values and 96% of its values; a runaway run leaves the panel
    (and its title says "clipped")."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection

    exps = experiments(summary["groups"])
    ncols = min(4, len(exps))
    nrows = -(-len(exps) // ncols)
    width, height = max(3.9 * ncols, 8.0), 4.4 * nrows + 1.1  # inches
    fig = plt.figure(figsize=(width, height))
    outer = fig.add_gridspec(nrows, ncols, hspace=0.3, wspace=0.28, left=0.7 / width,
                             right=1 - 0.2 / width, bottom=0.55 / height, top=1 - 0.8 / height)
    cmap = plt.get_cmap("tab10")
    thinned = False
    for k, (name, groups) in enumerate(exps.items()):
        cell = outer[k // ncols, k % ncols].subgridspec(2, 1, hspace=0.06)
        top = fig.add_subplot(cell[0])
        pair = (top, fig.add_subplot(cell[1], sharex=top))
        top.tick_params(labelbottom=False)
        values: list[list[np.ndarray]] = [[], []]
        starts: list[list[np.ndarray]] = [[], []]
        for gi, g in enumerate(groups):
            steps, wb = group_curves(sweep_dir, g["members"])  # (S,), (M, S, 2)
            colour = cmap(gi % cmap.N)
            failed = set(g.get("failed", []))
            bad = np.array([m in failed for m in g["members"]], dtype=bool)
            point = split_group(g["group"])[1]
            label = f"{point + ' ' if point else ''}{g['converged']}/{g['n']} converged"
            for j, ax in enumerate(pair):
                curves = wb[:, :, j]
                values[j].append(curves.ravel())
                starts[j].append(curves[:, 0])
                faint = 0.35 if len(curves) < 20 else 0.12
                for sel, alpha, style in ((~bad, faint, "-"), (bad, 0.75, "--")):
                    drawn = evenly(np.flatnonzero(sel), MAX_DRAWN)
                    thinned |= len(drawn) < int(sel.sum())
                    ax.add_collection(LineCollection(
                        [np.column_stack([steps, c]) for c in curves[drawn]], colors=[colour],
                        linewidths=0.7, linestyles=style, alpha=alpha))
                ax.plot(steps, np.median(curves, 0), color=colour, lw=2.0,
                        label=label if j == 0 else None,
                        path_effects=[patheffects.withStroke(linewidth=3.6, foreground="white")])
        for j, (ax, var, target) in enumerate(zip(pair, ("w", "b"), (0.0, real))):
            vals, first = np.concatenate(values[j]), np.concatenate(starts[j])
            lo, hi, clipped = robust_limits(vals, target, (float(first.min()),
                                                           float(first.max())))
            ax.set_ylim(lo, hi)
            ax.autoscale(axis="x", tight=True)
            ax.axhline(target, color="black", ls=":", lw=1)
            ax.set_ylabel(var)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            if j == 0:
                ax.set_title(name + (" (clipped)" if clipped else ""), fontsize=10)
                ax.legend(fontsize=7, loc="best", framealpha=0.8)
            else:
                ax.set_xlabel("step", fontsize=8)
                if clipped:
                    ax.text(0.99, 0.02, "clipped", transform=ax.transAxes, ha="right",
                            va="bottom", fontsize=7, color="0.4")
    drawn_note = f" (at most {MAX_DRAWN} seeds per group and outcome drawn)" if thinned else ""
    fig.suptitle(f"w and b over training{drawn_note}\nmedian over seeds (bold), each seed faint "
                 f"(dashed: not converged); dotted: target w = 0, b = {real:g}", fontsize=10,
                 y=1 - 0.1 / height, va="top")
    return fig, plt


def plot_success(summary: dict[str, Any]) -> bytes:
    """Success rate per group with its Wilson 95% interval; the count sits above the
    interval's upper cap, never on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary["groups"]
    names = [g["group"] for g in groups]
    rate = np.array([g["success_rate"] for g in groups])
    low = np.array([g["wilson_low"] for g in groups])
    high = np.array([g["wilson_high"] for g in groups])
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(groups) + 3), 4.8))
    x = np.arange(len(groups))
    ax.bar(x, rate, color="#4c72b0", alpha=0.8)
    ax.errorbar(x, rate, yerr=[rate - low, high - rate], fmt="none", ecolor="black", capsize=4)
    for xi, g, top in zip(x, groups, high):
        ax.text(xi, top + 0.03, f"{g['converged']}/{g['n']}", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.18)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("converged fraction")
    ax.set_title("Success rate per group (whiskers: Wilson 95% interval; label: converged/n)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig, plt)


def plot_convergence(summary: dict[str, Any]) -> bytes:
    """``convergence.png``: per group, the fraction of runs converged by each step (runs that
    do not converge censored at the success window's start; ``sweep.inference``) as a step
    curve with its Wilson 95% band, and the median time to converge marked where it is
    within the horizon."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in summary["groups"] if g.get("convergence_curve")]
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    for k, g in enumerate(groups):
        c = g["convergence_curve"]
        steps = [p["step"] for p in c]
        colour = cmap(k % cmap.N)
        ax.fill_between(steps, [p["low"] for p in c], [p["high"] for p in c], step="post",
                        color=colour, alpha=0.15, lw=0)
        med = g.get("median_converged_at")
        label = f"{g['group']} ({g['converged']}/{g['n']}; median " + (
            f"{med:,}" if med is not None else "beyond the window start") + ")"
        ax.step(steps, [p["fraction"] for p in c], where="post", color=colour, lw=1.8,
                label=label)
        if med is not None:
            ax.plot([med], [0.5], "o", color=colour, ms=4)
    ax.axhline(0.5, color="0.5", ls=":", lw=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction converged (inside tolerance from then on)")
    ax.set_title("Time to converge per group (Kaplan-Meier, censored at the success window's "
                 "start; band: Wilson 95%)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    return _png(fig, plt)


def _png(fig, plt) -> bytes:
    """The figure at 110 dpi as an 8-bit palette PNG (``render.phase.palette_png``): the same
    picture, a quarter of the bytes of matplotlib's RGBA file (a 1,024-member ``weights.png``:
    64 KB against 273 KB; its antialiased faint curves made thousands of distinct colours).
    The figure is closed after."""
    from ..render.phase import palette_png

    try:
        return palette_png(fig, DPI)
    finally:
        plt.close(fig)
