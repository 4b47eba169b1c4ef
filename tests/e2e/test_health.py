"""/healthz tells the truth, and a write that cannot be kept is never acked.

Against a running bot (real HTTP, local Slack): the SQLite file made read-only, its folder
deleted, the file replaced; the PostgreSQL database dropped and recreated empty; the schema
stepped back a revision. Each is a 503 with a reason; a command meanwhile is told plainly that
nothing was saved instead of being acked and lost at the next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url

from bot import schema
from bot.local.sandbox import LocalBot

NOT_SAVED = "I couldn't save that"


def health(bot: LocalBot) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{bot.url}/healthz", timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read())


def incidents(bot: LocalBot) -> int:
    assert bot.runtime is not None
    return len(bot.runtime.service.list_incidents(bot.slack.team_id))


@pytest.fixture
def sqlite_bot(tmp_path: Path) -> Iterator[tuple[LocalBot, Path]]:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "bot.db"
    with LocalBot(database_url=f"sqlite:///{db}") as bot:
        assert health(bot)[0] == 200
        assert bot.command("open Acme: lobby screens down").ok
        yield bot, db


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file made read-only: its mode, and for root (whom modes do not stop) immutable."""
    mode = path.stat().st_mode
    path.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def test_healthz_is_503_while_the_sqlite_file_is_read_only(
        sqlite_bot: tuple[LocalBot, Path]) -> None:
    bot, db = sqlite_bot
    with read_only(db):
        status, doc = health(bot)
        assert status == 503 and doc["ok"] is False
        assert doc["reason"].startswith("the database cannot be written"), doc
        assert "readonly" in doc["reason"] or "read-only" in doc["reason"], doc
    status, doc = health(bot)
    assert status == 200 and doc == {"ok": True, "database": "up", "write": "ok",
                                     "schema": ", ".join(schema_heads())}


def schema_heads() -> list[str]:
    from bot.health import migration_heads

    return list(migration_heads())


def test_deleting_the_sqlite_folder_fails_health_and_commands_are_not_acked(
        sqlite_bot: tuple[LocalBot, Path]) -> None:
    bot, db = sqlite_bot
    shutil.rmtree(db.parent)
    status, doc = health(bot)
    assert status == 503 and "was deleted while the bot was running" in doc["reason"], doc
    for text in ("open Beta: checkout broken", "open Gamma: login loop",
                 "open Delta: emails bounce"):
        reply = bot.command(text)
        said = reply.body["text"]
        assert NOT_SAVED in said and "Nothing was changed" in said, said
        assert "INC-" not in said.split("Your text")[0], "never acked as opened"


def test_replacing_the_sqlite_file_fails_health_and_commands_are_not_acked(
        sqlite_bot: tuple[LocalBot, Path]) -> None:
    bot, db = sqlite_bot
    copy = db.with_name("restored.db")
    shutil.copyfile(db, copy)
    os.replace(copy, db)  # e.g. a backup restored over the live file
    status, doc = health(bot)
    assert status == 503 and "was replaced while the bot was running" in doc["reason"], doc
    reply = bot.command("open Beta: checkout broken")
    assert NOT_SAVED in reply.body["text"], reply.body


def test_healthz_is_503_while_the_schema_is_not_at_head(
        sqlite_bot: tuple[LocalBot, Path]) -> None:
    bot, db = sqlite_bot
    url = f"sqlite:///{db}"
    schema.downgrade(url, "-1")
    try:
        status, doc = health(bot)
        assert status == 503 and "this bot needs" in doc["reason"], doc
        assert doc["schema"] != ", ".join(schema_heads())
    finally:
        schema.upgrade(url)
    assert health(bot)[0] == 200
    assert bot.command("open Beta: checkout broken").ok and incidents(bot) == 2


@pytest.mark.postgres
def test_healthz_is_503_when_postgresql_is_recreated_empty(pg_url: str,
                                                          pg_admin: Engine) -> None:
    name = make_url(pg_url).database
    with LocalBot(database_url=pg_url) as bot:
        assert bot.command("open Acme: lobby screens down").ok
        assert health(bot)[0] == 200
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        status, doc = health(bot)
        assert status == 503 and doc["schema"] == "missing", doc
        assert "no schema" in doc["reason"] and "postgres@" not in doc["reason"]
        schema.upgrade(pg_url)  # what an operator (or a restart) does
        status, doc = health(bot)
        assert status == 200, doc
        assert bot.command("open Beta: checkout broken").ok


@pytest.mark.postgres
def test_healthz_is_503_when_postgresql_refuses_writes(pg_url: str, pg_admin: Engine) -> None:
    name = make_url(pg_url).database
    with LocalBot(database_url=pg_url) as bot:
        assert health(bot)[0] == 200
        with pg_admin.connect() as conn:  # e.g. a failover left us on a read-only standby
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only '
                                 "= on")
        try:
            assert bot.runtime is not None
            bot.runtime.engine.dispose()  # the setting applies to new sessions
            status, doc = health(bot)
            assert status == 503 and "read-only transaction" in doc["reason"], doc
        finally:
            with pg_admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" RESET '
                                     "default_transaction_read_only")
            bot.runtime.engine.dispose()
        assert health(bot)[0] == 200
