"""Engines and sessions made safe for concurrency on SQLite and PostgreSQL, and read-only sessions.

SQLite: WAL, ``BEGIN IMMEDIATE`` for writers and one writer queue per engine, shared with the
other processes on the same file through a lock file (`make_engine`, `WriterQueue`);
a session whose first call is a read begins as a lock-free reader (`begin_reading`, `reading`).
PostgreSQL: a pre-ping and a connect timeout, so an unreachable database fails a request inside
Slack's ack window instead of hanging it.

Durability (`FileGuard`): on SQLite the file's identity (device, inode) is taken at the first
connection, and every commit and every new connection checks it again. SQLite keeps writing to
a file that was deleted or replaced under it (an open descriptor of a removed inode), and a
new connection to a missing path makes a new empty database: either way a write would be
acknowledged and then lost at the next start. Such a commit fails instead, with
`DatabaseFileLost` (an `OperationalError`, so the person sees "the database is not reachable,
nothing was changed"). `probe_write` is the health check's real write, rolled back.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "PG_CONNECT_TIMEOUT",
    "SQLITE_BUSY_TIMEOUT",
    "DatabaseFileLost",
    "FileGuard",
    "begin_reading",
    "file_guard",
    "make_engine",
    "make_session_factory",
    "probe_write",
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
    # each other on a lock that wakes the next one at once, not in SQLite's busy-wait sleeps,
    # and processes on the same file (HTTP workers, outbox children) on a lock file.
    connect_args.setdefault(
        "factory", type("_SQLiteEngineConnection", (_SQLiteConnection,),
                        {"writer_queue": WriterQueue(parsed.database)})
    )
    engine = create_engine(url, connect_args=connect_args, **kw)
    busy_ms = int(sqlite_busy_timeout * 1000)
    guard = FileGuard(parsed.database)
    _GUARDS[engine] = guard

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
        guard.check_connect()

    @event.listens_for(engine, "commit")
    def _on_commit(_conn: Connection) -> None:
        guard.check()  # before the DBAPI commit: a lost file fails it instead of "saving"

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


class WriterQueue:
    """Who may write to one SQLite file next: a thread lock, then a lock file between processes.

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, ... up to
    100 ms between tries), so the lock often sits free while every waiter is asleep, and a
    write can wait tens of milliseconds behind a write of one. Between the threads of one
    process a `threading.Lock` wakes the next writer at once. Between processes on the same
    file (HTTP workers, the outbox children: `bot.outbox.processes`) the same job is done by
    ``flock`` on ``<database>.writer-lock``: a writer polls it every 0.2-2 ms while another
    process writes, instead of sleeping up to 100 ms in SQLite's busy handler (measured in a
    burst of acks against the outbox process: ``BEGIN IMMEDIATE`` alone, p99 80 ms). The
    kernel drops the lock of a process that dies. A waiter that runs out of `timeout` goes on
    to SQLite's own lock and busy wait, as before: this changes how fast, never whether, a
    write runs; a process that does not use this queue (an old version, the ``sqlite3`` shell)
    is still excluded by SQLite's lock.
    """

    POLL_FIRST, POLL_MAX = 0.0002, 0.002

    def __init__(self, database: str | None) -> None:
        self.thread_lock = threading.Lock()
        memory = not database or database == ":memory:" or database.startswith("file:")
        self.path = None if memory else os.path.abspath(database or "") + ".writer-lock"
        self._fd: int | None = None

    def _lock_fd(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None:  # only under thread_lock
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as err:  # e.g. a read-only folder: SQLite's own lock still holds
                log.debug("no writer lock file %s: %s", self.path, err)
                self.path = None
                return None
        return self._fd

    def take(self, timeout: float) -> tuple[bool, bool]:
        """(thread lock taken, file lock taken), waiting at most `timeout` s for both."""
        deadline = time.monotonic() + timeout
        if not self.thread_lock.acquire(timeout=max(timeout, 0.001)):
            return False, False
        fd = self._lock_fd()
        if fd is None:
            return True, False
        pause = self.POLL_FIRST
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True, True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return True, False
                time.sleep(pause)
                pause = min(pause * 2, self.POLL_MAX)
            except OSError as err:
                log.debug("writer lock file %s failed: %s", self.path, err)
                return True, False

    def give(self, thread: bool, file: bool) -> None:
        if file and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        if thread:
            self.thread_lock.release()


class _SQLiteConnection(sqlite3.Connection):
    """A pysqlite connection that queues this process's writers, and other processes' on the
    same file, in `writer_queue` (one per engine): taken right before ``BEGIN IMMEDIATE`` and
    given back right after COMMIT or ROLLBACK, so the next writer starts at once."""

    writer_queue: WriterQueue
    _holds_writer = False
    _holds_file = False

    def take_writer(self, timeout: float) -> None:
        if not self._holds_writer:
            self._holds_writer, self._holds_file = self.writer_queue.take(timeout)

    def drop_writer(self) -> None:
        if self._holds_writer:
            held, file = self._holds_writer, self._holds_file
            self._holds_writer = self._holds_file = False
            self.writer_queue.give(held, file)

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


class DatabaseFileLost(OperationalError):
    """The SQLite file this process writes to was deleted or replaced: nothing can be saved."""

    def __init__(self, why: str) -> None:
        super().__init__("COMMIT", None, sqlite3.OperationalError(why))
        self.why = why


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int


class FileGuard:
    """The identity of one SQLite file, taken at the first connection and checked after.

    `path` None: an in-memory database, nothing to check. Checking is one ``stat``.
    """

    def __init__(self, path: str | None) -> None:
        memory = not path or path == ":memory:" or path.startswith("file::memory:")
        self.path = None if memory else os.path.abspath(path or "")
        self.identity: FileIdentity | None = None
        self._lock = threading.Lock()

    def current(self) -> FileIdentity | None:
        """The identity of the file at `path` now (None: there is no file there)."""
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return FileIdentity(st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """Why writes cannot be made durable (the file gone or replaced), or None."""
        if self.path is None or self.identity is None:
            return None
        try:
            now = self.current()
        except OSError as err:  # e.g. the folder made unreadable
            return f"the database file {self.path} cannot be checked: {err.strerror}"
        if now is None:
            return f"the database file {self.path} was deleted while the bot was running"
        if now != self.identity:
            return f"the database file {self.path} was replaced while the bot was running"
        return None

    def check(self) -> None:
        why = self.problem()
        if why is not None:
            log.error("refusing to commit: %s; restart the bot once the file is back", why)
            raise DatabaseFileLost(why)

    def check_connect(self) -> None:
        """On a new connection: remember the file the first time, refuse another one later."""
        with self._lock:
            if self.identity is None and self.path is not None:
                self.identity = self.current()
                return
        self.check()


_GUARDS: weakref.WeakKeyDictionary[Engine, FileGuard] = weakref.WeakKeyDictionary()


def file_guard(engine: Engine) -> FileGuard | None:
    """The SQLite file guard of an engine made by `make_engine` (None for PostgreSQL)."""
    return _GUARDS.get(engine)


PROBE_TIMEOUT = 2.0
"""Seconds the health check's write probe waits for a lock before calling the database busy."""


def probe_write(engine: Engine) -> list[str]:
    """Prove the database takes a write, without changing anything; return its schema revisions.

    One transaction that reads ``alembic_version`` and rewrites its row with the same value,
    then rolls back: it needs the write lock and a writable file (SQLite) or a writable,
    primary server (PostgreSQL), and leaves no trace, so any number of replicas may run it.
    On SQLite it uses a connection of its own (never a pooled one, which may still hold a
    descriptor of a file deleted since), with a short busy timeout, so a write burst cannot
    stall the check. Raises what the database raised; an empty list means no schema at all.
    """
    guard = file_guard(engine)
    if guard is not None and guard.path is not None:
        why = guard.problem()
        if why is not None:
            raise DatabaseFileLost(why)
        if os.path.exists(guard.path) and not os.access(guard.path, os.W_OK):
            # asked of the kernel, not of SQLite: a new connection to a file this process
            # already has open may be handed one of its earlier read-write descriptors
            # (SQLite reuses them per file), which a read-only or immutable file no longer
            # grants to a new open, so the probe's write would "succeed" where commits fail
            raise sqlite3.OperationalError(
                f"attempt to write a readonly database ({guard.path} is read-only)")
        raw = sqlite3.connect(f"file:{guard.path}?mode=rw", uri=True, timeout=PROBE_TIMEOUT,
                              isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            try:
                return _probe(raw.execute, raw.execute)
            finally:
                raw.execute("ROLLBACK")
        finally:
            raw.close()
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(text("SET LOCAL statement_timeout = '3s'"))
        try:
            return _probe(lambda sql: conn.exec_driver_sql(sql),
                          lambda sql: conn.exec_driver_sql(sql))
        finally:
            conn.rollback()


def _probe(read: Any, write: Any) -> list[str]:
    try:
        versions = sorted(str(row[0]) for row in read("SELECT version_num FROM alembic_version"))
    except Exception as err:
        if "alembic_version" in str(err):  # no such table: never migrated, or recreated empty
            return []
        raise
    write("UPDATE alembic_version SET version_num = version_num")
    return versions


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects survive commit (`expire_on_commit=False`): we hand out dataclasses,
    and nothing should lazily hit the database after the transaction is over."""
    return sessionmaker(engine, expire_on_commit=False)
