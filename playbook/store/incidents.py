"""The incident repository: add, number, save (optimistic concurrency) and the reads.

An incident is loaded whole in two statements (its row, then every child row in one UNION, see
`playbook.store.children`), as plain Core rows assembled into dataclasses: nothing stays in the
session that a later read could answer from instead of the database.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident, Status
from playbook.domain.recurrence import Candidate
from playbook.store.children import (
    CHILDREN_OF_IDS,
    CHILDREN_OF_ONE,
    children_union,
    fill_children,
    unslot,
)
from playbook.store.engine import begin_reading
from playbook.store.mapping import (
    CHILDREN,
    LIST_FIELDS,
    SCALAR_FIELDS,
    customer_key,
    incident_values,
    keyed_items,
    to_incident,
)
from playbook.store.tables import CheckinRow, IncidentRow, TeamCounterRow

__all__ = [
    "RECURRENCE_SIMILAR_LIMIT",
    "Snapshot",
    "StaleIncident",
    "active_versions",
    "add_incident",
    "children_snapshot",
    "find_by_number",
    "get_incident",
    "get_incident_by_channel",
    "get_incident_by_id",
    "list_active",
    "list_all_incidents",
    "list_incidents",
    "load_incidents",
    "number_incident",
    "recurrence_candidates",
    "save_incident",
    "save_incidents",
]


class StaleIncident(PlaybookError):
    """`save_incident` lost a race: the row's version is no longer the one that was loaded.

    Someone else saved the incident in between. Nothing of this save was written; the caller
    should reload and decide again (or tell the person to retry). It is a `PlaybookError` so
    that, if it ever reaches a person unhandled, the message still says what to do.
    """

    def __init__(self, incident_id: int | None, version: int) -> None:
        super().__init__(
            "Someone else changed this incident at the same moment, so nothing was saved. "
            "Please try again."
        )
        self.incident_id = incident_id
        self.version = version


# Statements built once (their SQL is compiled and cached once too).
_INCIDENT_BY_ID = select(IncidentRow.__table__).where(
    IncidentRow.__table__.c.id == bindparam("incident_id")
)

_SAVE_INCIDENT = (
    update(IncidentRow.__table__)
    .where(
        IncidentRow.__table__.c.id == bindparam("k_id"),
        IncidentRow.__table__.c.version == bindparam("k_version"),
    )
    .values(
        version=IncidentRow.__table__.c.version + 1,
        **{
            name: bindparam(f"v_{name}", type_=IncidentRow.__table__.c[name].type)
            for name in (*SCALAR_FIELDS, *LIST_FIELDS, "checks", "not_invited", "customer_key",
                         "status", "step")
        },
    )
)

_IN_LIST_MAX = 500
"""Up to this many incidents, children are fetched by an IN list of their ids; past it, by the
same WHERE as a subquery (SQLite limits bound parameters, and long lists plan worse)."""


def _load_rows(session: Session, *where: ColumnElement[bool], order: Any = None) -> list[Incident]:
    """The incidents matching `where`, each whole: one SELECT for them, one for all children.

    Plain Core SELECTs assembled straight into dataclasses: nothing is loaded into the session
    (so no later read can be answered from stale ORM objects), and 10,000 incidents load in 2
    statements without building, eager-loading and expunging 10,000 ORM objects with their
    children first (the scheduler's start-up rebuild reads every active incident this way).
    """
    begin_reading(session)
    connection = session.connection()  # Core rows: no ORM loading machinery for plain columns
    incidents_t = IncidentRow.__table__
    stmt = select(incidents_t).where(*where)
    stmt = stmt.order_by(*(order if order is not None else (incidents_t.c.id,)))
    result = connection.execute(stmt)
    keys = list(result.keys())
    incidents = [to_incident(dict(zip(keys, row, strict=True))) for row in result.all()]
    if not incidents:
        return []
    by_id: dict[int | None, Incident] = {inc.id: inc for inc in incidents}
    if len(by_id) > _IN_LIST_MAX:
        matching = select(incidents_t.c.id).where(*where)
        children = connection.execute(
            children_union(lambda child: child.c.incident_id.in_(matching)))
    else:
        children = connection.execute(CHILDREN_OF_IDS, {"incident_ids": list(by_id)})
    fill_children(by_id, children)
    return incidents


def _next_number(session: Session, team_id: str) -> int:
    """The team's next incident number, safe against concurrent opens on both databases.

    The counter row's UPDATE takes a row lock on PostgreSQL (the second opener waits for the
    first to commit, then increments the committed value); SQLite serializes whole transactions
    via BEGIN IMMEDIATE. The first incident of a team inserts the row inside a SAVEPOINT; if a
    concurrent opener inserted it first, the unique key says so and we increment instead.
    Rolled-back opens roll the counter back too, so numbers have no gaps.
    """
    counters = TeamCounterRow.__table__
    for _ in range(5):
        number = session.execute(_NEXT_NUMBER, {"k_team_id": team_id}).scalar_one_or_none()
        if number is not None:
            return int(number)
        # Seed from existing incidents, so a counter lost or never made cannot reuse a number.
        highest = session.execute(  # (not counting provisional numbers: `_provisional_number`)
            select(func.max(IncidentRow.number)).where(IncidentRow.team_id == team_id,
                                                       IncidentRow.number > 0)
        ).scalar_one_or_none()
        first = (highest or 0) + 1
        try:
            with session.begin_nested():
                session.execute(insert(counters).values(team_id=team_id, last_number=first))
        except IntegrityError:
            continue  # someone else created the counter just now: increment theirs
        return first
    raise RuntimeError(f"could not allocate an incident number for team {team_id}")


_INSERT_INCIDENT = insert(IncidentRow.__table__).returning(IncidentRow.__table__.c.id)
_NEXT_NUMBER = (
    update(TeamCounterRow.__table__)
    .where(TeamCounterRow.__table__.c.team_id == bindparam("k_team_id"))
    .values(last_number=TeamCounterRow.__table__.c.last_number + 1)
    .returning(TeamCounterRow.__table__.c.last_number)
)


def add_incident(session: Session, incident: Incident, *, numbered: bool = True) -> Incident:
    """Insert a new incident with its children; returns a copy with id, number and version 1.

    `incident.number` is ignored: the next number of `incident.team_id` is allocated here, or,
    with ``numbered=False``, by `number_incident` later in the same transaction (the row gets a
    provisional negative number until then). Plain Core inserts from statements built once: an
    open is acknowledged only after this commits, and the ORM's unit of work cost several times
    the INSERTs themselves.
    """
    number = _next_number(session, incident.team_id) if numbered else _provisional_number()
    connection = session.connection()
    new_id = int(connection.execute(
        _INSERT_INCIDENT,
        {"team_id": incident.team_id, "number": number, "version": 1,
         **incident_values(incident)},
    ).scalar_one())
    for spec in CHILDREN:
        rows = [{"incident_id": new_id, "team_id": incident.team_id, "number": key, **values}
                for key, values in keyed_items(spec, getattr(incident, spec.field))]
        if rows:
            connection.execute(insert(spec.row_type.__table__), rows)
    return replace(incident, id=new_id, number=number, version=1)


def number_incident(session: Session, incident: Incident) -> Incident:
    """Give an incident added with ``numbered=False`` its number; returns the numbered copy.

    Why last: allocating the number locks the team's counter row until the commit (on
    PostgreSQL; SQLite serializes whole transactions anyway). Opens of one team wait for each
    other on that lock, so an open should take it as the last statement before its commit,
    not the first: a burst of opens then queues on a lock held for two statements and a commit
    instead of the whole open.
    """
    if incident.id is None:
        raise ValueError("number_incident needs an added incident (id is None)")
    number = _next_number(session, incident.team_id)
    session.execute(_NUMBER_INCIDENT, {"k_id": incident.id, "v_number": number})
    return replace(incident, number=number)


def _provisional_number() -> int:
    """A placeholder for an incident's number until `number_incident` (same transaction).

    Negative, so never a real number; random, so two opens of one team in flight at once do
    not share it (on PostgreSQL a clash would only make the second wait for the first's commit,
    which gives its row its real number; SQLite runs one write transaction at a time).
    """
    return -1 - secrets.randbelow(2**31 - 1)


_NUMBER_INCIDENT = (
    update(IncidentRow.__table__)
    .where(IncidentRow.__table__.c.id == bindparam("k_id"))
    .values(number=bindparam("v_number"))
)


# What `children_snapshot` returns: per child list, number -> its columns.
Snapshot = dict[str, dict[int, dict[str, Any]]]


def children_snapshot(incident: Incident) -> Snapshot:
    """The child rows of `incident` as loaded, keyed as `save_incident` keys them.

    Pass it back as ``stored=`` when saving a changed copy: the save's version check proves
    the database still holds exactly these rows (every change to them bumps the version), so
    they need not be read again. Take it before changing the incident (the copy may share
    lists with it).
    """
    return {spec.field: dict(keyed_items(spec, getattr(incident, spec.field)))
            for spec in CHILDREN}


def save_incident(session: Session, incident: Incident, *,
                  stored: Snapshot | None = None) -> Incident:
    """Write a loaded incident back; returns it with the new version.

    Optimistic concurrency: ``UPDATE ... SET version = version + 1 WHERE id = :id AND version =
    :loaded``. If no row matched, someone saved since `incident` was loaded: `StaleIncident` is
    raised and nothing is written. Children are then synced by `(incident_id, number)`: changed
    rows are updated, new ones inserted, and rows no longer in the lists deleted (the model never
    removes items, but the database must mirror what was saved). The timeline is not part of
    this: it is only ever appended to (`append_timeline`).
    """
    if incident.id is None:
        raise ValueError("save_incident needs a loaded incident (id is None); use add_incident")
    result = session.execute(_SAVE_INCIDENT, _save_values(incident))
    if result.rowcount != 1:
        raise StaleIncident(incident.id, incident.version)
    _sync_children(session, incident, stored)
    return replace(incident, version=incident.version + 1)


def save_incidents(session: Session,
                   saves: Collection[tuple[Incident, Snapshot]]) -> list[Incident]:
    """`save_incident` for several loaded incidents (each with its children as loaded): their
    version checks in one executemany, which psycopg sends in one round trip, so a batch of
    reminders firing costs one round trip rather than one per incident. Raises `StaleIncident`
    (and writes nothing the caller keeps: roll back) when any of them changed since its read.
    Saved in id order, so two writers of overlapping batches lock them in one order."""
    ordered = sorted(saves, key=lambda save: save[0].id or 0)
    if any(inc.id is None for inc, _ in ordered):
        raise ValueError("save_incidents needs loaded incidents (id is None); use add_incident")
    if len(ordered) < 2 or not session.get_bind().dialect.supports_sane_multi_rowcount:
        saved = {inc.id: save_incident(session, inc, stored=stored) for inc, stored in ordered}
        return [saved[inc.id] for inc, _ in saves]
    result = session.execute(_SAVE_INCIDENT, [_save_values(inc) for inc, _ in ordered])
    if result.rowcount != len(ordered):
        first = ordered[0][0]  # (which one is not known: the caller saves them one by one)
        raise StaleIncident(first.id or 0, first.version)
    for inc, stored in ordered:
        _sync_children(session, inc, stored)
    by_id = {inc.id: replace(inc, version=inc.version + 1) for inc, _ in ordered}
    return [by_id[inc.id] for inc, _ in saves]


def _save_values(incident: Incident) -> dict[str, Any]:
    return {"k_id": incident.id, "k_version": incident.version,
            **{f"v_{name}": value for name, value in incident_values(incident).items()}}


def _sync_children(session: Session, incident: Incident, stored: Snapshot | None) -> None:
    """Write only the difference between the incident's children and what is stored (the
    caller's snapshot, or read as plain Core rows). Most saves (a reminder, a card's ts) change
    no child at all, and then write nothing."""
    wanted = [(spec, keyed_items(spec, getattr(incident, spec.field))) for spec in CHILDREN]
    connection = session.connection()
    if stored is None:
        stored = {spec.field: {} for spec in CHILDREN}
        for union_row in connection.execute(CHILDREN_OF_ONE, {"incident_id": incident.id}):
            spec, columns = unslot(union_row)
            stored[spec.field][columns.number] = columns
    for spec, items in wanted:
        child_t = spec.row_type.__table__
        existing = dict(stored[spec.field])
        inserts: list[dict[str, Any]] = []
        for key, values in items:
            old = existing.pop(key, None)
            if old is None:
                inserts.append(
                    {"incident_id": incident.id, "team_id": incident.team_id, "number": key,
                     **values}
                )
                continue
            changed = {column: value for column, value in values.items()
                       if old.get(column) != value}
            if changed:  # (incident_id, number) is unique: the row, however it was read
                connection.execute(
                    update(child_t).where(child_t.c.incident_id == incident.id,
                                          child_t.c.number == key).values(**changed)
                )
        if inserts:
            connection.execute(insert(child_t), inserts)
        if existing:
            connection.execute(
                delete(child_t).where(child_t.c.incident_id == incident.id,
                                      child_t.c.number.in_(list(existing)))
            )


def get_incident(session: Session, team_id: str, number: int) -> Incident | None:
    """The team's incident INC-`number`, or None."""
    found = _load_rows(session, IncidentRow.team_id == team_id, IncidentRow.number == number)
    return found[0] if found else None


def get_incident_by_id(session: Session, incident_id: int) -> Incident | None:
    begin_reading(session)
    connection = session.connection()
    params = {"incident_id": incident_id}
    result = connection.execute(_INCIDENT_BY_ID, params)
    keys = list(result.keys())
    row = result.first()
    if row is None:
        return None
    incident = to_incident(dict(zip(keys, row, strict=True)))
    fill_children({incident_id: incident}, connection.execute(CHILDREN_OF_ONE, params))
    return incident


def get_incident_by_channel(session: Session, channel_id: str) -> Incident | None:
    """The incident whose own channel is `channel_id` (not its linked customer channel)."""
    found = _load_rows(
        session, IncidentRow.channel_id == channel_id, order=(IncidentRow.id.desc(),)
    )
    return found[0] if found else None


def list_incidents(
    session: Session,
    team_id: str,
    *,
    statuses: Collection[Status] | None = None,
    opened_since: datetime | None = None,
) -> list[Incident]:
    """A team's incidents, by number; optionally only some statuses / opened at or after a time."""
    where: list[ColumnElement[bool]] = [IncidentRow.team_id == team_id]
    if statuses is not None:
        where.append(IncidentRow.status.in_([Status(s).value for s in statuses]))
    if opened_since is not None:
        where.append(IncidentRow.opened_at >= opened_since)
    return _load_rows(session, *where, order=(IncidentRow.number,))


def list_all_incidents(
    session: Session, *, team_id: str | None = None, opened_since: datetime | None = None
) -> list[Incident]:
    """Incidents of every team (or one), for figures run outside Slack (`crisisbot stats`)."""
    where: list[ColumnElement[bool]] = []
    if team_id is not None:
        where.append(IncidentRow.team_id == team_id)
    if opened_since is not None:
        where.append(IncidentRow.opened_at >= opened_since)
    return _load_rows(session, *where, order=(IncidentRow.team_id, IncidentRow.number))


def find_by_number(session: Session, number: int, *, team_id: str | None = None
                   ) -> list[Incident]:
    """INC-`number` in every team (or one): `crisisbot report` asks which when there are two."""
    where: list[ColumnElement[bool]] = [IncidentRow.number == number]
    if team_id is not None:
        where.append(IncidentRow.team_id == team_id)
    return _load_rows(session, *where, order=(IncidentRow.team_id,))


def _active() -> ColumnElement[bool]:
    """Can still need a reminder: not closed, or closed with a check-in not done yet (check-ins
    outlive the channel)."""
    pending_checkin = exists().where(
        CheckinRow.incident_id == IncidentRow.id, CheckinRow.done_at.is_(None)
    )
    return or_(IncidentRow.status != Status.CLOSED.value, pending_checkin)


def list_active(session: Session) -> list[Incident]:
    """Every incident of every team that can still need a reminder, whole.

    The scheduler rebuilds its in-memory wake-ups from this at start.
    """
    return _load_rows(session, _active(), order=(IncidentRow.team_id, IncidentRow.number))


def active_versions(session: Session) -> dict[int, int]:
    """Id -> version of every incident `list_active` would return, without loading them: a
    periodic resync reads whole only those changed since it last looked."""
    begin_reading(session)
    rows = session.execute(select(IncidentRow.id, IncidentRow.version).where(_active()))
    return {incident_id: version for incident_id, version in rows}


RECURRENCE_SIMILAR_LIMIT = 200
"""How many of the team's latest incidents the similar-problem check compares against (every
incident of the same customer in the window is always compared): a bound on the work done
before an `/incident open` is acknowledged, however busy the team's history is."""


def recurrence_candidates(
    session: Session, team_id: str, customer: str, since: datetime,
    *, similar_limit: int | None = None,
) -> list[Candidate]:
    """Incidents opened since `since` that a new one for `customer` could repeat, oldest first.

    Every incident of the same customer (indexed `customer_key`) plus the team's latest
    `similar_limit` (default RECURRENCE_SIMILAR_LIMIT), four columns each: the check compares
    names and descriptions only (`load_incidents` reads the few it reports whole). Reading the
    whole window with its children cost every open O(history) before its ack.
    """
    begin_reading(session)
    table = IncidentRow.__table__
    latest = (
        select(table.c.id)
        .where(table.c.team_id == team_id, table.c.opened_at >= since)
        .order_by(table.c.opened_at.desc(), table.c.id.desc())
        .limit(similar_limit or RECURRENCE_SIMILAR_LIMIT)
    )
    rows = session.execute(
        select(table.c.id, table.c.customer, table.c.description, table.c.opened_at)
        .where(
            table.c.team_id == team_id,
            table.c.opened_at >= since,
            or_(table.c.customer_key == customer_key(customer), table.c.id.in_(latest)),
        )
        .order_by(table.c.opened_at, table.c.id)
    )
    return [Candidate(*row) for row in rows]


_INCIDENTS_BY_IDS = select(IncidentRow.__table__).where(
    IncidentRow.__table__.c.id.in_(bindparam("incident_ids", expanding=True)))


def load_incidents(session: Session, ids: Collection[int]) -> dict[int, Incident]:
    """Incidents by id, whole, in two statements built once (claimed outbox chains, due
    reminders, the few a recurrence warning names); ids that no longer exist are left out."""
    if not ids:
        return {}
    begin_reading(session)  # a session not begun yet reads without the write lock (SQLite)
    connection = session.connection()
    params = {"incident_ids": list(ids)}
    result = connection.execute(_INCIDENTS_BY_IDS, params)
    keys = list(result.keys())
    found: dict[int | None, Incident] = {}
    for row in result.all():
        inc = to_incident(dict(zip(keys, row, strict=True)))
        found[inc.id] = inc
    if found:
        fill_children(found, connection.execute(CHILDREN_OF_IDS, params))
    return {inc_id: inc for inc_id, inc in found.items() if inc_id is not None}
