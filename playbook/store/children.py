"""All children of some incidents in ONE statement.

The child tables (`playbook.store.mapping.CHILDREN`) meant a SELECT each per incident load (and
as many in every save, to diff against), although most incidents have rows in one or two: statement
overhead was most of the CPU of a reminder. Instead, one UNION ALL of the tables, each projected
onto the same typed "slots" (tag, id, incident_id, number, then 8 text, 4 datetime, 1 integer
and 1 boolean), padded with typed NULLs; the slots' types carry SQLAlchemy's result processing
(UTC datetimes, booleans on SQLite), and `unslot` turns a row back into its table's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Text,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    text,
    union_all,
)

from playbook.domain.model import Incident
from playbook.store.base import UTCDateTime
from playbook.store.mapping import CHILDREN, ChildSpec

__all__ = ["CHILDREN_OF_IDS", "CHILDREN_OF_ONE", "children_union", "fill_children", "unslot"]

_SLOT_KINDS: tuple[tuple[str, Any, int], ...] = (
    ("s", Text(), 8),
    ("t", UTCDateTime(), 4),
    ("i", Integer(), 1),
    ("b", Boolean(), 1),
)


def _slot_kind(column: Any) -> str:
    if isinstance(column.type, UTCDateTime):
        return "t"
    if isinstance(column.type, Boolean):
        return "b"
    if isinstance(column.type, Integer):
        return "i"
    return "s"


def _child_layout(spec: ChildSpec) -> dict[str, str]:
    """Which slot each of the table's own columns goes to: {column name: slot name}."""
    used: dict[str, int] = {}
    layout: dict[str, str] = {}
    for column in spec.row_type.__table__.c:
        if column.name in ("id", "incident_id", "team_id", "number"):
            continue
        kind = _slot_kind(column)
        used[kind] = used.get(kind, 0) + 1
        layout[column.name] = f"{kind}{used[kind]}"
    return layout


_LAYOUTS: dict[str, dict[str, str]] = {spec.field: _child_layout(spec) for spec in CHILDREN}
_SLOTS: tuple[tuple[str, Any], ...] = tuple(
    (f"{kind}{n}", type_) for kind, type_, count in _SLOT_KINDS for n in range(1, count + 1)
)
assert all(set(layout.values()) <= {name for name, _ in _SLOTS} for layout in _LAYOUTS.values())


def children_union(incident_filter: Callable[[Any], ColumnElement[bool]]) -> Any:
    """SELECT ... UNION ALL ... of every child table, rows where `incident_filter(table)`."""
    parts = []
    for tag, spec in enumerate(CHILDREN):
        child = spec.row_type.__table__
        by_slot = {slot: child.c[name] for name, slot in _LAYOUTS[spec.field].items()}
        parts.append(
            select(
                literal_column(str(tag), Integer()).label("tag"),
                child.c.id.label("id"),
                child.c.incident_id.label("incident_id"),
                child.c.number.label("number"),
                *[
                    (by_slot[slot] if slot in by_slot else cast(null(), type_)).label(slot)
                    for slot, type_ in _SLOTS
                ],
            ).where(incident_filter(child))
        )
    return union_all(*parts).order_by(text("incident_id"), text("tag"), text("number"))


def unslot(row: Any) -> tuple[ChildSpec, Any]:
    """The child spec of a union row and the row as its own table's columns (for from_row)."""
    spec = CHILDREN[row.tag]
    values = {name: getattr(row, slot) for name, slot in _LAYOUTS[spec.field].items()}
    values.update(id=row.id, incident_id=row.incident_id, number=row.number)
    return spec, _Columns(values)


class _Columns(dict[str, Any]):
    """A dict whose keys read as attributes, like a Row (what `ChildSpec.from_row` expects)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


CHILDREN_OF_ONE = children_union(lambda child: child.c.incident_id == bindparam("incident_id"))
# Built once: SQLAlchemy memoizes a statement's cache key on the object, and generating the key
# of this UNION (a part per child table) anew for every load cost more CPU than running it.
CHILDREN_OF_IDS = children_union(
    lambda child: child.c.incident_id.in_(bindparam("incident_ids", expanding=True)))


def fill_children(incidents: dict[int | None, Incident], rows: Iterable[Any]) -> None:
    for row in rows:
        inc = incidents.get(row.incident_id)
        if inc is None:  # PostgreSQL: an incident committed between the two statements
            continue
        spec, columns = unslot(row)
        getattr(inc, spec.field).append(spec.from_row(columns))
