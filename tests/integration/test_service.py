"""Use cases against a real database (SQLite and PostgreSQL): state, timeline and outbox commit
together, and people acting on one incident at once all land."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from playbook.domain import rules, verbs
from playbook.domain.cadence import ReminderKind
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, PromiseStatus, Status, Step
from playbook.domain.verbs import Written
from playbook.domain.verbs.listen import AgreeCadence
from playbook.services.incidents import BatchError, Service, ServiceConfig
from playbook.services.outcomes import Origin
from playbook.store import incidents as incident_store
from playbook.store import outbox as store_outbox
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
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(session_factory: sessionmaker[Session], clock: Clock) -> Service:
    return Service(session_factory, ServiceConfig(policy=default_policy(), responders=("U0RESP",)),
                   clock)


def outbox(service: Service) -> list[tuple[str, dict]]:
    """Drain the outbox in order, like the worker does (each incident's rows in order)."""
    kinds: list[tuple[str, dict]] = []
    while True:
        with service.sessions.begin() as session:
            chains = store_outbox.claim_chains(session, now=T0 + timedelta(days=30), worker="t",
                                               lease=timedelta(minutes=1), limit=500)
            items = [item for chain in chains for item in chain]
            kinds.extend((i.kind, i.payload) for i in items)
            store_outbox.finish(session, [item.id for item in items], T0)
        if not items:
            return kinds


def test_open_records_incident_timeline_and_outbox_at_once(service: Service) -> None:
    outcome = service.open("T1", ALICE, "sev1 Acme &amp; Co: all lobby screens show an error",
                           origin=Origin(channel_id="C0GEN", response_url="http://x/r"))
    inc = outcome.incident
    assert inc.key == "INC-1" and inc.customer == "Acme & Co" and inc.severity == "sev1"
    assert "INC-1" in outcome.reply
    rows = outbox(service)
    assert rows[0][0] == "create_channel"
    assert rows[0][1]["invite"] == ["U0ALICE", "U0RESP"]
    assert rows[0][1]["notify"] == {"user": "U0ALICE", "channel": "C0GEN",
                                    "response_url": "http://x/r"}
    assert [k for k, _ in rows[1:]] == ["timeline", "refresh_card", "recurrence"]
    assert [e.kind for e in service.timeline(inc.id)] == ["open"]


def test_a_refused_command_changes_nothing(service: Service) -> None:
    inc = service.open("T1", ALICE, "Acme: down").incident
    outbox(service)
    with pytest.raises(PlaybookError):
        service.command(inc.id, ALICE, "confirm", "", team_id="T1")
    assert service.get_by_id(inc.id) == inc
    assert outbox(service) == []


def test_a_whole_incident_through_the_service(service: Service, clock: Clock) -> None:
    inc = service.open("T1", ALICE, "Acme: down").incident
    for line in ("listen the screens say Setup WiFi", "cadence 30m", "restate twelve screens",
                 "confirm", "own", "option reboot risk: slow", "choose 1", "resolve rebooted",
                 "update told them it is fixed", "rootcause bad state", "action recovery mode",
                 "close"):
        clock.now += timedelta(minutes=5)
        verb, arg = verbs.split_verb(line)
        service.command(inc.id, ALICE, verb, arg, team_id="T1")
    done = service.get_by_id(inc.id)
    assert done.status is Status.CLOSED
    assert [r.step for r in done.steps] == list(Step)
    kinds = [e.kind for e in service.timeline(inc.id)]
    assert kinds.count("step") == 5 and kinds[-1] == "close"
    assert "summary" in [k for k, _ in outbox(service)]


def test_modal_batch_is_all_or_nothing_and_names_the_failing_field(service: Service) -> None:
    inc = service.open("T1", ALICE, "Acme: down").incident
    with pytest.raises(BatchError) as caught:
        service.command_many(inc.id, ALICE, [Written("listen", "words"),
                                             AgreeCadence("whenever")], team_id="T1")
    assert caught.value.index == 1 and isinstance(caught.value.error, ParseError)
    assert service.get_by_id(inc.id).customer_words == []
    service.command_many(inc.id, ALICE, [Written("listen", "words"), AgreeCadence("30m")],
                         team_id="T1")
    assert service.get_by_id(inc.id).step is Step.RESTATE


def _flagged(service: Service, opened: Any) -> str:
    """The repeat-crisis check open queued (see the test above), run as the outbox runs it;
    its warning or ''."""
    return service.flag_recurrence(opened.incident.id, {"user": ALICE.user_id}) or ""


def test_recurrence_is_flagged_after_open(service: Service, clock: Clock) -> None:
    first = service.open("T1", ALICE, "ACME, Inc.: screens down")
    assert _flagged(service, first) == "", "the first crisis is not a repeat of itself"
    clock.now += timedelta(days=10)
    second = service.open("T1", ALICE, "Acme Inc: screens down again")
    warning = _flagged(service, second)
    assert "INC-1" in warning and "second crisis for Acme Inc in 90 days" in warning
    lines = [e.text for e in service.timeline(second.incident.id) if e.kind == "recurrence"]
    assert lines == [warning], "on the timeline, once"
    assert _flagged(service, second) == warning
    assert [e.kind for e in service.timeline(second.incident.id)].count("recurrence") == 1, \
        "a retried check does not warn twice"
    other_team = service.open("T2", ALICE, "Acme Inc: screens down")
    assert "crisis for" not in _flagged(service, other_team), "another workspace is no repeat"
    later = service.open("T1", ALICE, "Acme Inc: screens down a third time")
    assert "third crisis" in _flagged(service, later)
    assert "third crisis" not in _flagged(service, second), \
        "an incident opened after this one is not an earlier crisis"


def test_recurrence_reads_a_bounded_history_and_reports_matches_whole(
        service: Service, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    first = service.open("T1", ALICE, "Acme: lobby screens show a setup error").incident
    service.command(first.id, ALICE, "action", "add a recovery mode", team_id="T1")
    clock.now += timedelta(days=1)
    service.open("T1", ALICE, "Globex: the booking page is slow")
    monkeypatch.setattr(incident_store, "RECURRENCE_SIMILAR_LIMIT", 1)
    clock.now += timedelta(days=1)
    # Outside the latest one, but the same customer: always compared.
    again = _flagged(service, service.open("T1", ALICE, "ACME: the screens are black"))
    assert "second crisis for ACME" in again and "A1 add a recovery mode" in again, \
        "a reported match is shown with its actions (read whole, not from the light rows)"
    # A similar problem elsewhere, but older than the latest one: outside the bounded check.
    other = _flagged(service, service.open("T1", ALICE,
                                           "Initech: lobby screens show a setup error"))
    assert "very similar problem" not in other
    monkeypatch.setattr(incident_store, "RECURRENCE_SIMILAR_LIMIT", 500)
    other = _flagged(service, service.open("T1", ALICE,
                                           "Umbrella: lobby screens show a setup error"))
    assert "very similar problem" in other and "Initech" in other


def test_reminders_fire_once_and_mark_promises_missed(service: Service, clock: Clock) -> None:
    inc = service.open("T1", ALICE, "Acme: down").incident
    service.command(inc.id, ALICE, "cadence", "30m", team_id="T1")
    service.command(inc.id, ALICE, "promise", "a call back in 45m", team_id="T1")
    outbox(service)
    clock.now = T0 + timedelta(minutes=30)
    service.reminders.fire_due(inc.id, "w1")
    service.reminders.fire_due(inc.id, "w2")  # a second replica finds the claim
    kinds = [e.kind for e in service.timeline(inc.id)]
    assert kinds.count(ReminderKind.DUE.value) == 1
    clock.now = T0 + timedelta(minutes=46)
    service.reminders.fire_due(inc.id, "w1")
    assert service.get_by_id(inc.id).promises[0].status is PromiseStatus.MISSED


def test_concurrent_commands_on_one_incident_all_land(service: Service) -> None:
    inc = service.open("T1", ALICE, "Acme: down").incident
    errors: list[BaseException] = []

    def park(n: int) -> None:
        try:
            for k in range(5):
                service.command(inc.id, Actor(f"U{n}"), "park", f"topic {n}-{k}", team_id="T1")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=park, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    parked = service.get_by_id(inc.id).parked
    assert sorted(p.text for p in parked) == sorted(f"topic {n}-{k}" for n in range(4)
                                                    for k in range(5))
    assert [p.number for p in parked] == list(range(1, 21))


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_writers_who_both_read_first_both_land(service: Service,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Both read version N before either writes; the loser retries from a fresh read.

    (PostgreSQL only: on SQLite every write transaction starts with BEGIN IMMEDIATE, so the
    second writer cannot even read until the first commits; the test above covers SQLite.)
    """
    inc = service.open("T1", ALICE, "Acme: down").incident
    barrier = threading.Barrier(2)
    original = rules.run_command
    first_pass = threading.local()

    def racing(*args, **kwargs):
        if not getattr(first_pass, "done", False):
            first_pass.done = True
            barrier.wait(timeout=10)
        return original(*args, **kwargs)

    monkeypatch.setattr(rules, "run_command", racing)
    results: list[object] = []

    def act(verb: str, arg: str) -> None:
        try:
            results.append(service.command(inc.id, ALICE, verb, arg, team_id="T1"))
        except BaseException as err:
            results.append(err)

    threads = [threading.Thread(target=act, args=a)
               for a in (("listen", "they are furious"), ("impact", "hotel opening tonight"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not [r for r in results if isinstance(r, BaseException)], results
    final = service.get_by_id(inc.id)
    assert final.customer_words == ["they are furious"]
    assert final.impact == "hotel opening tonight"
    assert final.version == inc.version + 2
