"""The Alembic migrations against real SQLite and PostgreSQL databases.

What users rely on: `crisisbot db upgrade` builds the schema from nothing, is safe to run again
(every start runs it), matches the models exactly (`check` is what ``alembic check`` finds), can
be rolled back, and replicas starting at the same moment do not trip over each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot import schema
from playbook import store

MODEL_TABLES = {t.name for t in store.metadata.sorted_tables}


def _head() -> str:
    head = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _tables(url: str) -> set[str]:
    engine = store.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_dir_is_the_source_tree_in_a_checkout() -> None:
    directory = schema.migrations_dir()
    assert (directory / "env.py").is_file()
    assert (directory / "versions" / "0001_initial.py").is_file()
    assert directory == Path(schema.__file__).resolve().parent.parent / "migrations"


def test_config_is_built_in_code_and_escapes_percent() -> None:
    config = schema.alembic_config("postgresql+psycopg://u:p%40ss@h/d")
    assert config.config_file_name is None
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://u:p%40ss@h/d"


def test_upgrade_from_empty(empty_db_url: str) -> None:
    assert schema.current_revision(empty_db_url) is None
    schema.upgrade(empty_db_url)
    assert schema.current_revision(empty_db_url) == _head()
    assert _tables(empty_db_url) == MODEL_TABLES | {"alembic_version"}


def test_models_match_migrations(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url)
    assert schema.check(empty_db_url) == []


def test_check_reports_a_difference(empty_db_url: str) -> None:
    """`check` is only worth something if it can fail: a missing index must show up."""
    schema.upgrade(empty_db_url)
    engine = store.make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_outbox_next_attempt_at")
    finally:
        engine.dispose()
    diffs = schema.check(empty_db_url)
    assert [d[0] for d in diffs] == ["add_index"]
    assert diffs[0][1].name == "ix_outbox_next_attempt_at"


def test_upgrade_twice_is_a_no_op(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url)
    engine = store.make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO handled_events (event_id, team_id, seen_at) "
                "VALUES ('Ev1', 'T1', '2026-11-23 13:00:00')"
            )
        schema.upgrade(empty_db_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT event_id FROM handled_events").all() == [("Ev1",)]
    finally:
        engine.dispose()
    assert schema.current_revision(empty_db_url) == _head()
    assert schema.check(empty_db_url) == []


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url)
    schema.downgrade(empty_db_url, "base")
    assert schema.current_revision(empty_db_url) is None
    assert _tables(empty_db_url) <= {"alembic_version"}
    schema.upgrade(empty_db_url)
    assert schema.current_revision(empty_db_url) == _head()
    assert schema.check(empty_db_url) == []


def test_replicas_starting_together_both_succeed(empty_db_url: str) -> None:
    """Three processes upgrade an empty database at once: all succeed, the schema is whole.

    PostgreSQL: they queue on the advisory lock; SQLite: on the migration's BEGIN IMMEDIATE.
    Processes, not threads: Alembic's `context` is process-global, and replicas are processes.
    """
    code = "import sys; from bot.schema import upgrade; upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in results]
    assert schema.current_revision(empty_db_url) == _head()
    assert schema.check(empty_db_url) == []


def test_env_falls_back_to_settings(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a connection or sqlalchemy.url, env.py migrates DATABASE_URL from settings."""
    from alembic import command
    from alembic.config import Config

    monkeypatch.chdir(tmp_path)  # no developer .env can be picked up from here
    for key in list(os.environ):  # nor a malformed setting from the shell running the tests
        if key.startswith(("SLACK_", "CRISISBOT_")) or key in ("PORT", "LOG_LEVEL"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    config = Config()
    config.set_main_option("script_location", str(schema.migrations_dir()))
    config.set_main_option("path_separator", "os")
    command.upgrade(config, "head")
    assert schema.current_revision(sqlite_url) == _head()


def test_0006_fills_last_activity_from_what_people_did(empty_db_url: str) -> None:
    """Upgrading must not make every quiet old incident stale at once: the last timeline line
    written by a person becomes its last activity (reminder lines, with no actor, don't count)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    script = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    before = script.get_revision("0006_nag_snooze_windows").down_revision
    assert isinstance(before, str)
    schema.upgrade(empty_db_url, before)
    engine = store.make_engine(empty_db_url)
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            for number in (1, 2):
                conn.execute(text(
                    "INSERT INTO incidents (id, team_id, number, version, customer, customer_key,"
                    " description, severity, status, step, opened_by, opened_at, customer_words,"
                    " drivers, lessons, reminders_fired, escalations_fired) VALUES (:n, 'T1', :n,"
                    " 1, 'Acme', 'acme', 'down', 'sev2', 'open', 'listen', 'U1', :t, '[]', '[]',"
                    " '[]', 0, 0)"), {"n": number, "t": t0.replace(tzinfo=None)})
            for minute, actor in ((5, "U1"), (30, "U2"), (90, None)):
                conn.execute(text(
                    "INSERT INTO timeline_entries (incident_id, team_id, at, kind, actor, text) "
                    "VALUES (1, 'T1', :at, 'x', :actor, 'x')"),
                    {"at": t0.replace(minute=minute % 60, hour=9 + minute // 60,
                                      tzinfo=None), "actor": actor})
    finally:
        engine.dispose()
    schema.upgrade(empty_db_url)
    engine = store.make_engine(empty_db_url)
    try:
        with store.make_session_factory(engine)() as session:
            first, second = (store.get_incident(session, "T1", n) for n in (1, 2))
    finally:
        engine.dispose()
    assert first is not None and second is not None
    assert first.last_activity_at == t0.replace(minute=30)
    assert second.last_activity_at is None
