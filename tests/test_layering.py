"""The code's shape, checked from its imports and sizes so that it stays true.

- Dependencies point down: ``connectors`` and ``actions`` use ``knowledge`` and ``records``;
  ``records`` uses only ``knowledge``'s database settings; ``knowledge`` uses none of them;
  ``connectors`` never imports ``actions`` (answer composition lives in ``knowledge``).
- No import cycles between modules, counting imports inside functions and under TYPE_CHECKING.
- No source module over 400 lines (tests aside): a module that grows past it is split by
  responsibility, not by line count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("knowledge", "records", "actions", "connectors", "assistant", "scripts", "bench")
MAX_LINES = 400
# What records may take from knowledge: where the database is and how to open it.
RECORDS_MAY_USE = {"knowledge.database", "knowledge.settings"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                resolved = resolve(target)
                if resolved is not None and resolved != name:
                    graph[name].add(resolved)
    return graph


def test_dependencies_point_down() -> None:
    graph = _imports(_modules())
    wrong = sorted(
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if (source.startswith("knowledge") and target.split(".")[0] in ("actions", "connectors", "records"))
        or (source.startswith("records") and target.split(".")[0] in ("actions", "connectors"))
        or (source.startswith("records") and target.startswith("knowledge") and target not in RECORDS_MAY_USE)
        or (source.startswith("connectors") and target.startswith("actions"))
    )
    assert not wrong, f"imports that point up: {wrong}"


def test_there_are_no_import_cycles() -> None:
    graph = _imports(_modules())
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_is_over_400_lines() -> None:
    too_long = {}
    for path in _modules().values():
        relative = path.relative_to(REPO).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long[relative] = lines
    assert not too_long, f"modules over their limit (split them by responsibility): {too_long}"
