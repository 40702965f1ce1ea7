"""The layout rules of docs/architecture.md, checked on the source itself: the may-import
table (read from the doc), no cycles, module sizes, file names owned by one module each."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pointgan_cli"
DOC = ROOT / "docs" / "architecture.md"
ENGINE = tuple(f"engine.{m}" for m in (
    "rng", "models", "losses", "grads", "layout", "batching", "randomness",
    "state", "optimizers", "capture", "snapshots", "trainer", "dirac", "replay",
    "snapshot_record"))
ROOT_MODULES = ("errors", "spec", "specfile", "naming", "verdict")
MAX_LINES = 400


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


def imports_in(name: str, source: str, is_package: bool = False) -> set[str]:
    """Absolute names the module ``name`` (dotted, from ``pointgan_cli``) imports at run time
    (``if TYPE_CHECKING:`` blocks skipped), from its source text."""
    tree = ast.parse(source)
    package = name.split(".") if is_package else name.split(".")[:-1]
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
                    found.update(f"{node.module}.{a.name}" for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                child = getattr(node, field, None)
                if isinstance(child, list):
                    visit([c for c in child if isinstance(c, ast.stmt | ast.ExceptHandler)])
            if isinstance(node, ast.ExceptHandler):
                visit(node.body)

    visit(tree.body)
    return found


def runtime_imports(name: str, path: Path) -> set[str]:
    return imports_in(name, path.read_text(encoding="utf-8"), path.name == "__init__.py")


def room(module: str) -> str:
    """The room of a module (relative dotted name): a root vocabulary module, a package, or
    ``pointgan_cli`` for the package's own ``__init__``/``__main__``."""
    head = module.split(".")[0]
    return "pointgan_cli" if head in ("", "__main__") else head


def may_import() -> dict[str, set[str]]:
    """The table of docs/architecture.md's "May import" section: room -> rooms it may import."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## May import", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`(\w+)`", cells[0]) if len(cells) >= 3 else None
        if m:
            allowed = cells[-1]
            table[m.group(1)] = set() if allowed == "nothing" else {
                a.split()[0] for a in allowed.split(",") if a.strip()}  # "room (why)"
    table["pointgan_cli"] = {"store", "cli"}  # __init__'s lazy rundir, __main__'s cli
    return table


def target_module(imported: str, known: set[str]) -> str | None:
    """The longest prefix of an imported name that is one of the package's modules."""
    if imported != "pointgan_cli" and not imported.startswith("pointgan_cli."):
        return None
    parts = imported.split(".")[1:]
    for k in range(len(parts), -1, -1):
        cand = ".".join(parts[:k])
        if cand in known:
            return cand
    return None


def crossings(sources: dict[str, tuple[str, bool]], table: dict[str, set[str]],
              known: set[str]) -> list[str]:
    """``module -> imported module`` for every import of ``sources`` (module -> (source,
    is_package)) that the table does not allow (a package's ``__init__`` pulled in with one
    of its submodules is no import of that room)."""
    bad = []
    for mod, (source, is_pkg) in sorted(sources.items()):
        src = room(mod)
        dotted = f"pointgan_cli.{mod}" if mod else "pointgan_cli"
        worst: dict[str, str] = {}  # room crossed -> the most specific module named
        for imported in imports_in(dotted, source, is_pkg):
            target = target_module(imported, known)
            if target is None:
                continue
            dst = room(target)
            if dst == src or (target == "" and dst == "pointgan_cli"):
                continue  # its own room, or the package itself (``from .. import x``)
            if dst not in table.get(src, set()) and len(target) > len(worst.get(dst, "")):
                worst[dst] = target
        bad += [f"{mod or 'pointgan_cli'} -> {t} ({src} may not import {d})"
                for d, t in sorted(worst.items())]
    return bad


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
def test_engine_modules_import_only_torch_math_numpy_games_and_each_other(name):
    libraries = {"torch", "math", "numpy", "collections", "dataclasses", "typing"}
    imported = runtime_imports(f"pointgan_cli.{name}", modules()[name])
    bad = {i for i in imported
           if not (i.split(".")[0] in libraries or i == "pointgan_cli"
                   or i.startswith(("pointgan_cli.engine", "pointgan_cli.games")))}
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


def test_every_import_follows_the_may_import_table():
    mods = modules()
    table = may_import()
    assert {room(m) for m in mods} <= set(table), "a room missing from docs/architecture.md"
    sources = {m: (f.read_text(encoding="utf-8"), f.name == "__init__.py")
               for m, f in mods.items()}
    assert crossings(sources, table, set(mods)) == []


def test_the_table_check_fails_on_a_planted_import():
    """A module of the engine that imports the CLI, one of the store that imports a sweep's
    statistics, a relative and an absolute form: each is reported; the table's own imports
    are not."""
    mods = modules()
    table = may_import()
    planted = {
        "engine.trainer": ("from ..cli import app\nfrom . import rng\n", False),
        "store.rundir": ("import pointgan_cli.sweep.stats\nfrom ..spec import RunSpec\n", False),
        "games": ("def f():\n    from ..training import records\n", True),
    }
    assert crossings(planted, table, set(mods)) == [
        "engine.trainer -> cli.app (engine may not import cli)",
        "games -> training.records (games may not import training)",
        "store.rundir -> sweep.stats (store may not import sweep)",
    ]


def test_the_table_names_every_room_and_only_rooms_that_exist():
    rooms = {room(m) for m in modules()}
    table = may_import()
    assert set(table) == rooms
    assert all(allowed <= rooms for allowed in table.values())


def test_no_module_is_over_400_lines():
    long = {m: n for m, f in modules().items()
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_root_holds_the_vocabulary_only():
    root = sorted(f.stem for f in PKG.glob("*.py") if f.stem not in ("__init__", "__main__"))
    assert len(root) <= 8 and set(root) == set(ROOT_MODULES)
