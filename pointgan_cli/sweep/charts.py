"""The sweep's charts: ``weights.png`` (w and b over training, one panel per group),
``convergence.png`` (fraction converged by step, per group); ``success.png`` (success rate per
group with its Wilson interval) is drawn by ``successplot``.

Why apart from ``summaries``: the statistics need numpy only, the charts matplotlib, whose import
alone takes 0.3 s: where a core is free the charts are drawn in a process of their own
(``drawer``), which imports it while the sweep starts or trains; otherwise ``import_libraries``
imports it while the last batch is written. Reads through ``SweepDir`` only.
"""

from __future__ import annotations

import contextlib
import textwrap
from typing import Any

import numpy as np

from ..store.sweepdir import SweepDir

DPI = 110  # the charts' resolution (dots per inch)


def import_libraries() -> None:
    """Import what the charts draw with (matplotlib with Agg, PIL) now (0.3 s once; a no-op
    after), where the process would otherwise wait; a failure is left to the charts'
    own import to report."""
    with contextlib.suppress(Exception):  # the summaries import (and report) them themselves
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        from matplotlib import patheffects  # noqa: F401
        from matplotlib.collections import LineCollection  # noqa: F401
        from PIL import Image  # noqa: F401


def group_curves(sweep_dir: SweepDir, member_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Steps (S,) and w, b per member (M, S, 2) from the members' snapshots (the first
    member's steps; every curve cut to that length)."""
    curves = sweep_dir.members.curves(member_ids)
    if not curves:
        return np.zeros(0, np.int64), np.zeros((0, 0, 2))
    steps = curves[0][0]
    return steps, np.stack([wb[: len(steps)] for _, wb in curves])


#: Seeds drawn per group and outcome (converged, not) in the weights chart. The median and the
#: axis limits use every seed; beyond this many faint lines the picture no longer changes, and
#: a 16,384-member sweep would spend seconds drawing them.
MAX_DRAWN = 512


#: Most groups a chart draws. A dense stability map has 1,089 (33 x 33 cells): as panels, rows
#: or curves they make a picture 40,000 px tall that nobody reads (map.png is that sweep's
#: picture), and drawing them took over a minute of the sweep's report. Beyond this many,
#: that many evenly spaced groups are drawn and the chart says so; every group stays in
#: summary.json and summary.csv. The article study's 72 groups are all drawn.
MAX_GROUPS = 96


def drawn_groups(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The groups a chart draws (at most ``MAX_GROUPS``, evenly spaced in the summary's order,
    the first and the last kept) and the note saying so ("" when every group is drawn)."""
    if len(groups) <= MAX_GROUPS:
        return groups, ""
    keep = evenly(np.arange(len(groups)), MAX_GROUPS)
    return ([groups[i] for i in keep],
            f"{len(keep)} of {len(groups):,} groups drawn, evenly spaced; all in summary.csv")


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


#: The weights chart's colours: one per outcome (a converged seed, a seed that did not converge),
#: the median over seeds and the target line.
CONVERGED, NOT_CONVERGED, MEDIAN = "#1f77b4", "#d62728", "black"
#: Most panels in a row of the weights chart (a study's grid points: 2 lr x 4 budgets = 8).
MAX_COLUMNS = 8


def plot_weights(sweep_dir: SweepDir, summary: dict[str, Any], real: float) -> bytes:
    """``weights.png``: see ``weights_figure``."""
    fig, plt = weights_figure(sweep_dir, summary, real)
    return _png(fig, plt)


def panel_layout(groups: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The weights chart's rows of panels, one group per panel: an experiment's grid points
    side by side (at most MAX_COLUMNS a row). Experiments with the same number k of points
    share rows, up to 4 and MAX_COLUMNS // k of them (presets compared: 4 a row; the
    literature study's methods at two learning rates: 4 a row; the article's 8 points: 1)."""
    exps = list(experiments(groups).values())
    sizes = {len(gs) for gs in exps}
    if len(sizes) == 1 and (k := sizes.pop()) <= MAX_COLUMNS // 2:
        per_row = min(4, MAX_COLUMNS // k)
        return [[g for gs in exps[i:i + per_row] for g in gs]
                for i in range(0, len(exps), per_row)]
    rows = []
    for gs in exps:
        rows += [gs[i:i + MAX_COLUMNS] for i in range(0, len(gs), MAX_COLUMNS)]
    return rows


def panel_titles(rows: list[list[dict[str, Any]]], single: bool, panel_in: float
                 ) -> list[list[str]]:
    """Each weights panel's title, "GROUP: converged/n", wrapped to its panel's width (8 pt
    text: about 0.062 in a character) so the long names of a 2-axis grid do not run into
    their neighbours; an experiment's later panels name their grid point only."""
    out = []
    for row in rows:
        titles = []
        for c, g in enumerate(row):
            name, point = split_group(g["group"])
            first = c == 0 or split_group(row[c - 1]["group"])[0] != name
            head = g["group"] if single or first else point
            titles.append("\n".join(textwrap.wrap(f"{head}: {g['converged']}/{g['n']}",
                                                  max(12, int(panel_in / 0.062)),
                                                  break_on_hyphens=False)))
        out.append(titles)
    return out


def shared_limits(curves: list[np.ndarray], target: float) -> tuple[float, float]:
    """One quantity's y-limits for every panel: ``robust_limits`` over the groups whose own
    range is not far wider than the typical group's (at most 4 times the median width), so a
    group that runs away (WGAN-GP's b reaching 15) is clipped in its panels instead of
    flattening every other panel."""
    ranges = []
    for c in curves:
        finite = c[np.isfinite(c)]
        if finite.size:
            ranges.append((float(np.quantile(finite, 0.02)), float(np.quantile(finite, 0.98))))
    if not ranges:
        return target - 1.0, target + 1.0
    widths = np.array([hi - lo for lo, hi in ranges])
    typical = float(np.median(widths))
    kept = [c for c, w in zip(curves, widths) if w <= 4 * typical + 1e-12]
    vals = np.concatenate([c.ravel() for c in kept])
    first = np.concatenate([c[:, 0] for c in kept])
    lo, hi, _ = robust_limits(vals, target, (float(np.nanmin(first)), float(np.nanmax(first))))
    return lo, hi


def weights_figure(sweep_dir: SweepDir, summary: dict[str, Any], real: float) -> tuple[Any, Any]:
    """Small multiples, one panel per group (w above b), nothing overlaid: each seed coloured
    by its outcome (blue converged, red dashed not converged), the median over seeds black on a
    white halo, so one failing seed in a bundle is seen and the median is found at once. Every
    w panel has the same y-limits, and every b panel (target, initial values and 96% of all
    values: a runaway seed leaves the panel, "clipped" says so); each panel's x-axis runs to
    its own group's last step (a study's budgets differ). Beyond ``MAX_DRAWN`` seeds of one
    outcome in a group, that many evenly spaced ones are drawn (median and limits use all).
    One legend for the figure, above the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    groups, few = drawn_groups(summary["groups"])
    rows = panel_layout(groups)
    ncols = max(len(r) for r in rows)
    single = all(len(gs) == 1 for gs in experiments(groups).values())
    pw = 3.4 if ncols <= 2 else 2.2  # inches per panel
    ph = 2.5 if len(rows) <= 2 else 2.1
    titles = panel_titles(rows, single, pw)
    more = 0.14 * (max(t.count("\n") for r in titles for t in r))  # a title's extra lines
    top_in, bottom_in, left_in, right_in = 1.05 + more, 0.45, 0.65, 0.15
    width = max(ncols * pw + left_in + right_in, 7.0)
    height = len(rows) * (ph + 0.55 + more) + top_in + bottom_in
    fig = plt.figure(figsize=(width, height))
    outer = fig.add_gridspec(len(rows), ncols, hspace=(0.55 + more) / ph, wspace=0.3,
                             left=left_in / width, right=1 - right_in / width,
                             bottom=bottom_in / height, top=1 - top_in / height)
    data = [[group_curves(sweep_dir, g["members"]) for g in row] for row in rows]
    limits = [shared_limits([wb[:, :, j] for r in data for _, wb in r if wb.size], target)
              for j, target in ((0, 0.0), (1, real))]
    clipped_any = False
    tops: list[Any] = []  # the panels with a title (w, above b)
    halo = [patheffects.withStroke(linewidth=3.4, foreground="white")]
    thinned = False
    for r, row in enumerate(rows):
        for c, g in enumerate(row):
            steps, wb = data[r][c]
            cell = outer[r, c].subgridspec(2, 1, hspace=0.08)
            top = fig.add_subplot(cell[0])
            pair = (top, fig.add_subplot(cell[1], sharex=top))
            top.tick_params(labelbottom=False)
            failed = set(g.get("failed", []))
            bad = np.array([m in failed for m in g["members"]], dtype=bool)
            for j, (ax, var, target) in enumerate(zip(pair, ("w", "b"), (0.0, real))):
                curves = wb[:, :, j] if wb.size else np.zeros((0, len(steps)))
                for sel, colour, alpha, style in ((~bad, CONVERGED, 0.45, "-"),
                                                  (bad, NOT_CONVERGED, 0.55, "--")):
                    drawn = evenly(np.flatnonzero(sel), MAX_DRAWN)
                    thinned |= len(drawn) < int(sel.sum())
                    if len(drawn):
                        ax.add_collection(LineCollection(
                            [np.column_stack([steps, v]) for v in curves[drawn]],
                            colors=[colour], linewidths=0.7, linestyles=style, alpha=alpha))
                if len(curves):
                    ax.plot(steps, np.median(curves, 0), color=MEDIAN, lw=1.6,
                            path_effects=halo, zorder=5)
                lo, hi = limits[j]
                ax.set_ylim(lo, hi)
                finite = curves[np.isfinite(curves)]
                clipped = bool(finite.size and (finite.min() < lo or finite.max() > hi))
                if clipped:
                    clipped_any = True
                    ax.text(0.99, 0.03, "clipped", transform=ax.transAxes, ha="right",
                            va="bottom", fontsize=6, color="0.35", zorder=6)
                if len(steps):
                    ax.set_xlim(steps[0], steps[-1])
                ax.axhline(target, color="0.3", ls=":", lw=1, zorder=4)
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
                ax.xaxis.get_offset_text().set_fontsize(7)
                if c == 0:
                    ax.set_ylabel(var)
                else:
                    ax.tick_params(labelleft=False)
                if j == 1:
                    ax.set_xlabel("step", fontsize=7, labelpad=1)
                    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
                    ax.xaxis.set_major_formatter(FuncFormatter(_steps_text))
            top.set_title(titles[r][c], fontsize=8, pad=3)
            tops.append(top)
    notes = [few] if few else []
    if thinned:
        notes.append(f"at most {MAX_DRAWN} seeds per group and outcome drawn")
    if clipped_any:
        notes.append("same y-limits in every panel: a seed or group that runs away is "
                     "clipped and says so")
    # the notes wrapped to the figure's width (10 pt text: about 0.077 in a character), the
    # figure taller by the lines they add, the panels where they were
    lines = textwrap.wrap(f"({'; '.join(notes)})", int((width - 0.4) / 0.077)) if notes else []
    extra = 0.17 * max(0, len(lines) - 1)
    if extra:
        height += extra
        fig.set_size_inches(width, height)
        outer.update(bottom=bottom_in / height, top=1 - (top_in + extra) / height)
    fig.suptitle("\n".join(["w and b over training, one panel per group (title: converged/n)",
                            *lines]), fontsize=10, y=1 - 0.08 / height, va="top")
    handles = [Line2D([], [], color=CONVERGED, lw=1.2, label="a converged seed"),
               Line2D([], [], color=NOT_CONVERGED, lw=1.2, ls="--",
                      label="a seed that did not converge"),
               Line2D([], [], color=MEDIAN, lw=1.6, path_effects=halo,
                      label="median over seeds"),
               Line2D([], [], color="0.3", ls=":", lw=1, label=f"target w = 0, b = {real:g}")]
    fig.legend(handles=handles, loc="upper center", ncol=4 if width >= 9 else 2, fontsize=8,
               frameon=False,
               bbox_to_anchor=(0.5, 1 - ((0.5 + extra) if notes else 0.36) / height))
    for ax in tops:
        if title_place_known(ax):  # where matplotlib would put it, without laying it out
            ax.set_title(ax.get_title(), fontsize=8, pad=3, y=1.0)
    return fig, plt


def title_place_known(ax: Any) -> bool:
    """Whether matplotlib's automatic place for ``ax``'s title is the axes' top (``y=1``),
    known without drawing. It is higher only under an offset text ("1e-5", "+1") or ticks on
    top, and to find out matplotlib lays out every tick label at draw time (10-20% of the
    weights chart). The offset text is known from the tick positions alone: where there is
    none, the title is pinned at ``y=1``, the same picture."""
    if (ax.xaxis.get_ticks_position() in ("top", "unknown")
            or ax.xaxis.get_label_position() == "top"):
        return False
    fmt = ax.yaxis.get_major_formatter()
    fmt.set_locs(ax.yaxis.get_majorticklocs())
    return not (ax.yaxis.offsetText.get_visible() and fmt.get_offset())


def _steps_text(x: float, _pos: Any = None) -> str:
    """A step tick: 500, 2k, 12.5k."""
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


#: Up to this many groups the convergence legend sits inside the axes; more go below them.
LEGEND_INSIDE = 10
#: Line styles cycled once the colour map's colours are used up (tab20: every 20 groups).
LINE_STYLES = ("-", "--", ":", "-.")


def plot_convergence(summary: dict[str, Any]) -> bytes:
    """``convergence.png`` (``convergence_figure``) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return _png(convergence_figure(summary), plt)


def convergence_figure(summary: dict[str, Any]):
    """Per group, the fraction of runs converged by each step (runs that do not converge
    censored at the success window's start; ``sweep.inference``) as a step curve with its
    Wilson 95% band, and the median time to converge marked where it is within the horizon.

    Why the layout changes with the count: the article study's 72 groups made a legend taller
    than the axes (cut off, and matplotlib warned on stderr). Past ``LEGEND_INSIDE`` groups the
    legend goes below the axes in columns, the figure grows to hold it, and colours that repeat
    change line style, so every curve stays tellable from its legend entry."""
    import matplotlib.pyplot as plt

    groups, few = drawn_groups([g for g in summary["groups"] if g.get("convergence_curve")])
    many = len(groups) > LEGEND_INSIDE
    labels = [_convergence_label(g) for g in groups]
    # as many legend columns as the widest entry allows across 11.5 in (6.5 pt text is about
    # 0.055 in per character, plus the line sample)
    ncol = max(1, min(3, int(11.5 // (0.055 * max(map(len, labels), default=1) + 0.5))))
    rows = -(-len(groups) // ncol) if many else 0
    axes_h, legend_h = 5.2, 0.125 * rows + 0.3 * many
    fig = plt.figure(figsize=(8.5 if not many else 12.0, axes_h + legend_h))
    bottom = (legend_h + 0.55) / (axes_h + legend_h) if many else 0.11
    ax = fig.add_axes((0.08, bottom, 0.9, 1 - bottom - (0.6 + 0.2 * bool(few))
                       / (axes_h + legend_h)))
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    for k, g in enumerate(groups):
        c = g["convergence_curve"]
        steps = [p["step"] for p in c]
        colour = cmap(k % cmap.N)
        ax.fill_between(steps, [p["low"] for p in c], [p["high"] for p in c], step="post",
                        color=colour, alpha=0.15 if not many else 0.05, lw=0)
        med = g.get("median_converged_at")
        ax.step(steps, [p["fraction"] for p in c], where="post", color=colour,
                ls=LINE_STYLES[(k // cmap.N) % len(LINE_STYLES)], lw=1.8 if not many else 1.2,
                label=labels[k])
        if med is not None:
            ax.plot([med], [0.5], "o", color=colour, ms=4)
    ax.axhline(0.5, color="0.5", ls=":", lw=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction converged (inside tolerance from then on)")
    ax.set_title("Time to converge per group (Kaplan-Meier, censored at the success window's "
                 "start; band: Wilson 95%)" + (f"\n({few})" if few else ""), fontsize=10)
    ax.grid(alpha=0.3)
    if many:
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=ncol, fontsize=6.5,
                   frameon=False, bbox_to_anchor=(0.5, 0.005), handlelength=2.6)
    else:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return fig


def _convergence_label(g: dict[str, Any]) -> str:
    med = g.get("median_converged_at")
    return f"{g['group']} ({g['converged']}/{g['n']}; median " + (
        f"{med:,}" if med is not None else "beyond the window start") + ")"


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
