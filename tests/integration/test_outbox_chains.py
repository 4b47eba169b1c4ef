"""Batch claims of the outbox (playbook/store/outbox.py), on SQLite and PostgreSQL.

What a worker may run together, and what it must leave alone: one incident's rows in order,
never a row another worker holds, card refreshes left for later by an urgent claim.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.store import outbox
from tests.integration.outbox_rows import add_incident

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
Factory = sessionmaker[Session]


def _incident(s: Session) -> int:
    return add_incident(s, T0)


def _enqueue(s: Session, incident_id: int | None, kind: str, *, now: datetime = T0,
             n: int = 0) -> int:
    return store.enqueue(s, team_id="T1", incident_id=incident_id, kind=kind,
                         payload={"n": n}, requested_by="U1", now=now)


def _claim(factory: Factory, worker: str = "w1", *, now: datetime = T0,
           **kw: Any) -> list[list[tuple[int | None, str]]]:
    with factory.begin() as s:
        chains = outbox.claim_chains(s, now=now, worker=worker, lease=LEASE, **kw)
    return [[(item.incident_id, item.kind) for item in chain] for chain in chains]


def _finish(factory: Factory, ids: list[int]) -> None:
    with factory.begin() as s:
        outbox.finish(s, ids, T0)


def test_a_claim_takes_each_incidents_queue_in_order(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a, b = _incident(s), _incident(s)
        _enqueue(s, a, "create_channel")
        _enqueue(s, b, "timeline")
        _enqueue(s, a, "timeline")
        _enqueue(s, None, "home")
        _enqueue(s, a, "refresh_card")
        _enqueue(s, b, "refresh_card")
        _enqueue(s, a, "tell", now=T0 + timedelta(minutes=5))  # not due: ends a's chain
        _enqueue(s, a, "timeline")  # behind a row that is not due: must wait for it
    assert _claim(session_factory) == [
        [(a, "create_channel"), (a, "timeline"), (a, "refresh_card")],
        [(b, "timeline"), (b, "refresh_card")],
        [(None, "home")],
    ]
    assert _claim(session_factory, "w2") == [], "everything due is leased to w1"


def test_rows_held_by_one_worker_are_never_handed_to_another(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = _incident(s)
        first = _enqueue(s, a, "timeline")
        second = _enqueue(s, a, "refresh_card")
    assert _claim(session_factory, limit=1) == [[(a, "timeline"), (a, "refresh_card")]]
    _finish(session_factory, [first])  # the head is done, the follower still ours
    assert _claim(session_factory, "w2") == []
    # released unrun (its head was retried, say): then it is anyone's again, in its turn
    with session_factory.begin() as s:
        outbox.release(s, [second], "w2")  # not w2's to release: nothing happens
    assert _claim(session_factory, "w2") == []
    with session_factory.begin() as s:
        outbox.release(s, [second], "w1")
    assert _claim(session_factory, "w2") == [[(a, "refresh_card")]]
    # and a lease that ran out (its worker died) is taken over
    assert _claim(session_factory, "w3", now=T0 + LEASE) == [[(a, "refresh_card")]]


def test_an_urgent_claim_leaves_card_refreshes_for_later(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a, b, c = _incident(s), _incident(s), _incident(s)
        _enqueue(s, a, "refresh_card")  # a card refresh heads a's queue
        _enqueue(s, a, "timeline")
        _enqueue(s, b, "timeline")
        _enqueue(s, b, "refresh_card", n=1)  # in the middle: runs in its place
        _enqueue(s, b, "timeline")
        _enqueue(s, b, "refresh_card", n=2)  # at the end: left for later
        _enqueue(s, c, "timeline")
        _enqueue(s, c, "refresh_card")
    assert _claim(session_factory, urgent=True) == [
        [(b, "timeline"), (b, "refresh_card"), (b, "timeline")],
        [(c, "timeline")],
    ]
    # what is left is taken oldest first by a claim that is not urgent
    assert _claim(session_factory, "w2") == [[(a, "refresh_card"), (a, "timeline")]]
    assert _claim(session_factory, "w3") == [], "b's and c's cards wait behind w1's rows"


def test_two_workers_claiming_at_once_never_share_a_row(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        incidents = [_incident(s) for _ in range(20)]
        for round_ in range(3):
            for incident_id in incidents:
                _enqueue(s, incident_id, "timeline", n=round_)
    got: dict[str, list[int]] = {}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        start.wait()
        ids: list[int] = []
        for _ in range(30):
            with session_factory.begin() as s:
                chains = outbox.claim_chains(s, now=T0, worker=name, lease=LEASE, limit=3)
            if not chains:
                break
            ids.extend(item.id for chain in chains for item in chain)
        got[name] = ids

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = got["w1"] + got["w2"]
    assert len(taken) == len(set(taken)) == 60, "every row once, none twice"
