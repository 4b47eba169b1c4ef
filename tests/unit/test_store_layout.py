"""The store package's shape: modules import each other, never the package, and `__all__` is
what the rest of the program calls.

`playbook/store/__init__.py` imports every store module (that is how the migrations see every
table), so a store module importing the package back is a cycle hidden behind import order.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import playbook.store as store

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "playbook" / "store"
# Code outside the store that calls it (tests may reach into the modules directly).
CALLERS = ("bot", "playbook/services", "bench", "migrations")


def _imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, `if TYPE_CHECKING:` ones included."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_no_store_module_imports_the_package() -> None:
    offenders = []
    for path in sorted(STORE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for module, names in _imports_of(path):
            if module == "playbook.store" or (module == "playbook" and "store" in names):
                offenders.append(f"{path.relative_to(ROOT)} imports {module} {names}")
    assert not offenders, offenders


def test_all_is_what_other_packages_use() -> None:
    modules = {path.stem for path in STORE.glob("*.py")}
    used: set[str] = set()
    for folder in CALLERS:
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            used.update(re.findall(r"\bstore\.([A-Za-z_]\w*)\b", source))
            for module, names in _imports_of(path):
                if module == "playbook.store":
                    used.update(names)
    exported = set(store.__all__)
    assert all(hasattr(store, name) for name in exported)
    assert used - exported - modules == set(), "used but not exported"
    assert exported - used == set(), "exported but used by no other package"
