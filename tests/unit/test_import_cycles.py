"""The ``smsdesk`` package has no import cycles between its modules (module-level imports).

A cycle makes what a handler loads depend on which module is imported first, and breaks with a
half-initialised module as soon as one of them uses a name of the other at import time. A module that
needs one that depends on it imports it inside the function that uses it (``timers._register_actions``
loads ``transfers``, whose action it runs). ``smsdesk.local`` (the local stack, never deployed) and
imports only for type checking are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "smsdesk" / "smsdesk"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.If):
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                continue
            body = node.body + node.orelse
        elif isinstance(node, ast.Try):
            body = node.body + node.orelse + node.finalbody + [n for h in node.handlers for n in h.body]
        else:
            body = [node]
        out += [n for n in body if isinstance(n, ast.Import | ast.ImportFrom)]
    return out


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    paths = {name: p for name, p in paths.items() if not name.startswith("smsdesk.local")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
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
    assert "smsdesk.channels" in graph["smsdesk.sender"]
    assert "smsdesk.models" in graph["smsdesk.text.limits"] or "smsdesk.errors" in graph["smsdesk.text.limits"]
    assert "smsdesk.conversations" in graph["smsdesk.transfers"]


def test_the_package_has_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])
