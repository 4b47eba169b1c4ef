"""Schema migrations from inside the program: `crisisbot db upgrade` and upgrade-on-start.

The Alembic configuration is built in code, so an installed wheel needs no alembic.ini: the
migration scripts ship inside the package as ``bot/migrations`` (pyproject maps the top-level
``migrations/`` there at build time), and a source checkout uses ``migrations/`` directly.

Replicas start together and would all try to migrate at once. On PostgreSQL the upgrade runs
under a session advisory lock on one dedicated, unpooled connection that is unlocked explicitly
(a pooled connection's close() would keep the lock). On SQLite the migration transaction itself
starts with BEGIN IMMEDIATE (see `playbook.store.make_engine`), which serializes processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, pool, text

from playbook.store import make_engine, metadata

__all__ = [
    "MIGRATION_LOCK_ID",
    "alembic_config",
    "check",
    "current_revision",
    "downgrade",
    "migrations_dir",
    "upgrade",
]

MIGRATION_LOCK_ID = int.from_bytes(b"crisisdb", "big")
"""Key of the PostgreSQL advisory lock held while migrating (fits a signed bigint)."""


def migrations_dir() -> Path:
    """The packaged ``bot/migrations`` when installed from a wheel, else the repo's migrations/."""
    packaged = Path(__file__).resolve().parent / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic `Config` for `url`, built in code (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    # Config is a ConfigParser: a percent-encoded password must not be read as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _migration_engine(url: str) -> Engine:
    # Unpooled, so closing really ends the session; SQLite without foreign keys (see env.py).
    return make_engine(url, sqlite_foreign_keys=False, poolclass=pool.NullPool)


def _upgrade_on(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    if connection.in_transaction():
        connection.commit()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`; a no-op when already there.

    PostgreSQL: under ``pg_advisory_lock(MIGRATION_LOCK_ID)`` so concurrent starters wait for
    the first and then find nothing to do.
    """
    engine = _migration_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                _upgrade_on(conn, url, revision)
                return
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID})
            conn.commit()  # the lock is session-level: it outlives this transaction
            try:
                _upgrade_on(conn, url, revision)
            finally:
                if conn.in_transaction():
                    conn.rollback()  # a failed migration leaves an aborted transaction
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID})
                conn.commit()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Step back to `revision` (``"base"`` drops everything). For tests and operators only."""
    engine = _migration_engine(url)
    try:
        with engine.connect() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
            if conn.in_transaction():
                conn.commit()
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = _migration_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def check(url: str) -> list[Any]:
    """What autogenerate finds different between the models and the database (empty: in sync).

    The same comparison as ``alembic check``, returned instead of raised so callers and tests
    can show the differences.
    """
    engine = _migration_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": conn.dialect.name == "sqlite",
                    "target_metadata": metadata,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
