"""The leader call's reminders fire once at their time across replicas and restarts, on SQLite
and PostgreSQL: the same database claims (`store.take_reminder`) as every other reminder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from playbook import store
from playbook.domain.cadence import ReminderKind
from playbook.domain.model import Actor
from playbook.services import reminders as reminder_service
from playbook.services.incidents import Service, ServiceConfig
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")
LEAD = Actor("U0LEAD", is_lead=True)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def replicas(db_url: str) -> Iterator[tuple[Clock, list[Service]]]:
    """Two services on engines of their own (two replicas), sharing one database and clock."""
    clock = Clock()
    engines = [store.make_engine(db_url) for _ in range(2)]
    services = [Service(store.make_session_factory(e), ServiceConfig(policy=default_policy()),
                        clock) for e in engines]
    yield clock, services
    for e in engines:
        e.dispose()


def _count(service: Service, incident_id: int, kind: ReminderKind) -> int:
    return [e.kind for e in service.timeline(incident_id)].count(kind.value)


def _race(services: list[Service], incident_id: int,
          monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Both replicas fire the incident's due reminders at once: each has read the incident and
    found the reminder due before either claims it (a barrier after the first read)."""
    barrier = threading.Barrier(2)
    original = reminder_service.cadence.due_reminders
    seen = threading.local()

    def racing(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if not getattr(seen, "done", False):
            seen.done = True
            barrier.wait(timeout=20)
        return found

    monkeypatch.setattr(reminder_service.cadence, "due_reminders", racing)
    results: list[Any] = []

    def fire(service: Service, worker: str) -> None:
        try:
            results.append(service.reminders.fire_due(incident_id, worker))
        except BaseException as err:  # surfaced by the assertion below
            results.append(err)

    threads = [threading.Thread(target=fire, args=(s, f"replica-{n}"))
               for n, s in enumerate(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.setattr(reminder_service.cadence, "due_reminders", original)
    assert not [r for r in results if isinstance(r, BaseException)], results
    return results


def test_two_replicas_ask_remind_and_escalate_once_each(
        replicas: tuple[Clock, list[Service]], monkeypatch: pytest.MonkeyPatch) -> None:
    clock, services = replicas
    inc = services[0].open("T1", ALICE, "sev1 Acme: all lobby screens down").incident
    assert inc.leader_call_due_at == T0 + timedelta(minutes=30)

    _race(services, inc.id, monkeypatch)  # at open: the ask
    assert _count(services[0], inc.id, ReminderKind.LEADER_ASK) == 1

    clock.now = T0 + timedelta(minutes=30)  # at due: the reminder by DM
    _race(services, inc.id, monkeypatch)
    assert _count(services[0], inc.id, ReminderKind.LEADER_DUE) == 1

    clock.now = T0 + timedelta(minutes=45)  # after the 15-minute grace: the leads channel
    _race(services, inc.id, monkeypatch)
    assert _count(services[0], inc.id, ReminderKind.LEADER_ESCALATE) == 1
    assert _count(services[0], inc.id, ReminderKind.LEADER_ASK) == 1
    assert _count(services[0], inc.id, ReminderKind.LEADER_DUE) == 1


def test_a_restart_fires_nothing_twice_and_a_call_stops_the_reminders(
        replicas: tuple[Clock, list[Service]], db_url: str) -> None:
    clock, services = replicas
    inc = services[0].open("T1", ALICE, "sev1 Acme: all lobby screens down").incident
    clock.now = T0 + timedelta(minutes=31)
    services[0].reminders.fire_due(inc.id, "before-restart")
    # a fresh process on the same database: the claims are in the database, not in memory
    engine = store.make_engine(db_url)
    try:
        restarted = Service(store.make_session_factory(engine),
                            ServiceConfig(policy=default_policy()), clock)
        restarted.reminders.fire_due(inc.id, "after-restart")
        assert _count(restarted, inc.id, ReminderKind.LEADER_DUE) == 1
        assert _count(restarted, inc.id, ReminderKind.LEADER_ASK) == 0, \
            "the ask is not sent late once the call is already due"
        restarted.command(inc.id, LEAD, "leader-call", "spoke to their COO", team_id="T1")
        clock.now = T0 + timedelta(hours=3)
        restarted.reminders.fire_due(inc.id, "after-call")
        assert _count(restarted, inc.id, ReminderKind.LEADER_ESCALATE) == 0
        saved = restarted.get_by_id(inc.id)
        assert saved is not None and saved.leader_call_by == "U0LEAD"
        assert saved.leader_call_note == "spoke to their COO"
    finally:
        engine.dispose()
