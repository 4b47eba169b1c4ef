"""Group commit of opens (`playbook.services.transactions.GroupCommit`), on SQLite and
PostgreSQL: opens that arrive together share a transaction, yet none is answered before its
commit, and one refused open never fails the others."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from playbook.domain.errors import PlaybookError
from playbook.domain.model import Actor
from playbook.services.incidents import Duplicate, Service, ServiceConfig
from playbook.services.transactions import GroupCommit
from playbook.store.tables import IncidentRow
from tests.playbooks import default_policy

ALICE = Actor("U0ALICE")


def _now() -> datetime:
    return datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> Service:
    return Service(session_factory, ServiceConfig(policy=default_policy()), _now)


def _committed_numbers(engine: Engine) -> set[int]:
    """What another connection sees: only what was committed."""
    with engine.connect() as conn:
        return {n for (n,) in conn.execute(select(IncidentRow.number))}


def _burst(count: int, work: Any) -> list[Any]:
    """`work(i)` from `count` threads released together; each thread's result or error."""
    gate = threading.Barrier(count, timeout=30)
    out: list[Any] = [None] * count

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = work(i)
        except Exception as err:
            out[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_opens_in_a_burst_are_answered_only_once_committed(service: Service,
                                                           engine: Engine) -> None:
    seen_at_answer: list[set[int]] = []

    def open_one(i: int) -> int:
        outcome = service.open("T1", ALICE, f"Customer {i}: login fails")
        # the answer (the ack's text) exists: another connection must already see the row
        seen_at_answer.append(_committed_numbers(engine))
        number = outcome.incident.number
        assert number is not None
        assert number in seen_at_answer[-1], "answered before its commit"
        return number

    numbers = _burst(24, open_one)
    assert sorted(numbers) == list(range(1, 25)), numbers
    assert service.group.batches < 24, "opens that arrived together shared no transaction"


def test_a_refused_open_in_a_batch_fails_alone(service: Service) -> None:
    def open_one(i: int) -> Any:
        # every third one names the same form twice: the second of a pair is refused
        key = f"form-{i // 2}" if i % 3 == 0 else None
        return service.open_parsed("T1", ALICE, customer=f"C{i}", description="down",
                                   severity=None, dedupe_key=key)

    results = _burst(18, open_one)
    refused = [r for r in results if isinstance(r, PlaybookError)]
    opened = [r for r in results if not isinstance(r, Exception)]
    assert all(isinstance(r, Duplicate) for r in refused)
    assert len(opened) + len(refused) == 18
    assert sorted(o.incident.number for o in opened) == list(range(1, len(opened) + 1))


def test_a_failed_commit_answers_nobody(session_factory: sessionmaker[Session],
                                        engine: Engine) -> None:
    """The commit itself fails: every caller of the batch gets the error, none a result."""
    group = GroupCommit(session_factory, _now)
    fail = {"on": True}

    def refuse(_conn: Any) -> None:
        if fail["on"]:
            raise RuntimeError("disk full")

    event.listen(engine, "commit", refuse)
    try:
        def write(i: int) -> Any:
            def work(session: Session, now: datetime) -> int:
                session.execute(select(1))
                return i
            return group.run(work)

        results = _burst(8, write)
    finally:
        event.remove(engine, "commit", refuse)
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert group.run(lambda session, now: 7) == 7, "the queue is usable after a failure"
