"""SQLite's writer queue between processes (`playbook.store.engine.WriterQueue`): a writer in
another process holds the lock file for its whole transaction, so ours waits on the lock file,
not in SQLite's busy sleeps, and goes on as soon as the other commits."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot import schema
from playbook.store import make_engine
from playbook.store.engine import WriterQueue


def _hold_a_write(url: str, holding: Any, release: Any) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:  # BEGIN IMMEDIATE, through the writer queue
        conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        holding.set()
        release.wait(30)
    engine.dispose()


def test_a_write_in_another_process_holds_the_queue_until_its_commit(sqlite_url: str) -> None:
    schema.upgrade(sqlite_url)
    sqlite_url_migrated = sqlite_url
    ctx = multiprocessing.get_context("spawn")
    holding, release = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold_a_write, args=(sqlite_url_migrated, holding, release))
    other.start()
    try:
        assert holding.wait(60)
        queue = WriterQueue(sqlite_url_migrated.removeprefix("sqlite:///"))
        assert queue.take(0.2) == (True, False), "the other process's transaction holds it"
        queue.give(True, False)
        release.set()
        other.join(30)
        assert queue.take(5) == (True, True), "free once the other process committed"
        queue.give(True, True)
        # and a write through our own engine goes through at once
        engine = make_engine(sqlite_url_migrated)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        engine.dispose()
    finally:
        release.set()
        other.join(5)
        if other.is_alive():
            other.kill()


def test_an_in_memory_database_has_no_lock_file(tmp_path: Path) -> None:
    queue = WriterQueue(":memory:")
    assert queue.take(0.1) == (True, False)
    queue.give(True, False)
    assert list(tmp_path.iterdir()) == []
