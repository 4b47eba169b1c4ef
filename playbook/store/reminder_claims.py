"""Reminder claims: each reminder is sent once, across processes and replicas.

One row per reminder (incident, kind, due time, ref) that is being or has been sent; the
unique key is the claim. Made with ``INSERT ... ON CONFLICT DO NOTHING``, never with ``FOR
UPDATE``, which SQLite ignores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from playbook.store.base import UTCDateTime
from playbook.store.tables import ReminderClaimRow

__all__ = ["ReminderKey", "take_reminders"]

# (incident id, kind, due time, ref): what identifies one reminder, and its claim
ReminderKey = tuple[int, str, datetime, str]


def take_reminders(session: Session, claims: Sequence[tuple[str, ReminderKey]], *,
                   now: datetime, worker: str, lease: timedelta) -> set[ReminderKey]:
    """Claim these reminders (each a (team_id, key) pair) and mark them sent at once, for a
    sender whose send (its outbox rows) commits in this same transaction: returns the keys
    this caller claimed, each claimed by exactly one caller.

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for all of them, so a batch
    of wake-ups costs one round trip rather than one per reminder. On PostgreSQL a competing
    insert of the same key waits for the first to commit, then inserts nothing; the rows go in
    key order, so two replicas claiming overlapping batches wait for each other in one order,
    never in a cycle. A claim that was never marked sent and whose lease has run out (its
    sender died; rows of earlier versions that claimed first and sent later) is taken over by
    a conditional UPDATE, looked at alone, so no reminder is lost with a replica either.
    """
    wanted = sorted(dict.fromkeys(claims), key=lambda claim: claim[1])
    if not wanted:
        return set()
    rows = [{"team_id": team_id, "incident_id": key[0], "kind": key[1], "due_at": key[2],
             "ref": key[3], "claimed_by": worker, "claimed_at": now, "lease_until": now + lease,
             "sent_at": now} for team_id, key in wanted]
    # (the settings accept only these two databases, see bot/settings_parse.py)
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
