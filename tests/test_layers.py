"""The import graph of ``src/flatbook`` keeps the layers of ARCHITECTURE.md: one way, no cycles.

Read with the standard library's :mod:`ast` (no import is executed): every ``import`` and
``from ... import`` of a flatbook module, at module level and inside functions. The rules:

1. Every module sits in a layer of :data:`LAYERS` (a new top-level package must be placed here
   and in ARCHITECTURE.md).
2. No module imports from a layer above its own, at module level or inside a function
   (a function-level import is for start-up laziness only, and points down or sideways).
3. No import cycle among modules through module-level imports, and none that a function-level
   import closes (that would be an import hidden in a function to dodge the cycle).

:data:`KNOWN` lists the violations that remain today, each with its reason; the test fails
when one of them is fixed too (so the list only shrinks) and when any other appears.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The layers, lowest first: (name, top-level modules/packages of flatbook). "" is the package
#: itself (flatbook/__init__.py, the public API's face). Keep in step with ARCHITECTURE.md.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "_version",
            "_lazy",
            "errors",
            "params",
            "validate",
            "suggest",
            "fileio",
            "jsonutil",
            "timing",
            "units",
            "extras",
            "interrupts",
            "userfile",
            "data",
        ),
    ),
    (
        "model",
        ("numerics", "estimators", "policies", "controls", "market", "hedging", "presets", "config", "paramgroups"),
    ),
    ("strategy", ("strategy",)),
    ("engines", ("sim", "backtest", "live", "multi")),
    ("analysis", ("calibrate", "risk", "sweep")),
    ("report", ("report",)),
    ("api", ("results", "api", "")),
    ("faces", ("app", "cli", "__main__")),
)

#: Violations that remain, (importer, imported) → why; the coordinator removes each once fixed.
KNOWN: dict[tuple[str, str], str] = {}

#: Cycles that remain (frozensets of modules) → why.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for p in sorted((SRC / "flatbook").rglob("*.py")):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (p, is_pkg)
    return out


MODULES = _modules()


def _targets(mod: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The flatbook modules an import statement loads (a ``from pkg import name`` of a submodule
    counts as that submodule; anything else as the nearest module that exists)."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] == "flatbook"]
    else:
        if node.level:
            base = mod.split(".") if is_pkg else mod.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            pkg = ".".join(base + ([node.module] if node.module else []))
        else:
            pkg = node.module or ""
        if pkg.split(".")[0] != "flatbook":
            return []
        names = [f"{pkg}.{a.name}" if f"{pkg}.{a.name}" in MODULES else pkg for a in node.names]
    out = []
    for name in names:
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != mod:
            out.append(name)
    return out


def _edges() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, function-level edges): importer → imported modules."""
    top: dict[str, set[str]] = defaultdict(set)
    lazy: dict[str, set[str]] = defaultdict(set)
    for mod, (path, is_pkg) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        module_level = set()
        stack: list[ast.AST] = list(tree.body)
        while stack:  # module level includes imports under if/try/with at module level (not in def/class)
            node = stack.pop()
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module_level.add(node)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                stack.extend(ast.iter_child_nodes(node))
            elif isinstance(node, ast.ExceptHandler):
                stack.extend(node.body)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    continue
                if _is_type_checking_only(tree, node):
                    continue
                (top if node in module_level else lazy)[mod].update(_targets(mod, is_pkg, node))
    return top, lazy


def _is_type_checking_only(tree: ast.Module, node: ast.AST) -> bool:
    """An import under ``if TYPE_CHECKING:`` at module level never runs."""
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING":
            if any(n is node for s in stmt.body for n in ast.walk(s)):
                return True
    return False


TOP, LAZY = _edges()


def layer_of(mod: str) -> int:
    parts = mod.split(".")
    head = parts[1] if len(parts) > 1 else ""
    for i, (_, members) in enumerate(LAYERS):
        if head in members:
            return i
    raise LookupError(mod)


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out = []
    counter = 0
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(frozenset(comp))
    return out


def test_every_module_has_a_layer():
    unplaced = []
    for mod in MODULES:
        try:
            layer_of(mod)
        except LookupError:
            unplaced.append(mod)
    assert not unplaced, f"place these in LAYERS here and in ARCHITECTURE.md: {unplaced}"


def _upward() -> dict[tuple[str, str], str]:
    found = {}
    for kind, graph in (("module-level", TOP), ("function-level", LAZY)):
        for a, targets in graph.items():
            for b in targets:
                if layer_of(b) > layer_of(a):
                    found[(a, b)] = f"{kind}: {LAYERS[layer_of(a)][0]} -> {LAYERS[layer_of(b)][0]}"
    return found


def test_no_module_imports_from_a_layer_above():
    found = _upward()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    assert not new, "imports from a higher layer:\n" + "\n".join(f"{a} -> {b} ({why})" for (a, b), why in new.items())


def test_known_upward_imports_are_still_there():
    """Once fixed, an entry leaves KNOWN: the list only shrinks."""
    found = _upward()
    fixed = [k for k in KNOWN if k not in found]
    assert not fixed, f"fixed: remove from KNOWN in tests/test_layers.py: {fixed}"


def test_no_import_cycle_at_module_level():
    new = [sorted(c) for c in _cycles(TOP) if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"


def test_no_function_level_import_closes_a_cycle():
    """A function-level import may be lazy for start-up, never a way around a cycle."""
    both = {m: TOP.get(m, set()) | LAZY.get(m, set()) for m in MODULES}
    new = [sorted(c) for c in _cycles(both) if c not in KNOWN_CYCLES]
    assert not new, f"cycles closed by imports inside functions: {new}"


@pytest.mark.parametrize("mod", ["flatbook.cli.root", "flatbook.cli.common", "flatbook.report.html"])
def test_the_graph_reader_sees_imports(mod):
    """The reader itself works: modules known to import others show edges (guards a silent empty graph)."""
    assert TOP.get(mod) or LAZY.get(mod)


def test_the_cli_root_mounts_its_subcommands_and_none_imports_it():
    subs = {m for m in MODULES if m.startswith("flatbook.cli.") and m.endswith(("_cmd", "_cmds"))}
    assert subs <= TOP["flatbook.cli.root"]
    importers = {a for graph in (TOP, LAZY) for a, t in graph.items() if "flatbook.cli.root" in t}
    assert importers <= {"flatbook.cli.entry"}, importers
