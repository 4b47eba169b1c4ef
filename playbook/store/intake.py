"""The intake: raw `/incident open` commands recorded at the ack under load, opened a moment
later (playbook/services/intake.py).

A row is the command as Slack sent it (team, user, channel, text, response_url) with the time it
arrived and a unique request key, so a request delivered twice is recorded once. It stays
pending (`done_at` NULL) until a processor claims it and writes the incident, or the refusal it
tells the person, in the same transaction as `finish` marks it done: a crash leaves both or
neither.

Claims (`claim`) hold on both databases: on PostgreSQL the row is locked ``FOR UPDATE SKIP
LOCKED`` (a second processor skips it instead of queueing behind it) and re-checked as pending;
on SQLite the write transaction (``BEGIN IMMEDIATE``) runs alone, so the pending check is the
claim. Done rows are history; retention prunes them (playbook/store/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from playbook.store.base import Base, UTCDateTime, slack_id
from playbook.store.engine import begin_reading
from playbook.store.tables import OutboxRow

__all__ = ["IntakeRow", "RawCommand", "attempt_failed", "claim", "finish", "pending",
           "pending_count", "record", "word_reply"]


class IntakeRow(Base):
    """One `/incident open` recorded raw at its ack, until it is opened (or refused)."""

    __tablename__ = "intake"
    __table_args__ = (
        # pending rows only (partial index): what processors scan, in arrival order
        Index("ix_intake_pending", "id", sqlite_where=sql("done_at IS NULL"),
              postgresql_where=sql("done_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    # unique per request (derived from its response_url): recorded once however often it came
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(slack_id())
    channel_id: Mapped[str | None] = mapped_column(slack_id())
    text: Mapped[str]
    response_url: Mapped[str | None]
    received_at: Mapped[datetime]
    # unexpected failures so far (a refusal is an answer, not a failure)
    attempts: Mapped[int] = mapped_column(server_default=sql("0"))
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    # opened, refused or failed
    outcome: Mapped[str | None] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"))


@dataclass(frozen=True)
class RawCommand:
    id: int
    team_id: str
    user_id: str
    channel_id: str | None
    text: str
    response_url: str | None
    received_at: datetime
    attempts: int = 0


_I = IntakeRow.__table__
_COLUMNS = (_I.c.id, _I.c.team_id, _I.c.user_id, _I.c.channel_id, _I.c.text, _I.c.response_url,
            _I.c.received_at, _I.c.attempts)


def _raw(row: Any) -> RawCommand:
    return RawCommand(int(row.id), row.team_id, row.user_id, row.channel_id, row.text,
                      row.response_url, row.received_at, int(row.attempts or 0))


def _record_statement(dialect_insert: Any) -> Any:
    return (dialect_insert(_I).on_conflict_do_nothing(index_elements=["request_key"])
            .returning(_I.c.id))


# Statements built once: building (and cache-keying) a statement costs more than running it,
# and `record` runs on the ack path of every request it takes.
_RECORD = {"sqlite": _record_statement(sqlite_insert),
           "postgresql": _record_statement(postgresql_insert)}
_PENDING = (select(*_COLUMNS).where(_I.c.done_at.is_(None)).order_by(_I.c.id)
            .limit(bindparam("n")))
_PENDING_COUNT = select(func.count()).select_from(_I).where(_I.c.done_at.is_(None))
_CLAIM = (select(*_COLUMNS).where(_I.c.id == bindparam("k_id"), _I.c.done_at.is_(None))
          .with_for_update(skip_locked=True))  # PostgreSQL; SQLite renders nothing (one writer)
_FINISH = (update(_I).where(_I.c.id == bindparam("k_id"), _I.c.done_at.is_(None))
           .values(done_at=bindparam("v_now", type_=UTCDateTime()),
                   outcome=bindparam("v_outcome"), incident_id=bindparam("v_incident")))
_WORD_REPLY = (update(OutboxRow.__table__)
               .where(OutboxRow.__table__.c.id == bindparam("k_id"))
               .values(payload=bindparam("v_payload")))
_ATTEMPT = (update(_I).where(_I.c.id == bindparam("k_id"), _I.c.done_at.is_(None))
            .values(attempts=_I.c.attempts + 1).returning(_I.c.attempts))


def record(session: Session, *, team_id: str, request_key: str, user_id: str,
           channel_id: str | None, text: str, response_url: str | None,
           received_at: datetime) -> bool:
    """Record a raw command; False when this request was recorded already (same key)."""
    stmt = _RECORD[session.get_bind().dialect.name]
    found = session.execute(stmt, {
        "team_id": team_id, "request_key": request_key, "user_id": user_id,
        "channel_id": channel_id, "text": text, "response_url": response_url,
        "received_at": received_at, "attempts": 0}).first()
    return found is not None


def pending(session: Session, limit: int = 50) -> list[RawCommand]:
    """Up to `limit` pending commands, oldest first (a plain read: nothing is claimed)."""
    begin_reading(session)
    return [_raw(row) for row in session.execute(_PENDING, {"n": limit})]


def pending_count(session: Session) -> int:
    """Commands recorded and not yet opened or refused, all teams."""
    begin_reading(session)
    return int(session.execute(_PENDING_COUNT).scalar_one())


def claim(session: Session, command_id: int) -> RawCommand | None:
    """The command, still pending and now this transaction's to finish; None when another
    processor holds it (PostgreSQL: locked) or finished it already."""
    row = session.execute(_CLAIM, {"k_id": command_id}).first()
    return _raw(row) if row is not None else None


def finish(session: Session, command_id: int, *, now: datetime, outcome: str,
           incident_id: int | None = None) -> bool:
    """Mark a claimed command done, in the transaction that wrote what it asked for."""
    result = session.execute(_FINISH, {"k_id": command_id, "v_now": now, "v_outcome": outcome,
                                       "v_incident": incident_id})
    return bool(getattr(result, "rowcount", 0))


def word_reply(session: Session, row_id: int, payload: dict[str, Any]) -> None:
    """Give the outbox row `row_id`, queued earlier in this transaction before what it
    answers was known, its payload."""
    session.execute(_WORD_REPLY, {"k_id": row_id, "v_payload": payload})


def attempt_failed(session: Session, command_id: int) -> int:
    """Count an unexpected failure of a pending command; returns its failures so far (0: it
    is no longer pending)."""
    found = session.execute(_ATTEMPT, {"k_id": command_id}).first()
    return int(found[0]) if found is not None else 0
