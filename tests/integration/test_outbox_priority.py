"""Outbox claims in priority order (playbook/store/outbox.py, playbook/domain/priority.py), on
SQLite and PostgreSQL.

Which incidents a claim takes is decided by their heads' priorities (replies and reminders,
then customer updates, then channels and invites, then card refreshes, then topics and
bookmarks); what runs inside one incident is still its queue, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import schema
from playbook import store
from playbook.domain.priority import KIND_PRIORITY, Priority
from playbook.store import outbox
from tests.integration.outbox_rows import add_incident

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
Factory = sessionmaker[Session]
# queued lowest priority first, each in an incident of its own ("home" has none; it and the
# card refresh share a priority, so the older goes first)
LOWEST_FIRST = ["bookmark", "home", "refresh_card", "invite", "email", "timeline"]


def _incident(s: Session) -> int:
    return add_incident(s, T0)


def _enqueue(s: Session, incident_id: int | None, kind: str) -> int:
    return store.enqueue(s, team_id="T1", incident_id=incident_id, kind=kind, payload={},
                         requested_by="U1", now=T0)


def _claim(factory: Factory, worker: str = "w1", **kw: Any) -> list[list[str]]:
    with factory.begin() as s:
        chains = outbox.claim_chains(s, now=T0, worker=worker, lease=LEASE, **kw)
    return [[item.kind for item in chain] for chain in chains]


def _queue_lowest_first(factory: Factory) -> None:
    with factory.begin() as s:
        for kind in LOWEST_FIRST:
            _enqueue(s, None if kind == "home" else _incident(s), kind)


def test_heads_are_claimed_highest_priority_first(session_factory: Factory) -> None:
    _queue_lowest_first(session_factory)
    taken = [_claim(session_factory, f"w{n}", by_priority=True, limit=1)
             for n in range(len(LOWEST_FIRST) + 1)]
    # (without the ordering the oldest head, the bookmark, came first)
    assert taken == [[["timeline"]], [["email"]], [["invite"]], [["home"]],
                     [["refresh_card"]], [["bookmark"]], []]


def test_one_claim_returns_its_chains_in_priority_order(session_factory: Factory) -> None:
    _queue_lowest_first(session_factory)
    assert _claim(session_factory, by_priority=True) == [
        ["timeline"], ["email"], ["invite"], ["home"], ["refresh_card"], ["bookmark"]]


def test_an_urgent_claim_takes_only_what_ranks_above_card_refreshes_in_order(
        session_factory: Factory) -> None:
    _queue_lowest_first(session_factory)
    # (the old urgent claim took every head but a card refresh, oldest first: the bookmark
    # and the App Home before the reminder)
    assert _claim(session_factory, urgent=True) == [["timeline"], ["email"], ["invite"]]
    assert _claim(session_factory, "w2", urgent=True) == []
    assert _claim(session_factory, "w2", by_priority=True) == [
        ["home"], ["refresh_card"], ["bookmark"]]


def test_an_incidents_rows_keep_their_order_whatever_their_priority(
        session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a, b = _incident(s), _incident(s)
        _enqueue(s, a, "bookmark")
        _enqueue(s, a, "tell")  # above everything, but queued behind a's bookmark
        _enqueue(s, b, "refresh_card")
    assert _claim(session_factory, by_priority=True, limit=1) == [["refresh_card"]]
    assert _claim(session_factory, "w2", by_priority=True, limit=1) == [["bookmark", "tell"]]


def test_a_row_gets_its_kinds_priority_when_queued(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = _incident(s)
        _enqueue(s, a, "refresh_card")
        store.enqueue_many(s, team_id="T1", incident_id=a, requested_by=None, now=T0,
                           rows=[("timeline", {}), ("bookmark", {}), ("no_such_kind", {})])
    o = store.OutboxRow.__table__
    with session_factory() as s:
        got = s.execute(select(o.c.kind, o.c.priority).order_by(o.c.id)).all()
    assert [tuple(r) for r in got] == [("refresh_card", 3), ("timeline", 0), ("bookmark", 4),
                                       ("no_such_kind", int(Priority.MEMBERS))]


def _plan(engine: Engine, mode: str) -> str:
    stmt = outbox._HEADS[mode]
    compiled = stmt.compile(dialect=engine.dialect)
    params = compiled.construct_params({"now": T0, "n": 10})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            values = tuple(params[name] if isinstance(params[name], int) else str(params[name])
                           for name in compiled.positiontup or ())
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
            return "\n".join(str(r[-1]) for r in rows)
        # (with sorting priced out, a plan without a sort shows the index can serve the order)
        conn.exec_driver_sql("SET enable_sort = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", params).all()
        return "\n".join(str(r[0]) for r in rows)


def _backlog(factory: Factory, incidents: int = 200, rows: int = 10) -> None:
    """A queue of realistic size, with the planner's statistics of it: on a near-empty
    table PostgreSQL may walk any index (every plan costs the same), which says nothing
    about the queue a claim meets in production."""
    kinds = ["timeline", "refresh_card", "invite", "bookmark", "draft"]
    with factory.begin() as s:
        for _ in range(incidents):
            inc = _incident(s)
            store.enqueue_many(s, team_id="T1", incident_id=inc, requested_by=None, now=T0,
                               rows=[(kinds[n % len(kinds)], {}) for n in range(rows)])
    with factory.begin() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("ANALYZE outbox"))


def test_the_priority_index_serves_the_claims(engine: Engine,
                                              session_factory: Factory) -> None:
    _backlog(session_factory)
    for mode in ("urgent", "priority"):
        plan = _plan(engine, mode)
        assert "ix_outbox_open_priority" in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
        # "the first open row of its incident?" stays one probe of its own index (not a walk
        # of every open row in id order)
        assert "ix_outbox_open_incident" in plan, plan


def test_the_migration_gives_queued_rows_their_priority(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url, "0013_installations")
    engine = store.make_engine(empty_db_url)
    kinds = ["refresh_card", "timeline", "bookmark", "draft", "invite", "outage_card",
             "no_such_kind"]
    try:
        with engine.begin() as conn:
            for kind in kinds:
                conn.execute(text(
                    "INSERT INTO outbox (team_id, kind, payload, created_at, attempts, "
                    "next_attempt_at) VALUES ('T1', :kind, '{}', :now, 0, :now)"),
                    {"kind": kind, "now": T0.replace(tzinfo=None)})
    finally:
        engine.dispose()
    schema.upgrade(empty_db_url)
    engine = store.make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT kind, priority FROM outbox")).all())
    finally:
        engine.dispose()
    assert got == {kind: int(KIND_PRIORITY.get(kind, Priority.MEMBERS)) for kind in kinds}
