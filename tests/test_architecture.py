"""The layout rules of docs/architecture.md, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pointgan_cli"
ENGINE = tuple(f"engine.{m}" for m in (
    "rng", "models", "losses", "grads", "layout", "batching", "randomness",
    "state", "optimizers", "capture", "snapshots", "trainer", "dirac", "replay",
    "snapshot_record"))


def modules() -> dict[str, Path]:
    """Dotted module name (relative to the package) -> file."""
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PKG).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def string_literals(path: Path) -> list[str]:
    """Every string constant in the code, docstrings excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstring_nodes(tree)
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def runtime_imports(name: str, path: Path) -> set[str]:
    """Absolute names imported at run time (``if TYPE_CHECKING:`` blocks skipped)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    # ``package`` starts with "pointgan_cli": level 1 is the package itself, 2 its parent...
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    continue
                if node.level:
                    base = package[: len(package) + 1 - node.level]
                    mod = ".".join(base + ([node.module] if node.module else []))
                    found.add(mod)
                    found.update(f"{mod}.{a.name}" for a in node.names)
                else:
                    found.add(node.module or "")
            for field in ("body", "orelse", "finalbody", "handlers"):
                child = getattr(node, field, None)
                if isinstance(child, list):
                    visit([c for c in child if isinstance(c, ast.stmt | ast.ExceptHandler)])
            if isinstance(node, ast.ExceptHandler):
                visit(node.body)

    visit(tree.body)
    return found


def test_only_rundir_knows_run_file_names():
    names = {"spec.json", "metrics.jsonl", "summary.json", "checkpoints", "last.npz"}
    offenders = {m: sorted(names & set(string_literals(f))) for m, f in modules().items()
                 if m != "store.rundir"}
    assert {m: v for m, v in offenders.items() if v} == {}


def test_only_sweepdir_knows_sweep_file_names():
    offenders = {m for m, f in modules().items() if m != "store.sweepdir"
                 and "sweep.json" in set(string_literals(f))}
    assert offenders == set()


@pytest.mark.parametrize("name", ENGINE)
def test_engine_modules_import_only_torch_math_games_and_each_other(name):
    allowed = {"torch", "math", "collections.abc", "dataclasses", "typing"}
    allowed |= {f"pointgan_cli.{e}" for e in ENGINE} | {"pointgan_cli", "pointgan_cli.engine"}
    imported = runtime_imports(f"pointgan_cli.{name}", modules()[name])
    bad = {i for i in imported
           if not (i.split(".")[0] in {"torch", "math", "numpy"} or i in allowed
                   or i == "pointgan_cli.games" or i.startswith("pointgan_cli.games.")
                   or any(i.startswith(f"pointgan_cli.{e}.") for e in ENGINE)
                   or i in {f"pointgan_cli.{e}" for e in ENGINE})}
    # ``from . import losses, rng`` records pointgan_cli.engine.losses / .rng: allowed above
    assert bad == set(), f"{name} imports {sorted(bad)}"


def test_no_import_cycles():
    mods = modules()
    full = {f"pointgan_cli.{m}" if m else "pointgan_cli": m for m in mods}
    graph: dict[str, set[str]] = {}
    for dotted, m in full.items():
        deps = set()
        for i in runtime_imports(dotted, mods[m]):
            # keep the longest prefix that is one of our modules
            parts = i.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in full and cand != dotted:
                    deps.add(cand)
                    break
        # a package's __init__ is imported with any of its submodules: not an edge back
        graph[dotted] = {d for d in deps if not dotted.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            dfs(node)


def test_the_cycle_check_sees_relative_imports():
    deps = runtime_imports("pointgan_cli.sweep.run", modules()["sweep.run"])
    assert "pointgan_cli.store.sweepdir" in deps and "pointgan_cli.sweep.plan" in deps
    assert "pointgan_cli.spec" not in runtime_imports("pointgan_cli.engine.trainer",
                                                      modules()["engine.trainer"])
