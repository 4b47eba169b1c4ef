"""Shared fixtures: database URLs for SQLite and PostgreSQL, migrated only through Alembic.

The schema of every test database comes from `bot.schema.upgrade` (never `create_all`), so tests
exercise the migrations users run. Migrating per test would cost seconds, so each database kind
is migrated once per session: SQLite tests get a copy of a migrated template file, PostgreSQL
tests share one scratch database whose rows are deleted before each test.

PostgreSQL comes from ``CRISISBOT_TEST_DATABASE_URL`` (default below); the tests create and drop
their own ``crisisbot_t_<random>`` databases on that server and never touch the named one. When
the server is unreachable PostgreSQL tests skip with the reason, except under ``CI=true``, where a
silent skip would hide a broken pipeline, so they fail instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, pool, text
from sqlalchemy.orm import Session, sessionmaker

from bot import schema
from playbook import store

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCRATCH_PREFIX = "crisisbot_t_"


def _pg_server_url() -> str:
    return os.environ.get("CRISISBOT_TEST_DATABASE_URL") or DEFAULT_PG_URL


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL server, for CREATE/DROP DATABASE."""
    url = _pg_server_url()
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        message = (
            f"PostgreSQL not reachable at {_shown(url)}: {reason}; set CRISISBOT_TEST_DATABASE_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield engine
    engine.dispose()


class _Scratch:
    """Creates and drops scratch databases next to the configured one."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin

    def create(self) -> tuple[str, str]:
        name = f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(_pg_server_url()).set(database=name)
        return name, url.render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """A fresh, empty (unmigrated) PostgreSQL database, dropped after the test."""
    scratch = _Scratch(pg_admin)
    name, url = scratch.create()
    try:
        yield url
    finally:
        scratch.drop(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, empty (unmigrated) SQLite database file."""
    return f"sqlite:///{tmp_path / 'crisisbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind: for tests of the migrations themselves."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


# --- migrated once per session -----------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "crisisbot.db"
    schema.upgrade(f"sqlite:///{path}")
    # Fold the WAL into the main file so a plain file copy is the whole database.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture(scope="session")
def _pg_migrated(pg_admin: Engine) -> Iterator[str]:
    scratch = _Scratch(pg_admin)
    name, url = scratch.create()
    try:
        schema.upgrade(url)
        yield url
    finally:
        scratch.drop(name)


@pytest.fixture(scope="session")
def _pg_cleaner(_pg_migrated: str) -> Iterator[Engine]:
    engine = create_engine(_pg_migrated)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with no rows, on SQLite and on PostgreSQL (test ids say which)."""
    if request.param == "sqlite":
        path = tmp_path / "crisisbot.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("_pg_migrated"))
    cleaner: Engine = request.getfixturevalue("_pg_cleaner")
    with cleaner.begin() as conn:  # DELETE beats TRUNCATE by ~10x on tables this small
        for table in reversed(store.metadata.sorted_tables):
            conn.execute(table.delete())
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """`playbook.store.make_engine` on `db_url`, disposed after the test."""
    engine = store.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated test database, configured as the application configures them."""
    return store.make_session_factory(engine)
