"""The import graph of ``lipexact`` and ``reductions`` has no cycle, and ``reductions`` never imports ``lipexact``.

Every ``import`` statement counts, at module level and inside functions alike (an import inside a function
is still a dependency; hiding a cycle there is what this test is meant to catch). The graph is read with
:mod:`ast` from the source files, without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lipexact", "reductions")


def _modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``module`` imports anywhere in its source (relative imports resolved)."""
    edges = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in known:  # import a.b.c of a non-module attribute: its nearest module
                    name = name.rpartition(".")[0]
                if name:
                    edges.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    edges.add(submodule)
                elif source in known:
                    edges.add(source)
    edges.discard(module)
    return edges


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over the project's packages."""
    modules = _modules(root)
    known = set(modules)
    return {name: _imported(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def test_the_cycle_finder_finds_a_planted_cycle_and_nothing_in_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_function_level_and_relative_imports_are_edges(tmp_path):
    package = tmp_path / "lipexact"
    (package / "sub").mkdir(parents=True)
    (tmp_path / "reductions").mkdir()
    (tmp_path / "reductions" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("def f():\n    from lipexact.sub import b\n    return b\n")
    (package / "sub" / "b.py").write_text("from . import a\n")
    graph = import_graph(tmp_path)
    assert graph["lipexact.sub.a"] == {"lipexact.sub.b"} and graph["lipexact.sub.b"] == {"lipexact.sub.a"}
    assert cycles(graph) == [["lipexact.sub.a", "lipexact.sub.b"]]


def _package_cycles(package: str) -> list[str]:
    graph = import_graph()
    return [_describe(graph, c) for c in cycles(graph) if c[0].split(".")[0] == package]


def test_lipexact_has_no_import_cycle():
    assert _package_cycles("lipexact") == []


def test_reductions_has_no_import_cycle():
    assert _package_cycles("reductions") == []


def test_reductions_never_imports_lipexact():
    graph = import_graph()
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.split(".")[0] == "reductions"
                    for t in targets if t.split(".")[0] == "lipexact")
    assert upward == []


def test_the_graph_sees_the_bounds_modules():
    graph = import_graph()
    assert "lipexact.bounds.power" in graph["lipexact.bounds.layer_norm"]
    assert "lipexact.bounds.matrices" in graph["lipexact.bounds.affine"]
