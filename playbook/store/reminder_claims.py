"""Reminder claims: each reminder is sent once, across processes and replicas.

One row per reminder (incident, kind, due time, ref) that is being or has been sent; the
unique key is the claim. Made with ``INSERT ... ON CONFLICT DO NOTHING``, never with ``FOR
UPDATE``, which SQLite ignores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from playbook.store.base import UTCDateTime
from playbook.store.tables import ReminderClaimRow

__all__ = ["ReminderKey", "take_reminder", "take_reminders"]

# (incident id, kind, due time, ref): what identifies one reminder, and its claim
ReminderKey = tuple[int, str, datetime, str]


def take_reminder(
    session: Session,
    *,
    team_id: str,
    incident_id: int,
    kind: str,
    due_at: datetime,
    ref: str = "",
    now: datetime,
    worker: str,
    lease: timedelta,
) -> bool:
    """Claim the reminder and mark it sent at once, for a sender whose send (its outbox rows)
    commits in this same transaction: True for exactly one caller per reminder.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the reminder scheduler runs this for
    every reminder. On PostgreSQL a competing insert of the same key waits for the first to
    commit, then inserts nothing. A claim that was never marked sent and whose lease has run
    out (its sender died; rows of earlier versions that claimed first and sent later) is taken
    over by a conditional UPDATE, so no reminder is lost with a replica either.
    """
    values = {"team_id": team_id, "incident_id": incident_id, "kind": kind, "due_at": due_at,
              "ref": ref, "claimed_by": worker, "claimed_at": now, "lease_until": now + lease,
              "sent_at": now}
    # (the settings accept only these two databases, see bot/settings_parse.py)
    stmt = _TAKE_REMINDER[session.get_bind().dialect.name]
    if session.execute(stmt, values).first() is not None:
        return True
    result = session.execute(_TAKE_OVER_REMINDER, {
        "k_incident_id": incident_id, "k_kind": kind, "k_due_at": due_at, "k_ref": ref,
        "k_now": now, "v_worker": worker, "v_now": now, "v_until": now + lease})
    return result.rowcount == 1


def take_reminders(session: Session, claims: Sequence[tuple[str, ReminderKey]], *,
                   now: datetime, worker: str, lease: timedelta) -> set[ReminderKey]:
    """`take_reminder` for many reminders (each a (team_id, key) pair) at once: the keys this
    caller claimed, each for exactly one caller.

    One multi-row insert for all of them, so a batch of wake-ups costs one round trip rather
    than one per reminder; only a reminder someone else holds is looked at again, alone (its
    claim may be a dead sender's whose lease ran out). The rows go in key order, so two
    replicas claiming overlapping batches wait for each other in one order, never in a cycle.
    """
    wanted = sorted(dict.fromkeys(claims), key=lambda claim: claim[1])
    if not wanted:
        return set()
    rows = [{"team_id": team_id, "incident_id": key[0], "kind": key[1], "due_at": key[2],
             "ref": key[3], "claimed_by": worker, "claimed_at": now, "lease_until": now + lease,
             "sent_at": now} for team_id, key in wanted]
    stmt = _TAKE_REMINDERS[session.get_bind().dialect.name]
    taken = {(row.incident_id, row.kind, row.due_at, row.ref)
             for row in session.execute(stmt, rows)}
    for _team_id, key in wanted:
        if key in taken:
            continue
        result = session.execute(_TAKE_OVER_REMINDER, {
            "k_incident_id": key[0], "k_kind": key[1], "k_due_at": key[2], "k_ref": key[3],
            "k_now": now, "v_worker": worker, "v_now": now, "v_until": now + lease})
        if result.rowcount == 1:
            taken.add(key)
    return taken


def _take_reminder_statement(dialect_insert: Any) -> Any:
    r = ReminderClaimRow.__table__
    return (
        dialect_insert(r)
        .on_conflict_do_nothing(index_elements=["incident_id", "kind", "due_at", "ref"])
        .returning(r.c.id)
    )


_TAKE_REMINDER = {
    "sqlite": _take_reminder_statement(sqlite_insert),
    "postgresql": _take_reminder_statement(postgresql_insert),
}
_TAKE_REMINDERS = {
    name: dialect_insert(ReminderClaimRow.__table__)
    .on_conflict_do_nothing(index_elements=["incident_id", "kind", "due_at", "ref"])
    .returning(ReminderClaimRow.__table__.c.incident_id, ReminderClaimRow.__table__.c.kind,
               ReminderClaimRow.__table__.c.due_at, ReminderClaimRow.__table__.c.ref)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
_TAKE_OVER_REMINDER = (
    update(ReminderClaimRow.__table__)
    .where(
        ReminderClaimRow.__table__.c.incident_id == bindparam("k_incident_id"),
        ReminderClaimRow.__table__.c.kind == bindparam("k_kind"),
        ReminderClaimRow.__table__.c.due_at == bindparam("k_due_at", type_=UTCDateTime()),
        ReminderClaimRow.__table__.c.ref == bindparam("k_ref"),
        ReminderClaimRow.__table__.c.sent_at.is_(None),
        ReminderClaimRow.__table__.c.lease_until <= bindparam("k_now", type_=UTCDateTime()),
    )
    .values(
        claimed_by=bindparam("v_worker"),
        claimed_at=bindparam("v_now", type_=UTCDateTime()),
        lease_until=bindparam("v_until", type_=UTCDateTime()),
        sent_at=bindparam("v_now", type_=UTCDateTime()),
    )
)
