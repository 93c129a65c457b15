"""The house: imports point down the layers and never make a cycle.

Every import is read from the source with `ast`, wherever it is written (module level, inside a
function, under `if TYPE_CHECKING:`), so a cycle cannot hide behind a late import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom. A module may import its own package and the packages of lower layers; two
# packages on one layer do not import each other. `lossguard` itself (the version) is below all.
LAYERS: dict[str, int] = {
    "cli": 6,
    "report": 5, "dynamic": 5,
    "pipeline": 4,
    "engine": 3, "rules": 3,
    "api": 2,
    "analysis": 1,
    "knowledge": 0,
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in (("lossguard", "lossguard"), ("rules", "lossguard.rules")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The lossguard modules `name` imports (a name imported from a package that is a module
    counts as that module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> str | None:
    """The layer of a module: `lossguard.<layer>...` (`lossguard.__main__` is the cli's)."""
    if name == "lossguard":
        return None
    part = name.split(".")[1]
    return "cli" if part == "__main__" else part


def test_every_module_has_a_layer():
    assert {_layer(m) for m in MODULES} - {None} <= set(LAYERS)


def test_imports_point_down_the_layers():
    wrong = []
    for name, targets in GRAPH.items():
        own = _layer(name)
        for target in targets:
            theirs = _layer(target)
            if theirs is None or theirs == own:
                continue
            if own is None or LAYERS[theirs] >= LAYERS[own]:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_rules_import_only_the_api():
    wrong = [f"{name} -> {target}" for name, targets in GRAPH.items()
             if name.startswith("lossguard.rules") for target in targets
             if target != "lossguard.api" and not target.startswith("lossguard.rules")]
    assert wrong == []


def test_knowledge_imports_nothing_else_of_lossguard():
    assert {name: targets for name, targets in GRAPH.items()
            if name.startswith("lossguard.knowledge")
            and any(not t.startswith("lossguard.knowledge") for t in targets)} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected


def test_a_function_level_import_counts(tmp_path):
    """A late import is an import: it is what hid the cycles this test keeps out."""
    assert "lossguard.pipeline.lint" in GRAPH["lossguard.pipeline.batch"]
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from .lint import lint_source\n")
    assert _imports("lossguard.pipeline.late", source) == {"lossguard.pipeline.lint"}
