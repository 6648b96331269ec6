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

#: The one cycle left, to be broken by giving each domain package its own part of the schema
#: (`spec.py`) and checking policy parameters in the scenario checks: `scenario.schema`
#: imports the policy registries, which import the views, the topology and the allocator,
#: which import the schema. It may only shrink: a module that leaves it must leave this list.
KNOWN = frozenset({
    "dcsim.allocate.epoch", "dcsim.allocate.model", "dcsim.allocate.schema", "dcsim.infra.cluster",
    "dcsim.infra.topology", "dcsim.policies", "dcsim.policies.lp", "dcsim.policies.placement",
    "dcsim.policies.repair", "dcsim.policies.scheduling", "dcsim.scenario.schema", "dcsim.views",
})  # fmt: skip


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


def test_no_import_cycle_besides_the_known_one() -> None:
    cyclic = cyclic_modules(import_graph())
    new = sorted(cyclic - KNOWN)
    assert not new, f"new import cycle through {new}: import downwards only (docs/architecture.md)"
    gone = sorted(KNOWN - cyclic)
    assert not gone, f"{gone} left the known cycle: take them out of KNOWN"


def test_the_cycle_finder_sees_imports_inside_functions_and_type_checking() -> None:
    """The reader finds a cycle made only of a function-level and a TYPE_CHECKING import."""
    graph = import_graph()
    graph.add_edge("dcsim.core.units", "dcsim.engine.model")  # as if core.units imported the model in a function
    assert {"dcsim.core.units", "dcsim.engine.model"} <= cyclic_modules(graph)
    # engine.model -> engine.reliability is a function-level import in DataCenterModel.__init__.
    assert graph.has_edge("dcsim.engine.model", "dcsim.engine.reliability")
    # engine.runs -> engine.reliability is a TYPE_CHECKING import.
    assert graph.has_edge("dcsim.engine.runs", "dcsim.engine.reliability")
