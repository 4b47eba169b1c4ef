"""Group commit of opens (`playbook.services.transactions.GroupCommit`), on SQLite and
PostgreSQL: opens that arrive together share a transaction, yet none is answered before its
commit, and one refused open never fails the others; batches take their row locks in one
order, so two processes' batches never deadlock."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
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


# --- lock order ---------------------------------------------------------------------------------


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Polls a condition that another thread makes true (no timing is asserted)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.005)


_numbering = itertools.count(1)


def _transaction(session: Session) -> int:
    """A number for the session's transaction (`id()` is reused once a session is gone)."""
    return int(session.info.setdefault("test_transaction", next(_numbering)))


def _queued_behind_a_running_batch(group: GroupCommit, calls: list[Callable[[], Any]],
                                   results: list[Any]) -> threading.Event:
    """Holds `group`'s lead with a use case of its own until the returned event is set, and
    queues `calls` behind it, in this order: set the event and they run as one batch."""
    release, running = threading.Event(), threading.Event()

    def hold(session: Session, now: datetime) -> None:
        running.set()
        release.wait(30)

    def call(fn: Callable[[], Any]) -> None:
        try:
            results.append(fn())
        except Exception as err:
            results.append(err)

    # (the class's own `run`: a test may have wrapped the instance's for the use cases)
    threading.Thread(target=GroupCommit.run, args=(group, hold), daemon=True).start()
    _wait_until(running.is_set, "the holding batch to run")
    for n, fn in enumerate(calls, start=1):
        threading.Thread(target=call, args=(fn,), daemon=True).start()
        _wait_until(lambda n=n: len(group._queue) == n, "the use case to queue")
    return release


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_batches_of_two_processes_lock_two_workspaces_in_one_order(
        session_factory: sessionmaker[Session], engine: Engine, db_url: str) -> None:
    """Two processes (two services, two engines) each batch an open of workspace A and one of
    B, queued in opposite orders; each batch does its first open and waits until the other
    batch has done its first too, or waits for a lock. Run in arrival order, one batch holds
    A's counter and the other B's, and each then waits for the other's: PostgreSQL reports a
    deadlock (after its 1 s `deadlock_timeout`). In lock order both start with A: no deadlock.
    (PostgreSQL only: SQLite runs one write transaction at a time and has no row locks.)"""
    other_engine = store.make_engine(db_url)
    try:
        services = [Service(factory, ServiceConfig(policy=default_policy()), _now)
                    for factory in (session_factory, store.make_session_factory(other_engine))]
        for svc in services:  # counters and the playbook exist: only the counters are locked
            for team in ("TA", "TB"):
                svc.open(team, ALICE, "Warmup: first")
        failures: list[BaseException] = []
        transactions: list[list[int]] = [[], []]  # per process: each open's session
        first_done = [threading.Event(), threading.Event()]

        def lock_wait_seen() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE NOT l.granted AND a.datname = current_database()")).scalar())

        def instrument(me: int) -> None:
            group = services[me].group
            real = group.run

            def run(work: Any, **kwargs: Any) -> Any:
                def watched(session: Session, now: datetime) -> Any:
                    try:
                        result = work(session, now)
                    except BaseException as err:
                        failures.append(err)
                        raise
                    transactions[me].append(_transaction(session))
                    if len(transactions[me]) == 1:  # the first open of this process's batch is done
                        first_done[me].set()
                        _wait_until(lambda: first_done[1 - me].is_set() or lock_wait_seen(),
                                    "the other batch's first open, or a lock wait")
                    return result
                return real(watched, **kwargs)
            group.run = run  # type: ignore[method-assign]

        results: list[Any] = []
        releases = []
        for me, teams in enumerate((("TA", "TB"), ("TB", "TA"))):
            svc = services[me]
            instrument(me)
            releases.append(_queued_behind_a_running_batch(svc.group, [
                lambda svc=svc, team=team: svc.open(team, ALICE, f"Customer {team}: down")
                for team in teams], results))
        for release in releases:
            release.set()
        _wait_until(lambda: len(results) == 4, "the four opens")
        deadlocks = [f for f in failures if "deadlock" in str(f).lower()]
        assert not deadlocks, deadlocks[0]
        assert not failures, failures
        assert sorted(r.incident.key for r in results) == ["INC-3", "INC-3", "INC-4", "INC-4"]
        assert [len(set(t)) for t in transactions] == [1, 1], \
            "each process ran its two opens in one transaction"
    finally:
        other_engine.dispose()


def test_a_batch_claims_a_form_key_first_and_once_per_workspace(
        session_factory: sessionmaker[Session]) -> None:
    """Use cases that claim a unique key run first of their workspace, one per batch."""
    group = GroupCommit(session_factory, _now)
    ran: list[tuple[str, int]] = []

    def use_case(name: str) -> Callable[[Session, datetime], str]:
        def work(session: Session, now: datetime) -> str:
            ran.append((name, _transaction(session)))
            return name
        return work

    queued = [("B plain", "TB", False), ("A plain", "TA", False), ("A form 1", "TA", True),
              ("A form 2", "TA", True), ("B form", "TB", True)]
    results: list[Any] = []
    release = _queued_behind_a_running_batch(group, [
        lambda name=name, team=team, claims=claims: group.run(use_case(name), order=team,
                                                               claims=claims)
        for name, team, claims in queued], results)
    release.set()
    _wait_until(lambda: len(results) == len(queued), "every use case")
    assert sorted(results) == sorted(name for name, _, _ in queued)
    first = ran[0][1]
    assert [name for name, session in ran if session == first] == \
        ["A form 1", "A plain", "B form", "B plain"]
    assert [name for name, session in ran if session != first] == ["A form 2"]
