"""Customer email in the store, on SQLite and PostgreSQL: addresses, sent emails with their
Message-IDs, replies found by In-Reply-To or by subject tag, each recorded once, all deleted
with the incident."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from playbook.domain.mail_events import InboundReply
from playbook.domain.model import Actor, EmailStatus
from playbook.services.emails import EmailService, Received
from playbook.services.incidents import Service, ServiceConfig
from playbook.store import tables

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _service(session_factory: sessionmaker[Session]) -> tuple[Service, EmailService, Clock]:
    clock = Clock()
    config = ServiceConfig()
    config = replace(config, policy=replace(config.policy, email_enabled=True))
    service = Service(session_factory, config, clock)
    return service, EmailService(service), clock


def _reply(message_id: str, subject: str = "Re: [INC-1] Acme: screens",
           sender: str = "it@acme.example") -> InboundReply:
    return InboundReply(sender, "Jo", subject, "Still down & <b>dark</b>", message_id, T0,
                        (("a.png", 10), ("b.pdf", 20)))


def test_email_round_trip_and_replies_matched_once(
        session_factory: sessionmaker[Session]) -> None:
    service, emails, clock = _service(session_factory)
    inc = service.open("T1", ALICE, "sev2 Acme: screens down").incident
    assert inc.id is not None
    for line in ("own", "customer-email it@acme.example, ops@acme.example", "send one",
                 "send two"):
        verb, _, arg = line.partition(" ")
        clock.now += timedelta(minutes=1)
        service.command(inc.id, ALICE, verb, arg, team_id="T1")
    ready = emails.prepare(inc.id, 1, "acme.example")
    assert ready is not None
    first_id = ready[1].message_id
    assert first_id and first_id.endswith("@acme.example>")
    again = emails.prepare(inc.id, 1, "acme.example")
    assert again is not None and again[1].message_id == first_id, "assigned once"
    clock.now += timedelta(minutes=1)
    assert emails.delivered(inc.id, 1, ("ops@acme.example",))
    assert not emails.delivered(inc.id, 1), "settled once"
    assert emails.prepare(inc.id, 1, "acme.example") is None
    assert emails.failed(inc.id, 2, "550 5.1.1 no such user")

    loaded = service.get_by_id(inc.id)
    assert loaded is not None
    assert loaded.customer_emails == ["it@acme.example", "ops@acme.example"]
    one, two = loaded.emails
    assert (one.status, one.recipients, one.counts, one.message_id, one.settled_at) == (
        EmailStatus.SENT, ("it@acme.example", "ops@acme.example"), True, first_id, clock.now)
    assert one.error == "refused ops@acme.example"
    assert (two.status, two.error) == (EmailStatus.FAILED, "550 5.1.1 no such user")
    assert [u.text for u in loaded.updates] == ["one"], "only the delivered one counts"

    # by In-Reply-To; then the same message again; then by the subject tag
    assert emails.receive(_reply("<r1@acme>"), [first_id]).status is Received.RECORDED
    assert emails.receive(_reply("<r1@acme>"), [first_id]).status is Received.DUPLICATE
    assert emails.receive(_reply("<r2@acme>"), []).status is Received.RECORDED
    stranger = _reply("<r3@x>", sender="x@other.example")
    assert emails.receive(stranger, []).status is Received.UNMATCHED
    assert emails.receive(_reply("<r4@x>", subject="hello"), ["<unknown@x>"]).status \
        is Received.UNMATCHED
    loaded = service.get_by_id(inc.id)
    assert loaded is not None
    assert [(r.message_id, r.text, r.attachments) for r in loaded.email_replies] == [
        ("<r1@acme>", "Still down & <b>dark</b>", (("a.png", 10), ("b.pdf", 20))),
        ("<r2@acme>", "Still down & <b>dark</b>", (("a.png", 10), ("b.pdf", 20)))]
    kinds = [e.kind for e in service.timeline(inc.id)]
    assert kinds.count("email-sent") == 1 and kinds.count("email-failed") == 1
    assert kinds.count("email-reply") == 2

    with session_factory.begin() as session:
        session.execute(delete(tables.IncidentRow).where(tables.IncidentRow.id == inc.id))
    with session_factory() as session:
        for row in (tables.SentEmailRow, tables.EmailReplyRow):
            assert session.scalar(select(func.count()).select_from(row)) == 0


def test_the_same_reply_delivered_twice_at_once_is_recorded_once(
        session_factory: sessionmaker[Session]) -> None:
    service, emails, _ = _service(session_factory)
    inc = service.open("T1", ALICE, "sev2 Acme: screens down").incident
    assert inc.id is not None
    service.command(inc.id, ALICE, "own", "", team_id="T1")
    service.command(inc.id, ALICE, "customer-email", "it@acme.example", team_id="T1")
    barrier = threading.Barrier(2)
    results: list[Received] = []

    def deliver() -> None:
        barrier.wait()
        results.append(emails.receive(_reply("<same@acme>"), []).status)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [Received.DUPLICATE, Received.RECORDED]
    loaded = service.get_by_id(inc.id)
    assert loaded is not None and len(loaded.email_replies) == 1
