"""``pointgan compare``: two runs or two sweeps, what was set and what came out differently."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from . import console
from . import options as o
from .working import working


class CompareTable(StrEnum):
    """The table ``--format tsv/csv`` prints (one table per stream)."""

    results = "results"
    spec = "spec"


def compare(
    a: Annotated[Path, typer.Argument(help="Run or sweep directory A.", show_default=False)],
    b: Annotated[Path, typer.Argument(help="Run or sweep directory B (same kind as A).",
                                      show_default=False)],
    fmt: o.Format = o.TableFormat.table,
    table: Annotated[CompareTable, typer.Option(
        "--table", help="With --format tsv/csv, the one table printed: results (each field or "
        "group, A and B side by side) or spec (the spec fields that differ).")
    ] = CompareTable.results,
    json_out: o.Json = False,
) -> None:
    """Compare two runs (spec fields that differ; class, distance, w, b side by side) or two
    sweeps (what the sweeps ran; each group's success rate in both, the difference B - A, a
    Fisher exact p-value, and an exact McNemar p-value on the seeds both ran).

    Example: pointgan compare runs/baseline-3 runs/fixed-3
    """
    from ..results.compare import compare as compare_dirs

    with working("compare"):
        doc = compare_dirs(a, b)
    if json_out:
        console.print_json(doc)
        return
    machine = console.machine(fmt)
    cols = ["field", f"A: {a}", f"B: {b}"]
    if machine and table is CompareTable.spec:
        console.write_delimited(["field", "flag", "a", "b"],
                                [[r["field"], r.get("flag"), r["a"], r["b"]] for r in doc["spec"]],
                                fmt=fmt.value)
        return
    if machine:
        _print_results_raw(doc, fmt.value)
        return
    if doc["spec"]:
        console.print_table("spec differences", cols,
                            [[r.get("flag", r["field"]), _cell(r["a"]), _cell(r["b"])]
                             for r in doc["spec"]], fmt=fmt.value)
    else:
        sys.stdout.write("spec: the same\n")
    if doc["kind"] == "run":
        rows = [[r["field"], _cell(r["a"]), _cell(r["b"]),
                 "-" if r["delta"] is None else f"{r['delta']:+.4g}"] for r in doc["results"]]
        console.print_table("results", [*cols, "B - A"], rows, fmt=fmt.value)
        return
    several = sum(1 for g in doc["groups"] if g["p_value"] is not None) > 1
    rows = [[g["group"], _rate(g["a"]), _rate(g["b"]),
             "-" if g["delta"] is None else f"{g['delta']:+.0%}",
             "-" if g["p_value"] is None else f"{g['p_value']:.3g}", _paired(g["paired"]),
             *([_p(g.get("p_value_holm")), _p(g.get("mcnemar_p_holm"))] if several else []),
             _robust(g.get("tolerance_robustness"))]
            for g in doc["groups"]]
    t = doc["totals"]
    rows.append(["all", _rate(t["a"]), _rate(t["b"]), "", "", "", *(["", ""] if several else []),
                 ""])
    console.print_table("success rate per group", ["group", f"A: {a}", f"B: {b}", "B - A",
                                                   "p (Fisher)", "p (McNemar, shared seeds)",
                                                   *(["Holm p (Fisher)", "Holm p (McNemar)"]
                                                     if several else []),
                                                   "B vs A, tol 0.05-0.2"],
                        rows, fmt=fmt.value,
                        caption="p: two-sided exact tests per group" + (
                            "; Holm: adjusted over the groups compared" if several else "")
                        + "; McNemar on the seeds both sweeps ran (B only / A only converged); "
                        "tol 0.05-0.2: B's conclusion against A (McNemar p < 0.05) at the runs' "
                        "tolerance and whether it holds at every tolerance from 0.05 to 0.2 or "
                        "flips")


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def _robust(rob: dict[str, Any] | None) -> str:
    if rob is None:
        return "-"
    from ..sweep.tolerance import robust_text

    return robust_text(rob)


SWEEP_RESULT_COLUMNS = ["group", "a_converged", "a_n", "a_success_rate", "b_converged", "b_n",
                        "b_success_rate", "delta", "fisher_p", "mcnemar_p", "paired_n",
                        "b_only", "a_only"]


def _print_results_raw(doc: dict[str, Any], fmt: str) -> None:
    """The results table for programs: A's and B's numbers in columns of their own."""
    if doc["kind"] == "run":
        console.write_delimited(["field", "a", "b", "delta"],
                                [[r["field"], r["a"], r["b"], r["delta"]] for r in doc["results"]],
                                fmt=fmt)
        return

    def side(s: dict[str, Any] | None) -> list[Any]:
        return [None] * 3 if s is None else [s["converged"], s["n"], s["success_rate"]]

    rows = []
    for g in doc["groups"]:
        pair = g["paired"] or {}
        rows.append([g["group"], *side(g["a"]), *side(g["b"]), g["delta"], g["p_value"],
                     pair.get("mcnemar_p"), pair.get("n"), pair.get("only_group"),
                     pair.get("only_reference")])
    console.write_delimited(SWEEP_RESULT_COLUMNS, rows, fmt=fmt)


def _paired(pair: dict[str, Any] | None) -> str:
    if pair is None:
        return "-"
    return (f"{pair['mcnemar_p']:.3g} on {pair['n']} seeds ({pair['only_group']} B only, "
            f"{pair['only_reference']} A only)")


def _rate(side: dict[str, Any] | None) -> str:
    if side is None:
        return "-"
    k, n = side["converged"], side["n"]
    return f"{k}/{n} ({k / n:.0%})" if n else f"{k}/{n}"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        import json

        return json.dumps(v)
    return "-" if v is None else str(v)
