"""Persistence: SQLAlchemy 2 typed models and the repository functions (the only SQL there is).

The rest of the program sees plain `playbook.domain.model` dataclasses; the rows below never leave
this module (every function expunges what it loaded, so a caller's session never holds stale ORM
state that a later read could return instead of the database's truth).

Decisions worth knowing before changing anything here:

* Transactions belong to the caller. Every repository function takes a `Session` and only
  flushes; the service decides when to commit. On SQLite every transaction starts with
  `BEGIN IMMEDIATE` (see `make_engine`), so read-then-write use cases serialize instead of failing
  with "database is locked" at the first write; only a session whose first call is a repository
  read (``with sessions() as s:``, never `sessions.begin()`) runs as a plain, lock-free reader.
* Times are aware UTC datetimes in Python and UTC in the database (`UTCDateTime`); naive
  datetimes are refused on the way in, because guessing their zone is how reminders end up an
  hour off. Intervals are stored as whole seconds.
* `team_id` is on every row so several workspaces can share one database later.
* Child lists of an incident (options, promises, actions, parked topics, customer updates,
  check-ins, cadence changes, step records, snoozes) are child tables keyed by
  `(incident_id, number)`.
  Cadence changes and step records have no number of their own in the model, so theirs is the
  1-based position in the list. Small lists of plain strings (customer words, drivers, lessons)
  are JSON columns: nothing ever queries inside them.
* Claims that must hold across processes (outbox items, reminders, Slack event ids) are made with
  a unique key or a conditional UPDATE checked by rowcount, never with `FOR UPDATE`, which SQLite
  ignores.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

from playbook.domain.errors import PlaybookError
from playbook.domain.model import (
    Action,
    CadenceChange,
    CapturedMessage,
    CaptureKind,
    Checkin,
    CustomerUpdate,
    Handover,
    Incident,
    Link,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Reopening,
    Snooze,
    Status,
    Step,
    StepRecord,
    TimelineEntry,
)
from playbook.domain.parse import normalize_customer, parse_window
from playbook.domain.recurrence import Candidate
from playbook.domain.windows import Window

__all__ = [
    "NAMING_CONVENTION",
    "PERSISTED_FIELDS",
    "Base",
    "OutboxItem",
    "StaleIncident",
    "UTCDateTime",
    "add_incident",
    "append_timeline",
    "claim_outbox",
    "claim_reminder",
    "complete_reminder",
    "customer_key",
    "enqueue",
    "fail_outbox",
    "find_by_customer",
    "finish_outbox",
    "get_incident",
    "get_incident_by_channel",
    "get_incident_by_id",
    "get_timeline",
    "list_active",
    "list_incidents",
    "make_engine",
    "make_session_factory",
    "metadata",
    "pending_outbox_count",
    "ping",
    "prune_events",
    "prune_outbox",
    "release_reminder",
    "remember_event",
    "retry_outbox",
    "save_incident",
    "take_reminder",
]

# Named constraints are what let Alembic's batch mode rebuild SQLite tables (it must drop and
# recreate constraints by name) and keep autogenerate diffs stable across databases.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT = 15.0
"""Seconds a SQLite writer waits for another's transaction before giving up (default)."""

log = logging.getLogger(__name__)

_ERROR_LIMIT = 4000  # last_error is for people reading logs, not a traceback archive


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


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC on every database and returned as an aware UTC datetime.

    SQLite has no time zones: SQLAlchemy writes the wall-clock digits and silently drops the
    offset, so 14:00+01:00 would come back as 14:00. Converting to UTC on the way in and tagging
    UTC on the way out makes both databases agree. Naive datetimes are refused (`ValueError`,
    wrapped by SQLAlchemy in a `StatementError`) instead of being guessed at.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> String:
    """Slack ids (team, user, channel), message timestamps and similar short keys."""
    return String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute as is)
        datetime: UTCDateTime(),
        str: Text(),
        int: Integer(),
        bool: Boolean(),
    }


metadata = Base.metadata


# --- incidents and their children ---------------------------------------------------------------


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("team_id", "number"),
        Index("ix_incidents_team_id_customer_key", "team_id", "customer_key"),
        Index("ix_incidents_team_id_opened_at", "team_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(_id())
    number: Mapped[int]
    version: Mapped[int] = mapped_column(server_default=text("1"))
    customer: Mapped[str]
    customer_key: Mapped[str]
    description: Mapped[str]
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    step: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str | None] = mapped_column(_id(), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(_id())
    customer_channel_id: Mapped[str | None] = mapped_column(_id())
    opened_by: Mapped[str] = mapped_column(_id())
    opened_at: Mapped[datetime]
    # listen
    customer_words: Mapped[list[str]] = mapped_column(JSON)
    impact: Mapped[str | None]
    drivers: Mapped[list[str]] = mapped_column(JSON)
    # restate
    restatement: Mapped[str | None]
    restatement_confirmed_at: Mapped[datetime | None]
    # own
    owner: Mapped[str | None] = mapped_column(_id())
    owner_set_at: Mapped[datetime | None]
    communicator: Mapped[str | None] = mapped_column(_id())
    apology_at: Mapped[datetime | None]
    # solve
    recommended: Mapped[int | None]
    recommend_why: Mapped[str | None]
    chosen: Mapped[int | None]
    chosen_at: Mapped[datetime | None]
    resolution: Mapped[str | None]
    resolved_at: Mapped[datetime | None]
    # follow-up
    customer_informed_at: Mapped[datetime | None]
    root_cause: Mapped[str | None]
    lessons: Mapped[list[str]] = mapped_column(JSON)
    # across steps
    reminders_fired: Mapped[int] = mapped_column(server_default=text("0"))
    escalations_fired: Mapped[int] = mapped_column(server_default=text("0"))
    closed_at: Mapped[datetime | None]
    # the playbook it was opened under (playbook_versions.version; NULL: the built-in one, for
    # incidents from before playbook files) and the items of that playbook ticked so far
    playbook_version: Mapped[str | None] = mapped_column(String(64))
    checks: Mapped[dict[str, str] | None] = mapped_column(JSON)
    last_activity_at: Mapped[datetime | None]

    # Children load eagerly (one SELECT ... IN per table) because every use of an incident
    # needs the whole of it; delete-orphan lets save_incident mirror removals.
    cadence_changes: Mapped[list[CadenceChangeRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CadenceChangeRow.number"
    )
    options: Mapped[list[OptionRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="OptionRow.number"
    )
    promises: Mapped[list[PromiseRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="PromiseRow.number"
    )
    actions: Mapped[list[ActionRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ActionRow.number"
    )
    parked: Mapped[list[ParkedTopicRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ParkedTopicRow.number"
    )
    updates: Mapped[list[CustomerUpdateRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CustomerUpdateRow.number"
    )
    checkins: Mapped[list[CheckinRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CheckinRow.number"
    )
    steps: Mapped[list[StepRecordRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="StepRecordRow.number"
    )
    snoozes: Mapped[list[SnoozeRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="SnoozeRow.number"
    )
    captures: Mapped[list[CapturedMessageRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CapturedMessageRow.number"
    )
    handovers: Mapped[list[HandoverRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="HandoverRow.number"
    )
    reopenings: Mapped[list[ReopeningRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ReopeningRow.number"
    )
    links: Mapped[list[LinkRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="LinkRow.number"
    )


class _Child:
    """Columns every child row of an incident has; `(incident_id, number)` is its identity."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-4)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), sort_order=-3
    )
    team_id: Mapped[str] = mapped_column(_id(), sort_order=-2)
    number: Mapped[int] = mapped_column(sort_order=-1)


class CadenceChangeRow(_Child, Base):
    __tablename__ = "cadence_changes"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    interval_seconds: Mapped[int]
    agreed: Mapped[bool]
    by_user: Mapped[str | None] = mapped_column(_id())
    # the cadence window (`playbook.domain.windows.Window.spec`), e.g. "weekdays 09:00-18:00 UTC"
    window_spec: Mapped[str | None] = mapped_column(String(200))


class SnoozeRow(_Child, Base):
    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    until_at: Mapped[datetime]
    by_user: Mapped[str] = mapped_column(_id())
    reason: Mapped[str]


class OptionRow(_Child, Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    risk: Mapped[str | None]
    added_by: Mapped[str] = mapped_column(_id())
    added_at: Mapped[datetime]


class PromiseRow(_Child, Base):
    __tablename__ = "promises"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    due_at: Mapped[datetime]
    made_by: Mapped[str] = mapped_column(_id())
    made_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    settled_at: Mapped[datetime | None]


class ActionRow(_Child, Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    owner: Mapped[str | None] = mapped_column(_id())
    added_by: Mapped[str] = mapped_column(_id())
    added_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ParkedTopicRow(_Child, Base):
    __tablename__ = "parked_topics"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    added_by: Mapped[str] = mapped_column(_id())
    added_at: Mapped[datetime]


class CustomerUpdateRow(_Child, Base):
    __tablename__ = "customer_updates"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    by_user: Mapped[str] = mapped_column(_id())
    at: Mapped[datetime]
    sent_to_channel: Mapped[bool] = mapped_column(server_default=false())


class CheckinRow(_Child, Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(_id())


class StepRecordRow(_Child, Base):
    __tablename__ = "step_records"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    step: Mapped[str] = mapped_column(String(16))
    completed_at: Mapped[datetime]
    by_user: Mapped[str | None] = mapped_column(_id())
    skipped_reason: Mapped[str | None]


class CapturedMessageRow(_Child, Base):
    """A Slack message added with the "Add to incident…" shortcut (text neutralised)."""

    __tablename__ = "captured_messages"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str]
    author: Mapped[str | None] = mapped_column(_id())
    author_name: Mapped[str | None]
    channel_id: Mapped[str] = mapped_column(_id())
    message_ts: Mapped[str] = mapped_column(_id())
    permalink: Mapped[str]
    by_user: Mapped[str] = mapped_column(_id())
    at: Mapped[datetime]
    written_at: Mapped[datetime]


class HandoverRow(_Child, Base):
    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    from_user: Mapped[str] = mapped_column(_id())
    to_user: Mapped[str] = mapped_column(_id())
    by_user: Mapped[str] = mapped_column(_id())
    at: Mapped[datetime]
    notes: Mapped[str | None]


class ReopeningRow(_Child, Base):
    __tablename__ = "reopenings"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    by_user: Mapped[str] = mapped_column(_id())
    reason: Mapped[str]
    closed_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    customer_informed_at: Mapped[datetime | None]
    resolution: Mapped[str | None]


class LinkRow(_Child, Base):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    url: Mapped[str]
    label: Mapped[str]
    kind: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(_id())
    added_at: Mapped[datetime]


class TeamCounterRow(Base):
    """The last incident number handed out per team: the row lock serializes concurrent opens."""

    __tablename__ = "team_counters"

    team_id: Mapped[str] = mapped_column(_id(), primary_key=True)
    last_number: Mapped[int]


class PlaybookVersionRow(Base):
    """Every playbook an incident was opened under, by its content hash (see playbook_file).

    Incidents keep their version for life, so the content must outlive the file it came from.
    Content-addressed, hence shared by every team in the database.
    """

    __tablename__ = "playbook_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str]
    content: Mapped[str]
    created_at: Mapped[datetime]


class TimelineRow(Base):
    """Append-only history; nothing in this module updates or deletes it."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_incident_id_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(_id())
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(_id())
    text: Mapped[str]


# --- delivery and exactly-once bookkeeping ------------------------------------------------------


class OutboxRow(Base):
    """A Slack side effect recorded in the same transaction as the state that asked for it."""

    __tablename__ = "outbox"
    # Open items only (partial index): `claim_outbox` scans these in id order, so a claim costs
    # the same with 100 or 100,000 done items behind it (a full scan grew with the history and
    # ran inside the write transaction every worker queues for).
    # Two more for batch claims (playbook/store/outbox.py): "an earlier open item of this incident?"
    # is one probe of ix_outbox_open_incident, and posts are found past queued card refreshes
    # through ix_outbox_open_post.
    __table_args__ = (
        Index(
            "ix_outbox_open",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("done_at IS NULL AND failed_at IS NULL"),
        ),
        Index(
            "ix_outbox_open_incident",
            "incident_id",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("done_at IS NULL AND failed_at IS NULL"),
        ),
        Index(
            "ix_outbox_open_post",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL AND kind <> 'refresh_card'"),
            postgresql_where=text(
                "done_at IS NULL AND failed_at IS NULL AND kind <> 'refresh_card'"
            ),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(_id())
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str | None] = mapped_column(_id())
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None]


class ReminderClaimRow(Base):
    """One row per reminder that is being or has been sent; the unique key makes it once."""

    __tablename__ = "reminder_claims"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "due_at", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(_id())
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    ref: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class HandledEventRow(Base):
    """Slack retries events and Bolt does not deduplicate: remember the ids we handled."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(_id())
    seen_at: Mapped[datetime] = mapped_column(index=True)


# --- engine -------------------------------------------------------------------------------------


PG_CONNECT_TIMEOUT = 2
"""Seconds to wait for a new PostgreSQL connection (libpq's minimum), so a request finds out
the database is unreachable within Slack's 3-second ack window."""


def make_engine(
    url: str,
    *,
    sqlite_busy_timeout: float = SQLITE_BUSY_TIMEOUT,
    sqlite_foreign_keys: bool = True,
    **kw: Any,
) -> Engine:
    """Create the engine with the settings each database needs to be safe under concurrency.

    SQLite: WAL (readers do not block the writer), foreign keys on, a busy timeout, and every
    write transaction opened with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe: turn
    off the driver's own deferred BEGIN and emit ours on the "begin" event). A deferred
    transaction that reads and then writes fails with "database is locked" when another writer
    got there first; an immediate one waits its turn instead (this process's writers wait on a
    Python lock, see `_SQLiteConnection`; a session begun by a repository read is a plain
    deferred reader, see `_reading`). Do not use the ``isolation_level``
    execution option on SQLite engines made here: the driver would take BEGIN back.
    `sqlite_foreign_keys=False` is for migrations only (batch mode rebuilds tables, and with
    foreign keys on, dropping the old copy would cascade-delete child rows).

    PostgreSQL: ``pool_pre_ping`` so a connection the server or a proxy closed is replaced
    instead of failing the next request, and a ``connect_timeout`` (unless the URL sets one):
    libpq's default is to wait forever, so a server that stops answering (hung, or packets
    dropped) would hold every request past Slack's 3-second ack instead of failing it with
    "the database is not reachable". Other keywords go to `create_engine`.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        kw.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in parsed.query:
            connect_args = dict(kw.pop("connect_args", {}))
            connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT)
            kw["connect_args"] = connect_args
        return create_engine(url, **kw)
    if backend != "sqlite":
        return create_engine(url, **kw)

    connect_args = dict(kw.pop("connect_args", {}))
    connect_args.setdefault("timeout", sqlite_busy_timeout)
    connect_args.setdefault("check_same_thread", False)
    # One writer queue per engine (see _SQLiteConnection): threads of this process wait for
    # each other on a lock that wakes the next one at once, not in SQLite's busy-wait sleeps.
    connect_args.setdefault(
        "factory", type("_SQLiteEngineConnection", (_SQLiteConnection,),
                        {"writer_lock": threading.Lock()})
    )
    engine = create_engine(url, connect_args=connect_args, **kw)
    busy_ms = int(sqlite_busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching a new file to WAL needs a lock another process
            # may hold. WAL is persistent, so only the first connection ever switches.
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if sqlite_foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # a reader: a WAL snapshot, no lock, no waiting
            return
        dbapi_connection = conn.connection.dbapi_connection
        queue = dbapi_connection if isinstance(dbapi_connection, _SQLiteConnection) else None
        if queue is not None:
            queue.take_writer(sqlite_busy_timeout)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.drop_writer()
            raise

    @event.listens_for(engine, "before_cursor_execute")
    def _only_reads(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.get_execution_options().get(_READ_ONLY) and \
                statement.lstrip()[:6].upper() not in ("SELECT", "BEGIN", "PRAGMA"):
            raise RuntimeError(
                "this session began as a reader (a repository read was its first call), so "
                "on SQLite it holds no write lock: write in a `sessions.begin()` block instead"
            )

    return engine


_READ_ONLY = "crisisbot_read_only"
"""Connection execution option set by `_reading`: the transaction only reads."""


def _reading(session: Session) -> None:
    """Begin a session that has not begun yet as a reader.

    Repository reads call this first. A plain ``with sessions() as session:`` that starts with a
    read then runs a *deferred* transaction on SQLite (``BEGIN``: a WAL snapshot that neither
    takes nor waits for the write lock), instead of ``BEGIN IMMEDIATE``, which made every read
    queue behind every writer. A session opened with ``sessions.begin()`` has begun already and
    is left alone: a use case that reads and then writes keeps its immediate transaction. A
    write in a session that began as a reader is refused (see `make_engine`). PostgreSQL
    ignores the option.
    """
    if not session.in_transaction():
        session.connection(execution_options={_READ_ONLY: True})


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only, begun as a reader (see `_reading`) whatever it reads first.

    Repository reads that go through the ORM (``session.get``) or plain ``select``s do not
    call `_reading` themselves; in a plain ``with sessions()`` their first statement would
    begin ``BEGIN IMMEDIATE`` on SQLite and queue behind every writer (a check made on every
    request did, and serialized a burst of acks on the write lock).
    """
    with sessions() as session:
        _reading(session)
        yield session


class _SQLiteConnection(sqlite3.Connection):
    """A pysqlite connection that queues this process's writers on a Python lock.

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, ... up to
    100 ms between tries), so with many threads the lock often sits free while every waiter is
    asleep, and a write can wait seconds behind writes of a few milliseconds. Threads of one
    process instead take `writer_lock` (one per engine) right before ``BEGIN IMMEDIATE`` and
    give it back right after COMMIT or ROLLBACK, so the next writer starts at once. SQLite's own
    lock still decides between processes (and if the queue wait times out, the writer goes on
    to SQLite's busy wait as before): this only changes how fast, never whether, a write runs.
    """

    writer_lock: threading.Lock
    _holds_writer = False

    def take_writer(self, timeout: float) -> None:
        if not self._holds_writer:
            self._holds_writer = self.writer_lock.acquire(timeout=max(timeout, 0.001))

    def drop_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.drop_writer()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.drop_writer()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.drop_writer()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects survive commit (`expire_on_commit=False`): we hand out dataclasses,
    and nothing should lazily hit the database after the transaction is over."""
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> bool:
    """True when the database answers ``SELECT 1`` (for /healthz); never raises.

    Runs on the raw DBAPI connection, outside SQLAlchemy's transaction handling: on SQLite every
    transaction begins IMMEDIATE, which would make a health check queue behind a writer.
    """
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()
    except Exception as exc:  # DBAPI errors from a raw cursor are not wrapped by SQLAlchemy
        log.warning("database ping failed: %s", exc)
        return False
    return True


# --- incidents ------------------------------------------------------------------------------------


def customer_key(customer: str) -> str:
    """The key two incidents share when they are about the same customer (recurrence).

    `playbook.domain.parse.normalize_customer`, so the store and the parser agree on what "the same
    customer" means. Stored in `incidents.customer_key`: changing the normalization needs a data
    migration that recomputes the column.
    """
    return normalize_customer(customer)


# Scalar fields of Incident that map 1:1 to a column of the same name.
_SCALAR_FIELDS: tuple[str, ...] = (
    "customer",
    "description",
    "severity",
    "channel_id",
    "channel_name",
    "card_ts",
    "customer_channel_id",
    "opened_by",
    "opened_at",
    "impact",
    "restatement",
    "restatement_confirmed_at",
    "owner",
    "owner_set_at",
    "communicator",
    "apology_at",
    "recommended",
    "recommend_why",
    "chosen",
    "chosen_at",
    "resolution",
    "resolved_at",
    "customer_informed_at",
    "root_cause",
    "reminders_fired",
    "escalations_fired",
    "closed_at",
    "playbook_version",
    "last_activity_at",
)
_LIST_FIELDS: tuple[str, ...] = ("customer_words", "drivers", "lessons")


def _incident_values(incident: Incident) -> dict[str, Any]:
    """Column values of the incidents row (not id, team_id, number or version)."""
    values: dict[str, Any] = {name: getattr(incident, name) for name in _SCALAR_FIELDS}
    values.update({name: list(getattr(incident, name)) for name in _LIST_FIELDS})
    values["checks"] = dict(incident.checks)
    values["customer_key"] = customer_key(incident.customer)
    values["status"] = Status(incident.status).value
    values["step"] = Step(incident.step).value
    return values


@dataclass(frozen=True)
class _ChildSpec:
    """How one list of an Incident maps to its child table."""

    field: str  # attribute name on Incident and relationship name on IncidentRow
    row_type: type[Any]
    numbered: bool  # True: the item carries `number`; False: number = 1-based position
    to_values: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], Any]


_CHILDREN: tuple[_ChildSpec, ...] = (
    _ChildSpec(
        "cadence_changes",
        CadenceChangeRow,
        False,
        lambda c: {
            "at": c.at,
            "interval_seconds": int(c.interval.total_seconds()),
            "agreed": c.agreed,
            "by_user": c.by,
            "window_spec": c.window.spec if c.window is not None else None,
        },
        lambda r: CadenceChange(
            at=r.at, interval=timedelta(seconds=r.interval_seconds), agreed=r.agreed,
            by=r.by_user, window=_window(r.window_spec),
        ),
    ),
    _ChildSpec(
        "options",
        OptionRow,
        True,
        lambda o: {"text": o.text, "risk": o.risk, "added_by": o.added_by, "added_at": o.added_at},
        lambda r: Option(
            number=r.number, text=r.text, risk=r.risk, added_by=r.added_by, added_at=r.added_at
        ),
    ),
    _ChildSpec(
        "promises",
        PromiseRow,
        True,
        lambda p: {
            "text": p.text,
            "due_at": p.due_at,
            "made_by": p.made_by,
            "made_at": p.made_at,
            "status": PromiseStatus(p.status).value,
            "settled_at": p.settled_at,
        },
        lambda r: Promise(
            number=r.number,
            text=r.text,
            due_at=r.due_at,
            made_by=r.made_by,
            made_at=r.made_at,
            status=PromiseStatus(r.status),
            settled_at=r.settled_at,
        ),
    ),
    _ChildSpec(
        "actions",
        ActionRow,
        True,
        lambda a: {
            "text": a.text,
            "owner": a.owner,
            "added_by": a.added_by,
            "added_at": a.added_at,
            "done_at": a.done_at,
        },
        lambda r: Action(
            number=r.number,
            text=r.text,
            owner=r.owner,
            added_by=r.added_by,
            added_at=r.added_at,
            done_at=r.done_at,
        ),
    ),
    _ChildSpec(
        "parked",
        ParkedTopicRow,
        True,
        lambda t: {"text": t.text, "added_by": t.added_by, "added_at": t.added_at},
        lambda r: ParkedTopic(
            number=r.number, text=r.text, added_by=r.added_by, added_at=r.added_at
        ),
    ),
    _ChildSpec(
        "updates",
        CustomerUpdateRow,
        True,
        lambda u: {
            "text": u.text,
            "by_user": u.by,
            "at": u.at,
            "sent_to_channel": u.sent_to_channel,
        },
        lambda r: CustomerUpdate(
            number=r.number, text=r.text, by=r.by_user, at=r.at, sent_to_channel=r.sent_to_channel
        ),
    ),
    _ChildSpec(
        "checkins",
        CheckinRow,
        True,
        lambda c: {"due_at": c.due_at, "done_at": c.done_at, "done_by": c.done_by},
        lambda r: Checkin(number=r.number, due_at=r.due_at, done_at=r.done_at, done_by=r.done_by),
    ),
    _ChildSpec(
        "steps",
        StepRecordRow,
        False,
        lambda s: {
            "step": Step(s.step).value,
            "completed_at": s.completed_at,
            "by_user": s.by,
            "skipped_reason": s.skipped_reason,
        },
        lambda r: StepRecord(
            step=Step(r.step),
            completed_at=r.completed_at,
            by=r.by_user,
            skipped_reason=r.skipped_reason,
        ),
    ),
    _ChildSpec(
        "snoozes",
        SnoozeRow,
        True,
        lambda z: {"at": z.at, "until_at": z.until, "by_user": z.by, "reason": z.reason},
        lambda r: Snooze(number=r.number, at=r.at, until=r.until_at, by=r.by_user,
                         reason=r.reason),
    ),
    _ChildSpec(
        "captures",
        CapturedMessageRow,
        True,
        lambda c: {
            "kind": CaptureKind(c.kind).value,
            "text": c.text,
            "author": c.author,
            "author_name": c.author_name,
            "channel_id": c.channel_id,
            "message_ts": c.message_ts,
            "permalink": c.permalink,
            "by_user": c.by,
            "at": c.at,
            "written_at": c.written_at,
        },
        lambda r: CapturedMessage(
            number=r.number,
            kind=CaptureKind(r.kind),
            text=r.text,
            author=r.author,
            author_name=r.author_name,
            channel_id=r.channel_id,
            message_ts=r.message_ts,
            permalink=r.permalink,
            by=r.by_user,
            at=r.at,
            written_at=r.written_at,
        ),
    ),
    _ChildSpec(
        "handovers",
        HandoverRow,
        True,
        lambda h: {
            "from_user": h.from_user,
            "to_user": h.to_user,
            "by_user": h.by,
            "at": h.at,
            "notes": h.notes,
        },
        lambda r: Handover(
            number=r.number,
            from_user=r.from_user,
            to_user=r.to_user,
            by=r.by_user,
            at=r.at,
            notes=r.notes,
        ),
    ),
    _ChildSpec(
        "reopenings",
        ReopeningRow,
        True,
        lambda o: {
            "at": o.at,
            "by_user": o.by,
            "reason": o.reason,
            "closed_at": o.closed_at,
            "resolved_at": o.resolved_at,
            "customer_informed_at": o.customer_informed_at,
            "resolution": o.resolution,
        },
        lambda r: Reopening(
            number=r.number,
            at=r.at,
            by=r.by_user,
            reason=r.reason,
            closed_at=r.closed_at,
            resolved_at=r.resolved_at,
            customer_informed_at=r.customer_informed_at,
            resolution=r.resolution,
        ),
    ),
    _ChildSpec(
        "links",
        LinkRow,
        True,
        lambda lk: {
            "url": lk.url,
            "label": lk.label,
            "kind": lk.kind,
            "added_by": lk.added_by,
            "added_at": lk.added_at,
        },
        lambda r: Link(
            number=r.number,
            url=r.url,
            label=r.label,
            kind=r.kind,
            added_by=r.added_by,
            added_at=r.added_at,
        ),
    ),
)

def _window(spec: str | None) -> Window | None:
    """A stored cadence window read back; one that no longer parses (a zone dropped from the
    tz database) becomes "around the clock" rather than an incident that can't be loaded."""
    if not spec:
        return None
    try:
        return parse_window(spec)
    except PlaybookError:
        log.warning("ignoring unreadable cadence window %r", spec)
        return None


# Every field of Incident must be persisted somewhere; tests check this stays true.
PERSISTED_FIELDS: frozenset[str] = frozenset(
    {"id", "team_id", "number", "version", "status", "step"}
    | set(_SCALAR_FIELDS)
    | set(_LIST_FIELDS)
    | {"checks"}
    | {spec.field for spec in _CHILDREN}
)


def _keyed_items(spec: _ChildSpec, items: Sequence[Any]) -> list[tuple[int, dict[str, Any]]]:
    keyed = [
        (item.number if spec.numbered else position, spec.to_values(item))
        for position, item in enumerate(items, start=1)
    ]
    numbers = [number for number, _ in keyed]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"Incident.{spec.field} has duplicate numbers: {numbers}")
    return keyed


# Columns of the incidents row that become Incident fields as they are (the rest is converted).
_PLAIN_FIELDS: tuple[str, ...] = ("team_id", "number", "id", "version", *_SCALAR_FIELDS)


def _to_incident(values: dict[str, Any]) -> Incident:
    """An incident from a row of the incidents table (as a dict), its child lists still empty."""
    return Incident(
        status=Status(values["status"]),
        step=Step(values["step"]),
        customer_words=list(values["customer_words"] or []),
        drivers=list(values["drivers"] or []),
        lessons=list(values["lessons"] or []),
        checks=dict(values["checks"] or {}),
        **{name: values[name] for name in _PLAIN_FIELDS},
    )


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
            for name in (*_SCALAR_FIELDS, *_LIST_FIELDS, "checks", "customer_key", "status",
                         "step")
        },
    )
)

# --- all children of some incidents in ONE statement ---------------------------------------------
#
# Eight (now twelve) child tables meant a SELECT each per incident load (and as many in every
# save, to diff against), although most incidents have rows in one or two of them: statement
# overhead was most of the CPU of a reminder. Instead, one UNION ALL of the tables, each projected
# onto the same typed "slots" (tag, id, incident_id, number, then 8 text, 4 datetime, 1 integer
# and 1 boolean), padded with typed NULLs; the slots' types carry SQLAlchemy's result processing
# (UTC datetimes, booleans on SQLite), and `_unslot` turns a row back into its table's columns.

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


def _child_layout(spec: _ChildSpec) -> dict[str, str]:
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


_LAYOUTS: dict[str, dict[str, str]] = {spec.field: _child_layout(spec) for spec in _CHILDREN}
_SLOTS: tuple[tuple[str, Any], ...] = tuple(
    (f"{kind}{n}", type_) for kind, type_, count in _SLOT_KINDS for n in range(1, count + 1)
)
assert all(set(layout.values()) <= {name for name, _ in _SLOTS} for layout in _LAYOUTS.values())


def _children_union(incident_filter: Callable[[Any], ColumnElement[bool]]) -> Any:
    """SELECT ... UNION ALL ... of every child table, rows where `incident_filter(table)`."""
    parts = []
    for tag, spec in enumerate(_CHILDREN):
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


def _unslot(row: Any) -> tuple[_ChildSpec, Any]:
    """The child spec of a union row and the row as its own table's columns (for from_row)."""
    spec = _CHILDREN[row.tag]
    values = {name: getattr(row, slot) for name, slot in _LAYOUTS[spec.field].items()}
    values.update(id=row.id, incident_id=row.incident_id, number=row.number)
    return spec, _Columns(values)


class _Columns(dict[str, Any]):
    """A dict whose keys read as attributes, like a Row (what `_ChildSpec.from_row` expects)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_CHILDREN_OF_ONE = _children_union(lambda child: child.c.incident_id == bindparam("incident_id"))
# Built once: SQLAlchemy memoizes a statement's cache key on the object, and generating the key
# of this eight-part UNION anew for every load cost more CPU than running it.
_CHILDREN_OF_IDS = _children_union(
    lambda child: child.c.incident_id.in_(bindparam("incident_ids", expanding=True)))


def _fill_children(incidents: dict[int | None, Incident], rows: Iterable[Any]) -> None:
    for row in rows:
        inc = incidents.get(row.incident_id)
        if inc is None:  # PostgreSQL: an incident committed between the two statements
            continue
        spec, columns = _unslot(row)
        getattr(inc, spec.field).append(spec.from_row(columns))


_IN_LIST_MAX = 500
"""Up to this many incidents, children are fetched by an IN list of their ids; past it, by the
same WHERE as a subquery (SQLite limits bound parameters, and long lists plan worse)."""


def _detach(session: Session, rows: Iterable[Any]) -> None:
    """Drop loaded rows from the session so no later read can be answered from stale objects."""
    for row in rows:
        if row in session:
            session.expunge(row)


def _load_rows(session: Session, *where: ColumnElement[bool], order: Any = None) -> list[Incident]:
    """The incidents matching `where`, each whole: one SELECT for them, one for all children.

    Plain Core SELECTs assembled straight into dataclasses: nothing is loaded into the session
    (so no later read can be answered from stale ORM objects), and 10,000 incidents load in 2
    statements without building, eager-loading and expunging 10,000 ORM objects with their
    children first (the scheduler's start-up rebuild reads every active incident this way).
    """
    _reading(session)
    connection = session.connection()  # Core rows: no ORM loading machinery for plain columns
    incidents_t = IncidentRow.__table__
    stmt = select(incidents_t).where(*where)
    stmt = stmt.order_by(*(order if order is not None else (incidents_t.c.id,)))
    result = connection.execute(stmt)
    keys = list(result.keys())
    incidents = [_to_incident(dict(zip(keys, row, strict=True))) for row in result.all()]
    if not incidents:
        return []
    by_id: dict[int | None, Incident] = {inc.id: inc for inc in incidents}
    if len(by_id) > _IN_LIST_MAX:
        matching = select(incidents_t.c.id).where(*where)
        children = connection.execute(
            _children_union(lambda child: child.c.incident_id.in_(matching)))
    else:
        children = connection.execute(_CHILDREN_OF_IDS, {"incident_ids": list(by_id)})
    _fill_children(by_id, children)
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
         **_incident_values(incident)},
    ).scalar_one())
    for spec in _CHILDREN:
        rows = [{"incident_id": new_id, "team_id": incident.team_id, "number": key, **values}
                for key, values in _keyed_items(spec, getattr(incident, spec.field))]
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
    return {spec.field: dict(_keyed_items(spec, getattr(incident, spec.field)))
            for spec in _CHILDREN}


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
    wanted = [(spec, _keyed_items(spec, getattr(incident, spec.field))) for spec in _CHILDREN]
    result = session.execute(
        _SAVE_INCIDENT,
        {"k_id": incident.id, "k_version": incident.version,
         **{f"v_{name}": value for name, value in _incident_values(incident).items()}},
    )
    if result.rowcount != 1:
        raise StaleIncident(incident.id, incident.version)

    # Children: what is stored (the caller's snapshot, or read as plain Core rows), then write
    # only the difference. Most saves (a reminder, a card's ts) change no child at all.
    connection = session.connection()
    if stored is None:
        stored = {spec.field: {} for spec in _CHILDREN}
        for union_row in connection.execute(_CHILDREN_OF_ONE, {"incident_id": incident.id}):
            spec, columns = _unslot(union_row)
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
    return replace(incident, version=incident.version + 1)


def get_incident(session: Session, team_id: str, number: int) -> Incident | None:
    """The team's incident INC-`number`, or None."""
    found = _load_rows(session, IncidentRow.team_id == team_id, IncidentRow.number == number)
    return found[0] if found else None


def get_incident_by_id(session: Session, incident_id: int) -> Incident | None:
    _reading(session)
    connection = session.connection()
    params = {"incident_id": incident_id}
    result = connection.execute(_INCIDENT_BY_ID, params)
    keys = list(result.keys())
    row = result.first()
    if row is None:
        return None
    incident = _to_incident(dict(zip(keys, row, strict=True)))
    _fill_children({incident_id: incident}, connection.execute(_CHILDREN_OF_ONE, params))
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
    _reading(session)
    rows = session.execute(select(IncidentRow.id, IncidentRow.version).where(_active()))
    return {incident_id: version for incident_id, version in rows}


def find_by_customer(
    session: Session,
    team_id: str,
    customer: str,
    since: datetime,
    exclude_id: int | None = None,
) -> list[Incident]:
    """The team's incidents for the same customer opened at or after `since`, oldest first.

    Customers match on `customer_key` (case, spaces and punctuation do not matter).
    """
    where: list[ColumnElement[bool]] = [
        IncidentRow.team_id == team_id,
        IncidentRow.customer_key == customer_key(customer),
        IncidentRow.opened_at >= since,
    ]
    if exclude_id is not None:
        where.append(IncidentRow.id != exclude_id)
    return _load_rows(session, *where, order=(IncidentRow.opened_at, IncidentRow.id))


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
    _reading(session)
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


def has_timeline_kind(session: Session, incident_id: int, kind: str) -> bool:
    """Whether the incident's history already holds a line of this kind (a retried effect
    that adds a one-off line checks this first)."""
    t = TimelineRow.__table__
    found = session.execute(select(t.c.id).where(t.c.incident_id == incident_id,
                                                 t.c.kind == kind).limit(1)).first()
    return found is not None


def load_incidents(session: Session, ids: Collection[int]) -> list[Incident]:
    """The incidents with these ids, each whole, by id."""
    if not ids:
        return []
    return _load_rows(session, IncidentRow.id.in_(list(ids)), order=(IncidentRow.id,))


# --- timeline -------------------------------------------------------------------------------------


def append_timeline(
    session: Session, incident_id: int, team_id: str, entries: Iterable[TimelineEntry]
) -> None:
    """Add history lines. There is deliberately no way to edit or delete them."""
    rows = [
        {
            "incident_id": incident_id,
            "team_id": team_id,
            "at": entry.at,
            "kind": entry.kind,
            "actor": entry.actor,
            "text": entry.text,
        }
        for entry in entries
    ]
    if rows:
        session.execute(insert(TimelineRow.__table__), rows)


def get_timeline(session: Session, incident_id: int) -> list[TimelineEntry]:
    """The incident's history in order of time, then of insertion."""
    _reading(session)
    t = TimelineRow.__table__
    result = session.execute(
        select(t.c.at, t.c.kind, t.c.text, t.c.actor)
        .where(t.c.incident_id == incident_id)
        .order_by(t.c.at, t.c.id)
    )
    return [
        TimelineEntry(at=at, kind=kind, text=txt, actor=actor) for at, kind, txt, actor in result
    ]


# --- outbox ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxItem:
    """A claimed side effect. `attempts` counts earlier failed attempts (0 on the first try)."""

    id: int
    team_id: str
    incident_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    requested_by: str | None
    created_at: datetime


def enqueue(
    session: Session,
    *,
    team_id: str,
    incident_id: int | None,
    kind: str,
    payload: dict[str, Any],
    requested_by: str | None,
    now: datetime,
) -> int:
    """Record a side effect to carry out after commit; returns its id.

    Enqueue in the same transaction as the state change (after `save_incident`, whose row lock
    orders concurrent writers, so ids follow commit order per incident).
    """
    new_id = session.execute(
        _ENQUEUE,
        {
            "team_id": team_id,
            "incident_id": incident_id,
            "kind": kind,
            "payload": payload,
            "requested_by": requested_by,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        },
    ).scalar_one()
    return int(new_id)


def enqueue_many(session: Session, *, team_id: str, incident_id: int | None,
                 rows: Sequence[tuple[str, dict[str, Any]]], requested_by: str | None,
                 now: datetime) -> None:
    """`enqueue` for several (kind, payload) rows of one change, in one executemany.

    No ids come back, so the driver may send the rows together (psycopg pipelines them in one
    round trip); they are still inserted one after another in order, so their ids keep the
    order the outbox carries them out in.
    """
    if not rows:
        return
    session.execute(_ENQUEUE_MANY, [
        {"team_id": team_id, "incident_id": incident_id, "kind": kind, "payload": payload,
         "requested_by": requested_by, "created_at": now, "attempts": 0,
         "next_attempt_at": now}
        for kind, payload in rows])


# Hot statements built once: building a statement costs more Python than running it.
_ENQUEUE = insert(OutboxRow.__table__).returning(OutboxRow.__table__.c.id)
_ENQUEUE_MANY = insert(OutboxRow.__table__)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due, open and unleased, with no earlier open item of the same incident."""
    o = OutboxRow.__table__
    earlier = o.alias("earlier")
    blocked = (
        exists()
        .where(
            earlier.c.incident_id == o.c.incident_id,
            earlier.c.id < o.c.id,
            earlier.c.done_at.is_(None),
            earlier.c.failed_at.is_(None),
        )
        .correlate(o)
    )
    return and_(
        o.c.done_at.is_(None),
        o.c.failed_at.is_(None),
        o.c.next_attempt_at <= now,
        or_(o.c.claimed_until.is_(None), o.c.claimed_until <= now),
        ~blocked,
    )


def claim_outbox(
    session: Session, *, now: datetime, worker: str, lease: timedelta, limit: int = 20
) -> list[OutboxItem]:
    """Lease up to `limit` due items to `worker` until `now + lease`, oldest first.

    An item waits while an earlier item of the same incident is still open (not done and not
    failed), so one incident's effects happen in order: its channel exists before anything is
    posted to it. Each claim is a conditional UPDATE re-checking those conditions and counted by
    rowcount, so two workers in any processes never hold the same item (PostgreSQL re-checks the
    WHERE after the competing row lock is released; SQLite runs one writer at a time). Commit
    before carrying the items out; an item whose worker died is claimable again once the lease
    ends, so the lease must outlast the slowest effect.
    """
    o = OutboxRow.__table__
    claimable = _claimable(now)
    candidates = (
        session.execute(select(o.c.id).where(claimable).order_by(o.c.id).limit(limit))
        .scalars()
        .all()
    )
    claimed: list[int] = []
    for item_id in candidates:
        result = session.execute(
            update(o)
            .where(o.c.id == item_id, claimable)
            .values(claimed_by=worker, claimed_until=now + lease)
        )
        if result.rowcount == 1:
            claimed.append(item_id)
    if not claimed:
        return []
    rows = session.execute(
        select(
            o.c.id,
            o.c.team_id,
            o.c.incident_id,
            o.c.kind,
            o.c.payload,
            o.c.attempts,
            o.c.requested_by,
            o.c.created_at,
        )
        .where(o.c.id.in_(claimed))
        .order_by(o.c.id)
    )
    return [OutboxItem(**row._asdict()) for row in rows]


def finish_outbox(session: Session, item_id: int, now: datetime) -> None:
    """The effect happened: the item is done and lets the incident's next item run."""
    session.execute(_FINISH_OUTBOX, {"k_id": item_id, "v_done_at": now})


_FINISH_OUTBOX = (
    update(OutboxRow.__table__)
    .where(OutboxRow.__table__.c.id == bindparam("k_id"))
    .values(done_at=bindparam("v_done_at", type_=UTCDateTime()), claimed_until=None)
)


def retry_outbox(
    session: Session, item_id: int, *, now: datetime, error: str, next_attempt_at: datetime
) -> None:
    """The effect failed but may heal: count the attempt, release the lease, try again later.

    Later items of the same incident keep waiting for this one.
    """
    o = OutboxRow.__table__
    session.execute(
        update(o)
        .where(o.c.id == item_id)
        .values(
            attempts=o.c.attempts + 1,
            last_error=error[:_ERROR_LIMIT],
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            claimed_until=None,
        )
    )


def fail_outbox(session: Session, item_id: int, *, now: datetime, error: str) -> None:
    """Give up on the item (the attempt counts); later items of its incident may now run."""
    o = OutboxRow.__table__
    session.execute(
        update(o)
        .where(o.c.id == item_id)
        .values(
            attempts=o.c.attempts + 1,
            failed_at=now,
            last_error=error[:_ERROR_LIMIT],
            claimed_by=None,
            claimed_until=None,
        )
    )


def pending_outbox_count(session: Session) -> int:
    """Items neither done nor failed (leased or not), all teams."""
    _reading(session)
    o = OutboxRow.__table__
    count = session.execute(
        select(func.count()).select_from(o).where(o.c.done_at.is_(None), o.c.failed_at.is_(None))
    ).scalar_one()
    return int(count)


def prune_outbox(session: Session, older_than: datetime) -> int:
    """Delete items done before `older_than` (failed ones stay for people to look at)."""
    o = OutboxRow.__table__
    result = session.execute(delete(o).where(o.c.done_at.is_not(None), o.c.done_at < older_than))
    return int(result.rowcount)


# --- reminder claims ------------------------------------------------------------------------------


def _reminder_key(
    incident_id: int, kind: str, due_at: datetime, ref: str
) -> list[ColumnElement[bool]]:
    r = ReminderClaimRow.__table__
    return [
        r.c.incident_id == incident_id,
        r.c.kind == kind,
        r.c.due_at == due_at,
        r.c.ref == ref,
    ]


def claim_reminder(
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
    """True for exactly one caller per (incident, kind, due_at, ref), across processes.

    The claim is an INSERT against the unique key inside a SAVEPOINT: whoever inserts second
    gets an IntegrityError (on PostgreSQL after waiting for the first to commit) and False. A
    claim that was never marked sent and whose lease has run out (its sender died) can be taken
    over by a conditional UPDATE, so no reminder is lost with a replica either. Commit the claim
    before sending; then `complete_reminder`, or `release_reminder` if the send failed.
    """
    r = ReminderClaimRow.__table__
    try:
        with session.begin_nested():
            session.execute(
                _CLAIM_REMINDER,
                {
                    "team_id": team_id,
                    "incident_id": incident_id,
                    "kind": kind,
                    "due_at": due_at,
                    "ref": ref,
                    "claimed_by": worker,
                    "claimed_at": now,
                    "lease_until": now + lease,
                },
            )
        return True
    except IntegrityError:
        pass
    result = session.execute(
        update(r)
        .where(
            *_reminder_key(incident_id, kind, due_at, ref),
            r.c.sent_at.is_(None),
            r.c.lease_until <= now,
        )
        .values(claimed_by=worker, claimed_at=now, lease_until=now + lease)
    )
    return result.rowcount == 1


def complete_reminder(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    due_at: datetime,
    ref: str = "",
    now: datetime,
) -> None:
    """The reminder went out: it can never be claimed again."""
    session.execute(
        _COMPLETE_REMINDER,
        {"k_incident_id": incident_id, "k_kind": kind, "k_due_at": due_at, "k_ref": ref,
         "v_sent_at": now},
    )


_CLAIM_REMINDER = insert(ReminderClaimRow.__table__)
_COMPLETE_REMINDER = (
    update(ReminderClaimRow.__table__)
    .where(
        ReminderClaimRow.__table__.c.incident_id == bindparam("k_incident_id"),
        ReminderClaimRow.__table__.c.kind == bindparam("k_kind"),
        ReminderClaimRow.__table__.c.due_at == bindparam("k_due_at"),
        ReminderClaimRow.__table__.c.ref == bindparam("k_ref"),
    )
    .values(sent_at=bindparam("v_sent_at", type_=UTCDateTime()))
)


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
    """`claim_reminder` and `complete_reminder` at once, for a sender whose send (its outbox
    rows) commits in this same transaction: True for exactly one caller per reminder.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` instead of a SAVEPOINT, an INSERT that
    fails on the unique key and an UPDATE: the reminder scheduler runs this for every reminder.
    On PostgreSQL a competing insert of the same key waits for the first to commit, then inserts
    nothing. A claim left unsent whose lease ran out is taken over as in `claim_reminder`.
    """
    values = {"team_id": team_id, "incident_id": incident_id, "kind": kind, "due_at": due_at,
              "ref": ref, "claimed_by": worker, "claimed_at": now, "lease_until": now + lease,
              "sent_at": now}
    stmt = _TAKE_REMINDER.get(session.get_bind().dialect.name)
    if stmt is None:  # another database: the portable two steps
        if not claim_reminder(session, team_id=team_id, incident_id=incident_id, kind=kind,
                              due_at=due_at, ref=ref, now=now, worker=worker, lease=lease):
            return False
        complete_reminder(session, incident_id=incident_id, kind=kind, due_at=due_at, ref=ref,
                          now=now)
        return True
    if session.execute(stmt, values).first() is not None:
        return True
    result = session.execute(_TAKE_OVER_REMINDER, {
        "k_incident_id": incident_id, "k_kind": kind, "k_due_at": due_at, "k_ref": ref,
        "k_now": now, "v_worker": worker, "v_now": now, "v_until": now + lease})
    return result.rowcount == 1


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


def release_reminder(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    due_at: datetime,
    ref: str = "",
    worker: str | None = None,
) -> None:
    """Drop an unsent claim so the reminder can be claimed (and sent) again.

    With `worker`, only that worker's claim is dropped: after a lease takeover the old holder
    must not release the new holder's claim.
    """
    r = ReminderClaimRow.__table__
    where = [*_reminder_key(incident_id, kind, due_at, ref), r.c.sent_at.is_(None)]
    if worker is not None:
        where.append(r.c.claimed_by == worker)
    session.execute(delete(r).where(*where))


# --- Slack event de-duplication -------------------------------------------------------------------


def remember_event(session: Session, team_id: str, event_id: str, now: datetime) -> bool:
    """True the first time `event_id` is seen (handle it), False for Slack's retries."""
    e = HandledEventRow.__table__
    try:
        with session.begin_nested():
            session.execute(insert(e).values(event_id=event_id, team_id=team_id, seen_at=now))
    except IntegrityError:
        return False
    return True


def prune_events(session: Session, older_than: datetime) -> int:
    """Forget event ids seen before `older_than` (Slack stops retrying after minutes)."""
    e = HandledEventRow.__table__
    return int(session.execute(delete(e).where(e.c.seen_at < older_than)).rowcount)


# Tables kept in their own modules, registered on this metadata (migrations and `alembic check`
# read `metadata` from here). Imported last: they build on the classes above.
from playbook.store import lifecycle as _lifecycle_store  # noqa: E402, F401
from playbook.store import outages as _outage_store  # noqa: E402, F401
from playbook.store import timeline as _timeline_store  # noqa: E402, F401
