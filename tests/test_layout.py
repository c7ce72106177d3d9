"""The house's rules, checked on the source: one direction of imports, small rooms.

Imports are read with :mod:`ast`, at module level and inside functions (a
function-local import written to dodge a circle is still an arrow), including those
under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "leanloop"
#: Below the façade: nothing here may import ``leanloop.project``.
BELOW = ("leanloop.learn", "leanloop.measure", "leanloop.build", "leanloop.loop", "leanloop.workspace",
         "leanloop.report")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 80


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports (``from pkg
    import submodule`` points at the submodule, ``from module import name`` at the module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in modules:
                        edges.add(full)
                    elif base in modules:
                        edges.add(base)
        graph[name] = edges - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_files() -> None:
    assert circles(import_graph()) == []


def test_nothing_below_the_facade_imports_it() -> None:
    graph = import_graph()
    offenders = sorted(m for m, edges in graph.items() if m.startswith(BELOW) and "leanloop.project" in edges)
    assert offenders == []


def test_drift_methods_do_not_import_the_engine() -> None:
    graph = import_graph()
    engine = "leanloop.measure.drift.engine"
    methods = {m for m in graph[engine] if m.startswith("leanloop.measure.drift.")} - {
        "leanloop.measure.drift.result", "leanloop.measure.drift.samples"}
    assert methods, "the engine's registry lists the method modules"
    assert sorted(m for m in methods if engine in graph[m]) == []


def _sized_files() -> list[Path]:
    """Every module under ``src/``: the size rules hold everywhere."""
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", _sized_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_small_modules_and_functions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"split {path.name} by concern"
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []
