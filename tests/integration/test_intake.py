"""The intake (playbook/services/intake.py, playbook/store/intake.py, bot/intake.py), on SQLite
and PostgreSQL: a command recorded at its ack is opened once, marked done in the transaction
that writes its incident, answered through the outbox, and what a crash left is opened at the
next start; two processors at once open it once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.intake import IntakeDrain
from playbook import store
from playbook.domain.model import Actor, Outcome
from playbook.services.incidents import Service, ServiceConfig
from playbook.services.intake import MAX_ATTEMPTS, IntakeService, RawCommand
from playbook.services.retention import RetentionService
from playbook.store.intake import IntakeRow
from playbook.store.tables import IncidentRow, OutboxRow
from tests.playbooks import default_policy

ALICE = Actor("U0ALICE")
TEAM = "T1"
URL = "https://hooks.slack.test/commands/T1/1/abc"


def _now() -> datetime:
    return datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def _service(factory: sessionmaker[Session]) -> Service:
    return Service(factory, ServiceConfig(policy=default_policy()), _now)


@pytest.fixture
def intake(session_factory: sessionmaker[Session]) -> IntakeService:
    return IntakeService(_service(session_factory))


def _record(intake: IntakeService, text: str = "Acme: lobby screens down",
            url: str = URL) -> RawCommand:
    assert intake.record(team_id=TEAM, user_id=ALICE.user_id, channel_id="C0SUPPORT",
                         text=text, response_url=url)
    found = [r for r in intake.pending() if r.response_url == url]
    assert len(found) == 1
    return found[0]


def _rows(factory: sessionmaker[Session]) -> list[Any]:
    with factory() as s:
        return list(s.execute(select(IntakeRow.__table__)).all())


def _incidents(factory: sessionmaker[Session]) -> list[Any]:
    with factory() as s:
        return list(s.execute(select(IncidentRow.id, IncidentRow.number,
                                     IncidentRow.customer)).all())


def _tells(factory: sessionmaker[Session]) -> list[Any]:
    with factory() as s:
        return list(s.execute(select(OutboxRow.id, OutboxRow.incident_id, OutboxRow.payload)
                              .where(OutboxRow.kind == "tell").order_by(OutboxRow.id)).all())


def test_record_then_process_opens_one_incident_and_marks_the_row(
        intake: IntakeService, session_factory: sessionmaker[Session]) -> None:
    raw = _record(intake)
    assert intake.pending_count() == 1
    assert _incidents(session_factory) == [], "recording opens nothing yet"

    done = intake.process(raw, ALICE)

    assert done.status == "opened" and done.outcome is not None
    assert done.outcome.incident.number == 1
    incidents = _incidents(session_factory)
    assert [(n, c) for _, n, c in incidents] == [(1, "Acme")]
    (row,) = _rows(session_factory)
    assert row.done_at is not None and row.outcome == "opened"
    assert row.incident_id == incidents[0][0]
    assert intake.pending_count() == 0
    # the reply the ack would have carried, through the response_url: waiting for none of
    # the incident's rows, and queued before them (claimed no later than the channel)
    (tell,) = _tells(session_factory)
    assert tell.incident_id is None
    assert tell.payload["text"].startswith("Opened *INC-1* for Acme.")
    assert tell.payload["notify"] == {"user": ALICE.user_id, "channel": "C0SUPPORT",
                                      "response_url": URL}
    with session_factory() as s:
        theirs = s.scalars(select(OutboxRow.id).where(
            OutboxRow.incident_id == incidents[0][0])).all()
    assert theirs and tell.id < min(theirs)

    # carried out already: a second try (a processor that read it as pending) does nothing
    assert intake.process(raw, ALICE).status == "taken"
    assert len(_incidents(session_factory)) == 1 and len(_tells(session_factory)) == 1


def test_a_request_delivered_twice_is_recorded_once(intake: IntakeService) -> None:
    _record(intake)
    assert not intake.record(team_id=TEAM, user_id=ALICE.user_id, channel_id="C0SUPPORT",
                             text="Acme: lobby screens down", response_url=URL)
    assert intake.pending_count() == 1


def test_two_processors_at_once_open_it_once(db_url: str, intake: IntakeService,
                                            session_factory: sessionmaker[Session]) -> None:
    _record(intake)
    # two replicas: their own engines and services on the one database
    engines = [store.make_engine(db_url) for _ in range(2)]
    try:
        processors = [IntakeService(_service(store.make_session_factory(e))) for e in engines]
        gate = threading.Barrier(2, timeout=30)
        results: list[Any] = [None, None]

        def run(i: int) -> None:
            seen = processors[i].pending()  # both read it as pending before either writes
            gate.wait()
            try:
                results[i] = processors[i].process(seen[0], ALICE).status
            except Exception as err:  # pragma: no cover - shown by the assert
                results[i] = err

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for e in engines:
            e.dispose()
    assert sorted(results) == ["opened", "taken"], results
    assert len(_incidents(session_factory)) == 1
    assert len(_tells(session_factory)) == 1


def test_a_refusal_found_while_opening_is_told_once_with_the_text(
        intake: IntakeService, session_factory: sessionmaker[Session]) -> None:
    raw = _record(intake, "sev7 <!channel> Acme: down &amp; out")

    assert intake.process(raw, ALICE).status == "refused"

    assert _incidents(session_factory) == []
    (row,) = _rows(session_factory)
    assert row.done_at is not None and row.outcome == "refused" and row.incident_id is None
    (tell,) = _tells(session_factory)
    text = tell.payload["text"]
    assert "Unknown severity `sev7`" in text
    assert "/incident open sev7 @channel Acme: down &amp; out" in text
    assert "<!" not in text, "nothing typed may ping"
    assert tell.incident_id is None and tell.payload["notify"]["response_url"] == URL
    assert intake.process(raw, ALICE).status == "taken", "told once"
    assert len(_tells(session_factory)) == 1


def test_a_crash_inside_the_open_leaves_neither_incident_nor_mark(
        intake: IntakeService, session_factory: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _record(intake)
    real = store.number_incident

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(store, "number_incident", crash)
    assert intake.process(raw, ALICE).status == "error"
    assert _incidents(session_factory) == [] and _tells(session_factory) == []
    (row,) = _rows(session_factory)
    assert row.done_at is None and row.attempts == 1, "still pending, to be tried again"

    monkeypatch.setattr(store, "number_incident", real)
    assert intake.process(raw, ALICE).status == "opened"
    assert len(_incidents(session_factory)) == 1


def test_a_command_that_keeps_failing_is_given_up_and_the_person_told(
        intake: IntakeService, session_factory: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _record(intake)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "number_incident", crash)
    statuses = [intake.process(raw, ALICE).status for _ in range(MAX_ATTEMPTS)]
    assert statuses == ["error"] * (MAX_ATTEMPTS - 1) + ["failed"]
    (row,) = _rows(session_factory)
    assert row.outcome == "failed" and row.done_at is not None
    (tell,) = _tells(session_factory)
    assert "was not opened" in tell.payload["text"]
    assert "/incident open Acme: lobby screens down" in tell.payload["text"]


def _wait(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the drain did not finish"
        time.sleep(0.02)


def test_what_a_crash_left_recorded_is_opened_at_the_next_start(
        intake: IntakeService, engine: Engine) -> None:
    for n in range(3):  # acked ("recorded"), then the process died before opening them
        _record(intake, f"Customer {n}: checkout fails", url=f"{URL}/{n}")

    fresh = IntakeService(_service(store.make_session_factory(engine)))  # the next start
    opened: list[Outcome] = []
    drain = IntakeDrain(fresh, actor_of=lambda team, user: Actor(user),
                        after=opened.append, told=lambda: None)
    drain.start()
    try:
        _wait(lambda: fresh.pending_count() == 0 and len(opened) == 3)
    finally:
        drain.stop()
    assert sorted(o.incident.number for o in opened) == [1, 2, 3]
    with fresh.sessions() as s:
        assert s.scalar(select(func.count()).select_from(IncidentRow)) == 3
        assert s.scalar(select(func.count()).select_from(IntakeRow)
                        .where(IntakeRow.outcome == "opened")) == 3


def test_done_rows_are_pruned_after_a_day_and_pending_ones_never(
        intake: IntakeService, session_factory: sessionmaker[Session]) -> None:
    intake.process(_record(intake), ALICE)
    _record(intake, "Globex: invoices wrong", url=f"{URL}/pending")
    # a day, whatever the retention period
    soon = RetentionService(session_factory, lambda: _now() + timedelta(hours=23),
                            timedelta(hours=1)).prune()
    assert soon.intake == 0 and len(_rows(session_factory)) == 2
    later = _now() + timedelta(days=1, minutes=1)
    pruned = RetentionService(session_factory, lambda: later, timedelta(days=30)).prune()
    assert pruned.intake == 1
    rows = _rows(session_factory)
    assert [(r.text, r.done_at) for r in rows] == [("Globex: invoices wrong", None)]
