"""No import cycles in dcsim/: every import counts, at module level, inside functions and under TYPE_CHECKING.

Imports are read from the source (ast), not executed, so an import hidden in a function or
kept for type checkers is a dependency like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from conftest import ROOT

PACKAGE = ROOT / "dcsim"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """Module -> module for every ``import`` of a dcsim module anywhere in a dcsim module."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in files and t != name)
    return graph


def cyclic_modules(graph: nx.DiGraph) -> set[str]:
    return {m for c in nx.strongly_connected_components(graph) if len(c) > 1 for m in c}


def test_no_import_cycle() -> None:
    cyclic = cyclic_modules(import_graph())
    assert not cyclic, f"import cycle through {sorted(cyclic)}: import downwards only (docs/architecture.md)"


def hidden_edge(kind: type[ast.stmt]) -> tuple[str, str]:
    """A dcsim import edge made only by an import inside a function (``ast.FunctionDef``) or under
    ``if TYPE_CHECKING:`` (``ast.If``): its module imports that target nowhere at module level.

    Picked from the tree as it is, so that the self-test holds when modules move.
    """
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    for name, path in sorted(files.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        at_top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
        for node in ast.walk(tree):
            if not isinstance(node, kind):
                continue
            if isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                continue
            for inner in ast.walk(node):
                hidden = isinstance(inner, ast.ImportFrom) and inner.module in files and inner.module not in at_top
                if hidden and inner.module != name:
                    return name, str(inner.module)
    raise AssertionError(f"no {kind.__name__} import of a dcsim module left to test the reader with")


def test_the_cycle_finder_sees_imports_inside_functions_and_type_checking() -> None:
    """The reader finds the edges of a function-level and of a TYPE_CHECKING import, and a cycle they close."""
    graph = import_graph()
    for kind in (ast.FunctionDef, ast.If):
        source, target = hidden_edge(kind)
        assert graph.has_edge(source, target), (kind.__name__, source, target)
        closed = graph.copy()
        closed.add_edge(target, source)  # as if the target imported its importer back
        assert {source, target} <= cyclic_modules(closed)
