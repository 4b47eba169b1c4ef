"""The outbox's side of pacing (playbook/store/outbox.py), on SQLite and PostgreSQL: a row
deferred for a rate tier waits without counting an attempt, a card refresh that waits steps
aside for the rows queued after it, and later refreshes of that card fold into it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.store import outbox
from tests.integration.outbox_rows import add_incident

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
Factory = sessionmaker[Session]


def _incident(s: Session) -> int:
    return add_incident(s, T0)


def _enqueue(s: Session, incident_id: int, kind: str) -> int:
    return store.enqueue(s, team_id="T1", incident_id=incident_id, kind=kind, payload={},
                         requested_by="U1", now=T0)


def _claim(factory: Factory, now: datetime, worker: str = "w1") -> list[outbox.Chain]:
    with factory.begin() as s:
        return outbox.claim_chains(s, now=now, worker=worker, lease=LEASE)


def test_a_deferred_row_waits_for_its_time_without_counting_an_attempt(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = _incident(s)
        row = _enqueue(s, a, "create_channel")
    [[item]] = _claim(session_factory, T0)
    with session_factory.begin() as s:
        assert outbox.defer_outbox(s, row, next_attempt_at=T0 + timedelta(seconds=3),
                                   worker="w1")
        assert not outbox.defer_outbox(s, row, next_attempt_at=T0, worker="w2"), "not w2's"
    assert _claim(session_factory, T0 + timedelta(seconds=2)) == []
    [[again]] = _claim(session_factory, T0 + timedelta(seconds=3), "w2")
    assert again.id == item.id and again.attempts == 0 and not again.retried


def test_a_waiting_card_refresh_steps_aside_and_later_refreshes_fold_into_it(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = _incident(s)
        card = _enqueue(s, a, "refresh_card")
    _claim(session_factory, T0)
    with session_factory.begin() as s:  # chat.update has no token for 40 s
        outbox.defer_outbox(s, card, next_attempt_at=T0 + timedelta(seconds=40), worker="w1")
        reminder = _enqueue(s, a, "timeline")
        later = _enqueue(s, a, "refresh_card")
    chains = _claim(session_factory, T0 + timedelta(seconds=1))
    assert [[i.id for i in c] for c in chains] == [[reminder, later]], \
        "the reminder is not held up by the waiting refresh"
    assert chains[0].card_later, "the later refresh folds into the waiting one"
    with session_factory.begin() as s:
        outbox.finish(s, [reminder, later], T0, worker="w1")
        assert store.open_by_kind(s) == {"refresh_card": 1}
    [[waited]] = _claim(session_factory, T0 + timedelta(seconds=40))
    assert waited.id == card, "the refresh runs in its time, showing the latest state"


def test_open_rows_by_kind(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = _incident(s)
        for kind in ("create_channel", "timeline", "refresh_card", "refresh_card"):
            _enqueue(s, a, kind)
    with session_factory() as s:
        assert store.open_by_kind(s) == {"create_channel": 1, "timeline": 1,
                                         "refresh_card": 2}


def test_a_refresh_that_stepped_aside_waits_while_its_incident_runs_elsewhere(
        session_factory: sessionmaker[Session]) -> None:
    """A card refresh deferred for its slot lets later rows of its incident go past it; when it
    comes due while a worker still runs those rows, a second worker must not take it (it would
    read the incident mid-change, and the first worker's own refresh was folded into it)."""
    with session_factory.begin() as s:
        inc = _incident(s)
        card = _enqueue(s, inc, "refresh_card")
        _enqueue(s, inc, "reopen_channel")
        _enqueue(s, inc, "refresh_card")
        store.defer_outbox(s, card, next_attempt_at=T0 + timedelta(seconds=5))
    with session_factory.begin() as s:
        first = outbox.claim_chains(s, now=T0, worker="w1", lease=LEASE)
    assert first[0][0].kind == "reopen_channel"
    with session_factory.begin() as s:
        second = outbox.claim_chains(s, now=T0 + timedelta(seconds=6), worker="w2", lease=LEASE)
    assert second == [], "one incident's rows ran on two workers at once"
