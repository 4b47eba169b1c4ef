"""The pure core stays pure: no Slack, no SQL, no shell, no clock reads (parsed, not grepped)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "playbook" / "domain"
# Every module of the folder, found, not listed: a new module is checked the day it is added.
PURE = sorted(str(p.relative_to(DOMAIN)) for p in DOMAIN.rglob("*.py"))
BANNED_MODULES = ("slack_bolt", "slack_sdk", "sqlalchemy", "bot", "alembic", "apscheduler",
                  "requests", "urllib", "socket", "sqlite3", "psycopg", "smtplib", "importlib",
                  "subprocess", "os", "pathlib", "shutil", "io")
# the domain never reaches outward into its own package's impure halves either
BANNED_PACKAGES = ("playbook.store", "playbook.services")
BANNED_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
}


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def _clock_reads(tree: ast.AST) -> list[str]:
    """Clock reads however spelled: `datetime.now()`, `dt.now()` after `import … as dt`,
    `from time import monotonic`, `time.time()`."""
    aliases: dict[str, str] = {}  # local name -> "datetime" / "date" / "time"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("datetime", "time"):
            for alias in node.names:
                if node.module == "time" and ("time", alias.name) in BANNED_CALLS:
                    found.append(f"from time import {alias.name}")
                aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("datetime", "time"):
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name):
            owner = aliases.get(node.value.id, node.value.id)
        elif isinstance(node.value, ast.Attribute):
            owner = node.value.attr
        else:
            continue
        if (owner, node.attr) in BANNED_CALLS:
            found.append(f"{owner}.{node.attr}")
    return found


def test_the_domain_folder_holds_the_pure_core() -> None:
    assert {"model.py", "rules.py", "cadence.py", "verbs/__init__.py"} <= set(PURE)


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports_and_clock(name: str) -> None:
    tree = ast.parse((DOMAIN / name).read_text())
    bad = [m for m in _imports(tree) if m.split(".")[0] in BANNED_MODULES
           or m.startswith(BANNED_PACKAGES)]
    assert not bad, f"playbook/domain/{name} imports {bad}"
    assert not _clock_reads(tree), f"playbook/domain/{name} reads the clock"
    assert not _file_reads(tree), f"playbook/domain/{name} reads files"


def _file_reads(tree: ast.AST) -> list[str]:
    """`open(...)`, `Path.read_text()` and friends: the core gets text, never a path."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id == "open":
                found.append("open")
            elif isinstance(fn, ast.Attribute) and fn.attr in (
                    "read_text", "read_bytes", "write_text", "write_bytes"):
                found.append(fn.attr)
    return found


def _deferred_imports(tree: ast.AST) -> list[str]:
    """Imports of playbook modules made inside a function: how a cycle hides."""
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    found += [a.name for a in node.names if a.name.startswith("playbook")]
                elif isinstance(node, ast.ImportFrom) and (node.level or (
                        node.module or "").startswith("playbook")):
                    found.append(node.module or ".")
    return found


@pytest.mark.parametrize("name", PURE)
def test_the_domain_defers_no_import_of_its_own(name: str) -> None:
    """Dependencies inside the domain are acyclic, so every one of them is imported at the top
    (optional extras such as PyYAML may still be imported where they are used)."""
    assert not _deferred_imports(ast.parse((DOMAIN / name).read_text())), name


def test_the_check_catches_deferred_imports() -> None:
    source = "def f():\n    from playbook.domain import rules\n    import yaml\n"
    assert _deferred_imports(ast.parse(source)) == ["playbook.domain"]


def test_playbook_never_imports_bot() -> None:
    for path in (ROOT / "playbook").rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [m for m in _imports(tree) if m.split(".")[0] == "bot"], path.name


@pytest.mark.parametrize("source", [
    "from datetime import datetime as dt\nx = dt.now()\n",
    "import datetime as d\nx = d.datetime.utcnow()\n",
    "from time import monotonic\nx = monotonic()\n",
    "import time as t\nx = t.time()\n",
    "from datetime import date\nx = date.today()\n",
])
def test_aliased_clock_reads_are_caught(source: str) -> None:
    assert _clock_reads(ast.parse(source))


def test_the_check_itself_catches_violations() -> None:
    tree = ast.parse("import slack_sdk\nfrom datetime import datetime\nx = datetime.now()\n")
    assert _imports(tree)[0] == "slack_sdk"
    assert _clock_reads(tree) == ["datetime.now"]


def test_the_check_catches_file_reads() -> None:
    found = _file_reads(ast.parse("text = open('x').read()\ny = p.read_text()\n"))
    assert sorted(found) == ["open", "read_text"]


def test_playbook_top_level_holds_only_folders() -> None:
    """Which module is pure, which is SQL and which is a use case is told by its folder."""
    loose = {p.name for p in (ROOT / "playbook").glob("*.py")} - {"__init__.py"}
    assert not loose, f"put {sorted(loose)} in playbook/domain, store or services"
