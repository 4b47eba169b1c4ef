"""Reminders fired in batches (`ReminderService.fire_due_many`), as the scheduler does in a burst.

The same guarantees as one at a time: each due reminder fires once across workers, an incident
with nothing due is left alone, and one that changes between the read and the write is fired
from its new state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
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


def _dues(service: Service, incident_id: int) -> int:
    return [e.kind for e in service.timeline(incident_id)].count(ReminderKind.DUE.value)


def test_a_batch_fires_each_due_reminder_once(session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    service = _service(session_factory, clock)
    due = []
    for n in range(3):
        inc = service.open("T1", ALICE, f"Acme {n}: down").incident
        service.command(inc.id, ALICE, "cadence", "30m", team_id="T1")
        due.append(inc.id)
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
    asked: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "team_pauses" in statement:
            asked.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        fired = service.reminders.fire_due_many(due, "w1")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # (one query per workspace was one round trip per incident in a burst over many teams)
    assert len(asked) == 1, asked
    assert [fired[i].paused for i in due] == [False, False, True, False]
    assert [bool(fired[i].effects) for i in due] == [True, True, False, True]
