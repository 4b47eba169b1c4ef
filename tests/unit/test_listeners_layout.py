"""bot/listeners keeps its shape: surfaces never import each other or bot.app (parsed, not
grepped), and `register_all` registers every surface module found in the folder."""

from __future__ import annotations

import ast
from pathlib import Path
from unittest.mock import MagicMock

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTENERS = ROOT / "bot" / "listeners"
# What surfaces share; everything else in the folder is a surface.
SHARED = {"deps", "errors", "forms"}
WIRING = {"__init__", "middleware"}
SURFACES = sorted(p.stem for p in LISTENERS.glob("*.py") if p.stem not in SHARED | WIRING)


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("name", sorted(p.stem for p in LISTENERS.glob("*.py")))
def test_no_listener_module_imports_the_app(name: str) -> None:
    imported = _imported(LISTENERS / f"{name}.py")
    assert not {m for m in imported if m == "bot.app" or m.startswith("bot.app.")}


@pytest.mark.parametrize("name", SURFACES)
def test_a_surface_imports_only_what_surfaces_share(name: str) -> None:
    imported = _imported(LISTENERS / f"{name}.py")
    others = {m.split(".")[2] for m in imported if m.startswith("bot.listeners.")}
    assert others <= SHARED, f"{name} imports {sorted(others - SHARED)}"


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_modules_import_no_surface(name: str) -> None:
    imported = _imported(LISTENERS / f"{name}.py")
    others = {m.split(".")[2] for m in imported if m.startswith("bot.listeners.")}
    assert not others & set(SURFACES)


def test_register_all_registers_every_surface_after_the_middlewares(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.listeners as listeners

    called: list[str] = []
    for name in [*SURFACES, "middleware"]:
        monkeypatch.setattr(getattr(listeners, name), "register",
                            lambda *args, _name=name, **kwargs: called.append(_name))
    listeners.register_all(MagicMock(), MagicMock())
    assert called[0] == "middleware"
    assert sorted(called) == sorted([*SURFACES, "middleware"])
    # Bolt tries listeners in the order they were added: the outage surface's "modal:draft"
    # must come before the generic "modal:" submissions of the views surface
    assert called.index("outage") < called.index("views")
