"""Reminders fired in batches (`ReminderService.fire_due_many`), as the scheduler does in a burst.

The same guarantees as one at a time: each due reminder fires once across workers, an incident
with nothing due is left alone, and one that changes between the read and the write is fired
from its new state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain import cadence
from playbook.domain.cadence import ReminderKind
from playbook.domain.model import Actor
from playbook.services.incidents import Service, ServiceConfig
from playbook.store import lifecycle as lifecycle_store
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _service(session_factory: sessionmaker[Session], clock: Clock) -> Service:
    return Service(session_factory, ServiceConfig(policy=default_policy()), clock)


@contextmanager
def _statements(engine: Engine, keep: Callable[[str], bool]) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block that `keep` keeps."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if keep(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _dues(service: Service, incident_id: int) -> int:
    return [e.kind for e in service.timeline(incident_id)].count(ReminderKind.DUE.value)


def _due_incidents(service: Service, clock: Clock, count: int, prefix: str) -> list[int]:
    clock.now = T0
    due = []
    for n in range(count):
        inc = service.open("T1", ALICE, f"{prefix} {n}: down").incident
        service.command(inc.id, ALICE, "cadence", "30m", team_id="T1")
        due.append(inc.id)
    return due


def test_a_batch_fires_each_due_reminder_once(session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    service = _service(session_factory, clock)
    due = _due_incidents(service, clock, 3, "Acme")
    clock.now = T0 + timedelta(minutes=30)
    quiet = service.open("T1", ALICE, "Globex: slow").incident  # just opened: nothing due

    fired = service.reminders.fire_due_many([*due, quiet.id], "w1")
    # a second replica finds the claims
    again = service.reminders.fire_due_many([*due, quiet.id], "w2")

    assert all(fired[i].effects and fired[i].incident is not None for i in due)
    assert fired[quiet.id].effects == [] and fired[quiet.id].incident is not None
    assert all(not f.effects for f in again.values())
    assert [_dues(service, i) for i in due] == [1, 1, 1]
    # the incident each returns is the saved one: the scheduler plans from it
    assert all(fired[i].incident == service.get_by_id(i) for i in due)
    with session_factory() as session:
        assert store.pending_outbox_count(session) >= 3 * 2  # a line and a card refresh each


def test_a_change_between_the_read_and_the_write_is_fired_from_the_new_state(
        session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    service = _service(session_factory, clock)
    first = service.open("T1", ALICE, "Acme: down").incident
    second = service.open("T1", ALICE, "Initech: down").incident
    for inc in (first, second):
        service.command(inc.id, ALICE, "cadence", "30m", team_id="T1")
    clock.now = T0 + timedelta(minutes=30)
    read = service.reminders.sessions

    def changing_reads() -> Session:  # someone saves `first` right after the batch read it
        session = read()
        original = session.close

        def close() -> None:
            original()
            if not changed:
                changed.append(True)
                service.command(first.id, ALICE, "listen", "we still cannot pay", team_id="T1")
        session.close = close  # type: ignore[method-assign]
        return session

    changed: list[bool] = []
    service.reminders.sessions = changing_reads  # type: ignore[assignment]
    service.reminders.sessions.begin = read.begin  # type: ignore[attr-defined]
    fired = service.reminders.fire_due_many([first.id, second.id], "w1")
    service.reminders.sessions = read

    assert changed and _dues(service, first.id) == 1 and _dues(service, second.id) == 1
    after = service.get_by_id(first.id)
    assert after.customer_words == ["we still cannot pay"], "the change was kept, not overwritten"
    assert fired[first.id].incident is not None
    assert fired[first.id].incident.version == after.version


def test_a_batch_over_many_workspaces_reads_their_pauses_in_one_query(
        session_factory: sessionmaker[Session], engine: Engine) -> None:
    clock = Clock()
    service = _service(session_factory, clock)
    due = []
    for n in range(4):
        team = f"T{n}"
        inc = service.open(team, ALICE, f"Acme {n}: down").incident
        service.command(inc.id, ALICE, "cadence", "30m", team_id=team)
        due.append(inc.id)
    with session_factory.begin() as session:  # one of them lost its tokens: nothing for it
        lifecycle_store.pause_team(session, "T2", "token_revoked", T0)
    clock.now = T0 + timedelta(minutes=30)
    with _statements(engine, lambda statement: "team_pauses" in statement) as asked:
        fired = service.reminders.fire_due_many(due, "w1")
    # (one query per workspace was one round trip per incident in a burst over many teams)
    assert len(asked) == 1, asked
    assert [fired[i].paused for i in due] == [False, False, True, False]
    assert [bool(fired[i].effects) for i in due] == [True, True, False, True]


def test_a_bigger_batch_writes_in_no_more_statements(
        session_factory: sessionmaker[Session], engine: Engine) -> None:
    """In a burst the scheduler fires a few incidents per transaction: its writes (claims,
    saves, timeline lines, outbox rows) go in a fixed number of statements, not a few per
    incident, or each incident adds round trips to every reminder of the batch."""
    clock = Clock()
    service = _service(session_factory, clock)
    small = _due_incidents(service, clock, 2, "Acme")
    large = _due_incidents(service, clock, 6, "Globex")
    clock.now = T0 + timedelta(minutes=30)
    counts = []
    for batch in (small, large):
        with _statements(engine, lambda statement: not statement.lstrip().upper()
                         .startswith("SELECT")) as writes:
            fired = service.reminders.fire_due_many(batch, "w1")
        assert all(fired[i].effects for i in batch)
        counts.append(len(writes))
    assert counts[0] == counts[1], counts
    assert [_dues(service, i) for i in small + large] == [1] * 8


def test_a_reminder_another_worker_claimed_is_skipped_and_the_rest_fire(
        session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    service = _service(session_factory, clock)
    due = _due_incidents(service, clock, 3, "Acme")
    clock.now = T0 + timedelta(minutes=30)
    held = service.get_by_id(due[1])
    assert held is not None
    with session_factory.begin() as session:  # another replica fired this one's DUE already
        reminder = next(r for r in cadence.due_reminders(
            held, service.playbooks.policy_for(held), clock.now)
            if r.kind is ReminderKind.DUE)
        key = (held.id, reminder.kind.value, reminder.due_at, reminder.ref)
        assert key in store.take_reminders(session, [("T1", key)], now=clock.now,
                                           worker="w0", lease=timedelta(minutes=5))

    fired = service.reminders.fire_due_many(due, "w1")

    assert [_dues(service, i) for i in due] == [1, 0, 1]
    # its other reminder (the owner nudge) still fired, and what was saved is what it returns
    assert fired[due[1]].effects
    assert all(fired[i].incident == service.get_by_id(i) for i in due)
