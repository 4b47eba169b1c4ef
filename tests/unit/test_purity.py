"""The pure core stays pure: no Slack, no SQL, no shell, no clock reads (parsed, not grepped)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    "model",
    "errors",
    "steps",
    "rules",
    "commands",
    "cadence",
    "parse",
    "text",
    "summary",
    "reminders",
    "stats",
    "export",
    "recurrence",
]
BANNED_MODULES = ("slack_bolt", "slack_sdk", "sqlalchemy", "bot", "alembic", "apscheduler")
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
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in BANNED_CALLS
        ):
            found.append(f"{node.value.id}.{node.attr}")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and (node.value.attr, node.attr) in BANNED_CALLS
        ):
            found.append(f"{node.value.attr}.{node.attr}")
    return found


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports_and_clock(name: str) -> None:
    tree = ast.parse((ROOT / "playbook" / f"{name}.py").read_text())
    bad = [m for m in _imports(tree) if m.split(".")[0] in BANNED_MODULES]
    assert not bad, f"playbook/{name}.py imports {bad}"
    assert not _clock_reads(tree), f"playbook/{name}.py reads the clock"


def test_playbook_never_imports_bot() -> None:
    for path in (ROOT / "playbook").glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [m for m in _imports(tree) if m.split(".")[0] == "bot"], path.name


def test_the_check_itself_catches_violations() -> None:
    tree = ast.parse("import slack_sdk\nfrom datetime import datetime\nx = datetime.now()\n")
    assert _imports(tree)[0] == "slack_sdk"
    assert _clock_reads(tree) == ["datetime.now"]


def test_every_playbook_module_is_classified() -> None:
    impure = {"store", "service", "__init__"}
    present = {p.stem for p in (ROOT / "playbook").glob("*.py")}
    assert present - impure == set(PURE), "name new playbook modules in PURE or impure"
