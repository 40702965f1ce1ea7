"""The sweep command's extra tables and cells: the time-to-converge and tolerance columns, the
fraction converged by step (``--study article``) and the ``--check-classes`` table. Apart from
``sweep`` so that module stays a command."""

from __future__ import annotations

from typing import Any

from . import console


def _print_check(doc: dict[str, Any], fmt: Any) -> None:
    """``--check-classes``: per class at T, how many kept its prediction at 2T."""
    rows = [[c["class"], c["n"], f"{c['kept']}/{c['n']} ({c['fraction']:.0%})", c["prediction"],
             ", ".join(f"{n} {_CLASS_ABBR.get(k, k)}" for k, n in
                       sorted(c["later"].items(), key=lambda kv: -kv[1]))]
            for c in doc["classes"]]
    console.print_table(f"classes at {doc['steps']['T']} steps, checked at {doc['steps']['2T']}",
                        ["class", "n", "kept", "prediction", "class at 2x"], rows, fmt,
                        caption=f"every member trained again to twice its steps in "
                        f"{doc['check_dir']}; per member: {doc['sweep_dir']}/check-classes.json")


SWEEP_RAW = ("rank", "group", "reference", "n", "converged", "success_rate", "wilson_low",
             "wilson_high", "mcnemar_p", "mcnemar_p_holm", "median_converged_at",
             "median_final_distance", "mean_bias_b", "mean_bias_b_n",
             "w_mean", "w_std", "b_mean", "b_std")


def sweep_raw(summary: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The sweep table for programs (``--format tsv/csv``): summary.json's numbers unrounded,
    ``reference`` true on the reference group's row, one ``class_<name>`` count per class;
    rows in rank order, as the table."""
    from ..verdict import CLASSES

    rank = {r["group"]: r["rank"] for r in summary["ranking"]}
    cols = [*SWEEP_RAW, *(f"class_{c}" for c in CLASSES)]
    rows: list[list[Any]] = []
    for g in summary["groups"]:
        values = dict(g, rank=rank[g["group"]], reference=g.get("reference") == g["group"])
        classes = g.get("classes") or {}
        rows.append([values.get(k) for k in SWEEP_RAW]
                    + [int(classes.get(c, 0)) for c in CLASSES])
    rows.sort(key=lambda r: int(r[0]))
    return cols, rows


_CLASS_ABBR = {"converged": "conv", "still_approaching": "appr", "orbiting": "orb",
               "stuck": "stuck", "diverging": "dvg", "diverged": "div"}


def _holm(group: dict[str, Any], several: bool) -> list[str]:
    """The Holm-adjusted p cell, only when the table makes more than one comparison."""
    if not several:
        return []
    if group.get("reference") == group["group"]:
        return ["ref"]
    p = group.get("mcnemar_p_holm")
    return ["-" if p is None else f"{p:.2g}"]


def _robust(group: dict[str, Any]) -> str:
    from ..sweep.tolerance import robust_text

    if group.get("reference") != group["group"] and group.get("mcnemar_p") is None:
        return "-"
    return robust_text(group.get("tolerance_robustness"))


def _median_time(group: dict[str, Any]) -> str:
    """``1,250 [900, 1,600] p=0.002``: median converged_at, its interval, the sign test."""
    if "convergence_curve" not in group:
        return "-"
    med = group.get("median_converged_at")
    lo, hi = group.get("median_converged_at_interval") or (None, None)
    text = (f">{group['convergence_horizon']:,}" if med is None else
            f"{med:,} [{'-' if lo is None else f'{lo:,}'}, "
            f"{'>' + format(group['convergence_horizon'], ',') if hi is None else f'{hi:,}'}]")
    test = group.get("converged_at_test")
    return text if test is None else f"{text} p={test['p']:.2g}"


def _bias(group: dict[str, Any]) -> str:
    if group.get("mean_bias_b_n") is None:
        return _num(group.get("mean_bias_b"), "+.3f")
    return f"{_num(group.get('mean_bias_b'), '+.3f')} ({group['mean_bias_b_n']})"


def _num(value: Any, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


BY_STEP = (250, 500, 1000, 2000, 4000, 8000, 16000)


def _print_by_step(summary: dict[str, Any], fmt: Any) -> None:
    """``--study article``: each group's runs converged (inside the tolerance from then on) by
    step t, from its Kaplan-Meier curve; "-" past the step a group can show (its success
    window's start)."""
    groups = [g for g in summary["groups"] if g.get("convergence_curve")]
    if not groups:
        return
    top = max(g["convergence_horizon"] for g in groups)
    steps = [t for t in BY_STEP if t <= top]
    rows = []
    for g in groups:
        curve = g["convergence_curve"]
        cells = []
        for t in steps:
            if t > g["convergence_horizon"]:
                cells.append("-")
                continue
            k = next(p for p in reversed(curve) if p["step"] <= t)["converged"]
            cells.append(f"{k}/{g['n']}")
        rows.append([g["group"], *cells])
    console.print_table("converged by step", ["group", *(f"{t:,}" for t in steps)], rows, fmt,
                        caption="runs inside the tolerance from that step to the end of "
                        "training (converged_at <= step; Kaplan-Meier, summary.json "
                        "convergence_curve); '-': past the group's success-window start")
