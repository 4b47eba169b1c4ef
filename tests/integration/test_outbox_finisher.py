"""The outbox worker's finisher (bot/outbox/worker.py), on SQLite and PostgreSQL: what the
threads ran is marked done by one thread, several chains in one transaction, and never while
the heartbeat renews the leases (two transactions updating rows of several claimants at once
deadlocked on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox.worker import OutboxWorker
from playbook import store
from playbook.domain.model import Incident
from playbook.store import outbox

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
Factory = sessionmaker[Session]


def _worker(factory: Factory) -> OutboxWorker:
    # (no runner: these tests drive the finisher and the heartbeat, never a row's effect)
    worker = OutboxWorker(None, factory, lambda: T0, threads=0, poll=0.05,  # type: ignore[arg-type]
                          lease=LEASE)
    worker.start()
    return worker


def _claimed(factory: Factory, claimants: list[str]) -> dict[str, list[int]]:
    """One incident with one queued row per claimant, each leased by its claimant."""
    held: dict[str, list[int]] = {}
    with factory.begin() as s:
        for _ in claimants:
            inc = store.add_incident(s, Incident(team_id="T1", number=0, customer="Acme",
                                                 description="down", opened_by="U1",
                                                 opened_at=T0))
            store.enqueue(s, team_id="T1", incident_id=inc.id, kind="timeline", payload={},
                          requested_by=None, now=T0)
    for who in claimants:
        with factory.begin() as s:
            chains = outbox.claim_chains(s, now=T0, worker=who, lease=LEASE, limit=1)
        held[who] = [item.id for chain in chains for item in chain]
    return held


def _open(factory: Factory) -> int:
    with factory() as s:
        return store.pending_outbox_count(s)


def test_the_finisher_marks_several_claimants_chains_done(session_factory: Factory) -> None:
    worker = _worker(session_factory)
    try:
        held = _claimed(session_factory, ["host:1:a/outbox-0", "host:1:a/outbox-1"])
        for who, ids in held.items():
            worker._holding(who, ids)
        finished = [worker._finish(who, ids, ids) for who, ids in held.items()]
        assert all(event.wait(10) for event in finished)
        assert _open(session_factory) == 0
        assert not any(worker._held.values()), "nothing held once finished"
    finally:
        worker.stop()


def test_the_finisher_waits_while_the_heartbeat_renews_the_leases(
        session_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = _worker(session_factory)
    renewing, resume, finishing = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []
    extend, finish = outbox.extend, outbox.finish

    def slow_extend(*args: Any, **kw: Any) -> set[int]:
        if not renewing.is_set():
            order.append("renew")
            renewing.set()
            resume.wait(10)
        return extend(*args, **kw)

    def noted_finish(*args: Any, **kw: Any) -> int:
        order.append("finish")
        finishing.set()
        return finish(*args, **kw)

    monkeypatch.setattr(outbox, "extend", slow_extend)
    monkeypatch.setattr(outbox, "finish", noted_finish)
    try:
        held = _claimed(session_factory, ["host:1:a/outbox-0", "host:1:a/outbox-1"])
        for who, ids in held.items():
            worker._holding(who, ids)
        beat = threading.Thread(target=worker.beat)
        beat.start()
        assert renewing.wait(10)
        finished = [worker._finish(who, ids, ids) for who, ids in held.items()]
        # (without taking turns the finisher went ahead at once, in the heartbeat's middle)
        went_ahead = finishing.wait(0.5)
        resume.set()
        beat.join(10)
        assert all(event.wait(10) for event in finished)
        assert not went_ahead and order[0] == "renew" and "finish" in order, order
        assert _open(session_factory) == 0
        assert not worker._lost, "rows finished are not lost leases"
    finally:
        resume.set()
        worker.stop()
