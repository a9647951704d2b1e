"""The ``smsdesk`` package has no import cycles between its modules, counting the imports made inside
functions too (an import deferred to keep a cold start small is fine; one deferred to hide a cycle is
not: the cycle is still there, only discovered later).

A cycle makes what a handler loads depend on which module is imported first, and breaks with a
half-initialised module as soon as one of them uses a name of the other at import time. Where a low
module must run code of a higher one (a timer's action), the higher one registers it and the entry
point imports both (``inbox.timer_handler``). ``smsdesk.local`` (the local stack, never deployed) and
imports only for type checking are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "smsdesk" / "smsdesk"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import of the module, at its top or inside a function, but not under ``if TYPE_CHECKING``."""
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for n in ast.walk(node)
    }
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped]


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    paths = {name: p for name, p in paths.items() if not name.startswith("smsdesk.local")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets |= {base} | {f"{base}.{a.name}" for a in node.names}
        # importing a.b.c runs a and a.b first
        closure = {t.rsplit(".", i)[0] for t in targets for i in range(t.count(".") + 1)}
        graph[name] = {t for t in closure if t in paths and t != name and not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_checker_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_the_package_imports() -> None:
    graph = import_graph()
    assert "smsdesk.channels" in graph["smsdesk.sending.sender"]
    assert "smsdesk.models" in graph["smsdesk.text.limits"] or "smsdesk.errors" in graph["smsdesk.text.limits"]
    assert "smsdesk.inbox.conversations" in graph["smsdesk.inbox.transfers"]


def test_the_package_has_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])
