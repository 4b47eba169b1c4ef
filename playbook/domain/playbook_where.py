"""Where each key of a playbook file is, so an error can name its line and column.

Split from `playbook.domain.playbook_file` (which reads and checks the playbook) because
finding places in the text is a job of its own. Pure: text in, a lookup function out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["Locator", "Path", "locator_of", "toml_locator"]

Path = tuple[str | int, ...]
Locator = Callable[[Path], tuple[int | None, int | None]]

# --- locating keys in TOML text ------------------------------------------------------------------

_HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"(\s*)([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=\s*")


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def toml_locator(text: str) -> Locator:
    """Where each table and key of a TOML text is (line and column, 1-based).

    A line scanner, not a parser: it follows `[table]` and `[[array]]` headers and `key =`
    lines, skipping multi-line strings. Errors deeper than it can see (inside an inline table)
    are reported at the nearest enclosing key it found.
    """
    places: dict[Path, tuple[int, int]] = {}
    counts: dict[tuple[str, ...], int] = {}
    current: Path = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if in_string in line:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith(("'", '"')):
            names = _split_key(header.group(2))
            column = line.index(header.group(1)) + 1
            if header.group(1) == "[[":
                index = counts.get(names, 0)
                counts[names] = index + 1
                parent = _resolve(names[:-1], counts)
                current = (*parent, names[-1], index)
                places.setdefault((*parent, names[-1]), (number, column))
            else:
                current = _resolve(names, counts)
            places[current] = (number, column)
            continue
        key = _KEY_LINE.match(line)
        if key:
            path = (*current, *_split_key(key.group(2)))
            places[path] = (number, len(key.group(1)) + 1)
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.startswith(quote) and rest.count(quote) == 1:
                    in_string = quote

    return locator_of(places)


def locator_of(places: dict[Path, tuple[int, int]]) -> Locator:
    """Where `path` is, or else its nearest enclosing table or list that has a place."""

    def locate(path: Path) -> tuple[int | None, int | None]:
        for end in range(len(path), -1, -1):
            if path[:end] in places:
                return places[path[:end]]
        return None, None

    return locate


def _resolve(names: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> Path:
    """A header's path, with the current index of every array of tables it passes through."""
    path: list[str | int] = []
    for end in range(1, len(names) + 1):
        path.append(names[end - 1])
        if names[:end] in counts and end < len(names):
            path.append(counts[names[:end]] - 1)
    return tuple(path)
