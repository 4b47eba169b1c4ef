"""Engines and sessions made safe for concurrency on SQLite and PostgreSQL, and read-only sessions.

SQLite: WAL, ``BEGIN IMMEDIATE`` for writers and one writer queue per engine (`make_engine`);
a session whose first call is a read begins as a lock-free reader (`begin_reading`, `reading`).
PostgreSQL: a pre-ping and a connect timeout, so an unreachable database fails a request inside
Slack's ack window instead of hanging it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "PG_CONNECT_TIMEOUT",
    "SQLITE_BUSY_TIMEOUT",
    "begin_reading",
    "make_engine",
    "make_session_factory",
    "ping",
    "reading",
]

SQLITE_BUSY_TIMEOUT = 15.0
"""Seconds a SQLite writer waits for another's transaction before giving up (default)."""

log = logging.getLogger(__name__)


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
    deferred reader, see `begin_reading`). Do not use the ``isolation_level``
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
"""Connection execution option set by `begin_reading`: the transaction only reads."""


def begin_reading(session: Session) -> None:
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
    """A session for reads only, begun as a reader (see `begin_reading`) whatever it reads first.

    Repository reads that go through the ORM (``session.get``) or plain ``select``s do not
    call `begin_reading` themselves; in a plain ``with sessions()`` their first statement would
    begin ``BEGIN IMMEDIATE`` on SQLite and queue behind every writer (a check made on every
    request did, and serialized a burst of acks on the write lock).
    """
    with sessions() as session:
        begin_reading(session)
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
