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
    "handover",
    "reopen",
    "links",
    "capture",
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
    "timeline",
    "outage",
    "playbook_file",
    "windows",
    "snooze",
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


def test_every_playbook_module_is_classified() -> None:
    # builtin reads the packaged data file; playbook_store and outbox are SQL
    impure = {"store", "service", "__init__", "timeline_store", "timeline_service",
              "outage_store", "outage_service", "lifecycle_store", "lifecycle_service",
              "playbook_store", "builtin", "outbox"}
    present = {p.stem for p in (ROOT / "playbook").glob("*.py")}
    assert present - impure == set(PURE), "name new playbook modules in PURE or impure"
