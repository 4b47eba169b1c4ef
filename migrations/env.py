"""Alembic environment for crisis-playbook-bot.

Where the database comes from, first match wins:

1. ``config.attributes["connection"]``: a live connection handed over by `bot.schema` (which holds
   the PostgreSQL advisory lock on it, so replicas starting together migrate one at a time);
2. ``sqlalchemy.url`` in the Alembic config (set by `bot.schema.alembic_config`, or an ini file);
3. the application's settings (``DATABASE_URL``), imported lazily so that merely loading this
   file never requires Slack settings or a configured environment.

The metadata is `playbook.store`'s. SQLite gets batch mode (it cannot ALTER most things in
place) and transactional DDL: `playbook.store.make_engine` makes SQLAlchemy emit BEGIN itself,
so a failed migration on SQLite rolls back as cleanly as on PostgreSQL.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from playbook.store import UTCDateTime, make_engine, metadata

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our TypeDecorator as the plain type it stores, so revisions never import app code
    (a revision must keep working after the models it was generated from have changed)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "render_item": _render_item,
    }
    if dialect_name == "sqlite":
        options["transactional_ddl"] = True
    return options


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.config import load_settings  # lazy: settings are only needed without a URL

    return load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(dialect_name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Foreign keys off on SQLite: batch mode drops and recreates tables, and with them on the
    # drop would cascade-delete child rows.
    engine = make_engine(_url(), sqlite_foreign_keys=False, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
