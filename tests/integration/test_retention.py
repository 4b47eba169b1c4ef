"""Pruning (playbook/store/retention.py, playbook/services/retention.py), on SQLite and
PostgreSQL: finished outbox rows and handled event ids past the retention period go, in
batches; pending rows, leased rows and recent history stay, and the work still waiting runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.model import Incident
from playbook.services.retention import RetentionService
from playbook.store import outbox
from playbook.store.tables import HandledEventRow, OutboxRow

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=30)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=1)
Factory = sessionmaker[Session]


def _row(s: Session, incident_id: int | None, kind: str, at: datetime) -> int:
    return store.enqueue(s, team_id="T1", incident_id=incident_id, kind=kind,
                         payload={"kind": kind}, requested_by="U1", now=at)


def _set(s: Session, row_id: int, **values: object) -> None:
    s.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(**values))


def _seed(factory: Factory) -> dict[str, int]:
    with factory.begin() as s:
        inc = store.add_incident(s, Incident(team_id="T1", number=0, customer="Acme",
                                             description="checkout is down", opened_by="U1",
                                             opened_at=OLD))
        assert inc.id is not None
        ids = {
            "old_done": _row(s, inc.id, "timeline", OLD),
            "old_failed": _row(s, None, "home", OLD),
            "recent_done": _row(s, None, "home", RECENT),
            "old_leased_done": _row(s, None, "home", OLD),
            # still to do, queued 40 days ago behind the done row of the same incident
            "old_pending": _row(s, inc.id, "refresh_card", OLD),
        }
        _set(s, ids["old_done"], done_at=OLD)
        _set(s, ids["old_failed"], failed_at=OLD, last_error="channel_not_found")
        _set(s, ids["recent_done"], done_at=RECENT)
        _set(s, ids["old_leased_done"], done_at=OLD, claimed_by="w9",
             claimed_until=NOW + timedelta(minutes=1))
        for event_id, seen in (("Ev_old", OLD), ("Ev_recent", RECENT)):
            store.remember_event(s, "T1", event_id, seen)
    return ids


def _left(factory: Factory) -> tuple[set[int], set[str]]:
    with factory() as s:
        return (set(s.scalars(select(OutboxRow.id))),
                set(s.scalars(select(HandledEventRow.event_id))))


def test_prunes_only_finished_rows_and_event_ids_past_retention(
        session_factory: Factory) -> None:
    ids = _seed(session_factory)
    pruned = RetentionService(session_factory, lambda: NOW, KEEP).prune()
    assert (pruned.outbox, pruned.events) == (2, 1)
    rows, events = _left(session_factory)
    assert rows == {ids["recent_done"], ids["old_leased_done"], ids["old_pending"]}
    assert events == {"Ev_recent"}
    # the pending row still runs, and a handled id still deduplicates its retries
    with session_factory.begin() as s:
        chains = outbox.claim_chains(s, now=NOW, worker="w1", lease=timedelta(minutes=1))
        assert [[i.id for i in c] for c in chains] == [[ids["old_pending"]]]
        assert store.remember_event(s, "T1", "Ev_recent", NOW) is False
    # nothing more to do the next hour
    assert RetentionService(session_factory, lambda: NOW, KEEP).prune().total == 0


def test_a_big_backlog_goes_in_batches_of_short_transactions(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        for n in range(25):
            _set(s, _row(s, None, "home", OLD), done_at=OLD + timedelta(seconds=n))
            store.remember_event(s, "T1", f"Ev{n}", OLD)
        keep = _row(s, None, "home", OLD)  # pending: never pruned, however old
    commits: list[int] = []

    class Counting(RetentionService):
        def prune(self, *, max_batches: int = 10_000) -> store.retention.Pruned:
            from sqlalchemy import event

            engine = self.sessions.kw["bind"]

            def count(_conn: object) -> None:
                commits.append(1)
            event.listen(engine, "commit", count)
            try:
                return super().prune(max_batches=max_batches)
            finally:
                event.remove(engine, "commit", count)

    pruned = Counting(session_factory, lambda: NOW, KEEP, batch=10).prune()
    assert (pruned.outbox, pruned.events) == (25, 25)
    assert len(commits) == 3, "10 + 10 + 5: one transaction per batch"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 1
        assert s.scalar(select(OutboxRow.id)) == keep
        assert s.scalar(select(func.count()).select_from(HandledEventRow)) == 0
