"""Outbox leases (playbook/store/outbox.py), on SQLite and PostgreSQL: a worker renews what it
holds, loses what another took over after its lease ran out (and then can neither finish,
retry nor fail it), a dead worker's rows are freed at once, and one claim takes only what
its worker can start soon."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox.paced import Deferred
from bot.outbox.worker import OutboxWorker
from playbook import store
from playbook.store import outbox
from tests.integration.outbox_rows import add_incident

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
Factory = sessionmaker[Session]


def _incident(s: Session) -> int:
    return add_incident(s, T0)


def _enqueue(s: Session, incident_id: int | None, kind: str) -> int:
    return store.enqueue(s, team_id="T1", incident_id=incident_id, kind=kind,
                         payload={}, requested_by="U1", now=T0)


def _claim(factory: Factory, worker: str, now: datetime, **kw: object) -> list[outbox.Chain]:
    with factory.begin() as s:
        return outbox.claim_chains(s, now=now, worker=worker, lease=LEASE, **kw)  # type: ignore[arg-type]


def test_a_worker_whose_lease_was_taken_over_cannot_finish_retry_or_fail(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        inc = _incident(s)
        first, second = _enqueue(s, inc, "timeline"), _enqueue(s, inc, "timeline")
    (mine,) = _claim(session_factory, "a", T0)
    assert [i.id for i in mine] == [first, second] and not any(i.taken_over for i in mine)
    with session_factory.begin() as s:  # A's heartbeat keeps it while it runs
        assert outbox.extend(s, [first, second], worker="a", now=T0 + LEASE / 2,
                             lease=LEASE) == {first, second}
    assert _claim(session_factory, "b", T0 + LEASE) == [], "renewed: not free yet"

    late = T0 + LEASE / 2 + LEASE  # A went quiet: its lease ran out
    (theirs,) = _claim(session_factory, "b", late)
    assert [i.id for i in theirs] == [first, second]
    assert all(i.taken_over and i.retried for i in theirs), "B knows A may have run them"
    with session_factory.begin() as s:
        assert outbox.extend(s, [first, second], worker="a", now=late, lease=LEASE) == set()
        assert outbox.finish(s, [first], late, worker="a") == 0
        assert not outbox.retry_outbox(s, second, now=late, error="x", next_attempt_at=late,
                                       worker="a")
        assert not outbox.fail_outbox(s, second, now=late, error="x", worker="a")
    with session_factory.begin() as s:
        assert outbox.finish(s, [first, second], late, worker="b") == 2
        assert store.pending_outbox_count(s) == 0


def test_a_dead_workers_rows_are_free_at_once_and_come_back_taken_over(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        inc = _incident(s)
        row = _enqueue(s, inc, "create_channel")
    _claim(session_factory, "host:1:old/outbox-0", T0)
    with session_factory.begin() as s:
        assert outbox.lease_holders(s) == ["host:1:old/outbox-0"]
    assert _claim(session_factory, "host:1:new/outbox-0", T0) == [], "leased"
    with session_factory.begin() as s:
        assert outbox.take_over(s, ["host:1:old/outbox-0"]) == 1
    (chain,) = _claim(session_factory, "host:1:new/outbox-0", T0)
    assert chain[0].id == row and chain[0].taken_over and chain[0].attempts == 0


def test_released_rows_are_not_taken_over(session_factory: Factory) -> None:
    """A row given back unrun (an earlier row of its chain failed) never reached Slack."""
    with session_factory.begin() as s:
        inc = _incident(s)
        first, second = _enqueue(s, inc, "timeline"), _enqueue(s, inc, "timeline")
    _claim(session_factory, "a", T0)
    with session_factory.begin() as s:
        outbox.release(s, [second], "a")
        outbox.finish(s, [first], T0, worker="a")
    (chain,) = _claim(session_factory, "b", T0)
    assert [i.id for i in chain] == [second] and not chain[0].taken_over


def test_one_claim_takes_at_most_one_chain_that_makes_a_channel(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        opens = [_incident(s) for _ in range(5)]
        for inc in opens:
            _enqueue(s, inc, "create_channel")
            _enqueue(s, inc, "timeline")
        busy = _incident(s)
        _enqueue(s, busy, "timeline")
    first = _claim(session_factory, "a", T0)
    assert [[i.kind for i in c] for c in first] == [["create_channel", "timeline"],
                                                    ["timeline"]]
    second = _claim(session_factory, "b", T0, slow_max=2)
    assert [c[0].incident_id for c in second] == opens[1:3], "the next ones, for the next claim"


def test_a_worker_that_lost_its_lease_cannot_hold_the_row_for_a_paused_team(
        session_factory: Factory) -> None:
    """Holding a row while the team is paused clears its lease: a worker that lost the row to
    another must not clear the new holder's lease (a third worker would then run it too)."""
    from playbook.store import lifecycle as lifecycle_store

    with session_factory.begin() as s:
        row = _enqueue(s, _incident(s), "timeline")
    _claim(session_factory, "a", T0)
    late = T0 + LEASE * 2
    assert _claim(session_factory, "b", late), "A's lease ran out: B takes the row"
    with session_factory.begin() as s:
        lifecycle_store.hold_outbox(s, row, until=late + LEASE, why="paused: x", worker="a")
    assert _claim(session_factory, "c", late + timedelta(seconds=1)) == [], \
        "B still holds it: nobody else may take it"
    with session_factory.begin() as s:
        lifecycle_store.hold_outbox(s, row, until=late + LEASE, why="paused: x", worker="b")
        held = s.get(store.OutboxRow, row)
        assert held is not None and held.claimed_by is None and held.last_error == "paused: x"


class _DeferringRunner:
    """Every row's first call finds its rate tier empty (bot/outbox/paced.py)."""

    def __init__(self) -> None:
        self.ctx = SimpleNamespace(facts=SimpleNamespace(current=None, forget=lambda: None),
                                   lifecycle=SimpleNamespace(paused=lambda _team: None))

    def run(self, _item: object, _incident: object) -> None:
        raise Deferred(5.0, "chat.postMessage")


def test_a_row_deferred_for_a_rate_tier_is_not_warned_of_as_a_lost_lease(
        session_factory: Factory, caplog: pytest.LogCaptureFixture) -> None:
    """The heartbeat renews what our threads hold; a row the thread has just given back (here
    deferred until its tier has a token) is no longer ours in the database. A heartbeat in
    between took it for a lease another worker took over, and warned."""
    with session_factory.begin() as s:
        row = _enqueue(s, _incident(s), "timeline")
    worker = OutboxWorker(_DeferringRunner(), session_factory, lambda: T0,  # type: ignore[arg-type]
                          threads=0, lease=LEASE)
    due_at = worker._due_at

    def beat_then_due(when: datetime) -> None:  # the heartbeat, right after the defer commits
        worker.beat()
        due_at(when)

    worker._due_at = beat_then_due  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="bot.outbox.worker"):
        assert worker.drain_once() == 1
    assert "lost the lease" not in caplog.text
    assert not worker._lost
    with session_factory() as s:  # queued again for when its tier has a token, and free
        assert not _claim(session_factory, "w2", T0)
        assert [c[0].id for c in _claim(session_factory, "w2", T0 + timedelta(seconds=5))] == [row]
        assert store.pending_outbox_count(s) == 1
