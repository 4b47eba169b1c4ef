"""The house keeps its shape: no import cycles, no giant modules, the shell never imported inward.

Import cycles are counted the strict way: every import outside `if TYPE_CHECKING:` is an edge,
a deferred one inside a function too, because a cycle hidden behind a deferred import is still
a cycle a reader has to untangle. A package's `__init__` importing its own submodules is not an
edge worth counting (the package is made of them).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "playbook")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(path: Path, name: str) -> set[str]:
    """Every dotted name `path` imports at run time, resolved against its package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        visit(node)

    visit(ast.parse(path.read_text()))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _imported(path, name):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not target.startswith(name + "."):
                edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_reports_the_cycle_not_its_callers() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_type_checking_imports_are_not_edges(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from bot.app import Deps\nelse:\n    import json\n"
                      "def f():\n    from playbook.domain import rules\n")
    names = _imported(module, "bot.m")
    assert "bot.app" not in names
    assert {"json", "playbook.domain", "playbook.domain.rules"} <= names


def test_no_module_over_600_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {n: size for n, size in sizes.items() if size > MAX_LINES} == {}, \
        "split these where their parts separate"


def test_playbook_never_imports_the_shell() -> None:
    graph = import_graph()
    wrong = {m: sorted(d for d in deps if d.split(".")[0] == "bot")
             for m, deps in graph.items() if m.split(".")[0] == "playbook"}
    assert not {m: d for m, d in wrong.items() if d}


def test_the_domain_reaches_neither_store_nor_services() -> None:
    graph = import_graph()
    inward = ("playbook.store", "playbook.services")
    wrong = {m: sorted(d for d in deps if d.startswith(inward))
             for m, deps in graph.items() if m.startswith("playbook.domain")}
    assert not {m: d for m, d in wrong.items() if d}


def test_local_slack_is_not_production_code() -> None:
    """bot/local (the stand-in and the demo sandbox) is used by the demo command and tests only."""
    graph = import_graph()
    users = {m for m, deps in graph.items()
             if any(d.startswith("bot.local") for d in deps) and not m.startswith("bot.local")}
    assert users <= {"bot.cli.demo"}, users


def test_the_command_line_loads_no_database_layer_until_a_command_needs_it() -> None:
    """`crisisbot --help`, `playbook check` and the settings checks start in a tenth of a
    second; the store (and SQLAlchemy with it) costs four times that, so it loads on use."""
    probe = ("import sys, bot.cli, bot.config\n"
             "print(sorted(m for m in ('sqlalchemy', 'playbook.store', 'slack_bolt')"
             " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
