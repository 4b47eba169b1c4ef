"""Email use cases: a `send`'s email on its way out, its fate, and the customer's replies.

The outbox (bot/outbox/email.py) asks `prepare` for the email to send (its Message-ID fixed
the first time, so a retry is the same message), then reports `delivered` or `failed`; each is
one transaction that saves the incident, its timeline line and its outbox rows together
(`playbook.services.outcomes.persist`). `receive` takes a reply read off the wire
(bot/email/inbound.py), finds its incident and records it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from playbook import store
from playbook.domain import mail, mail_events
from playbook.domain.model import CustomerEmail, EmailStatus, Incident, Outcome
from playbook.services.incidents import Service
from playbook.services.outcomes import persist
from playbook.services.transactions import retry_stale

__all__ = ["EmailService", "Receipt", "Received"]


class Received(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same Message-ID was recorded before: nothing changed
    UNMATCHED = "unmatched"  # no incident: nothing recorded


@dataclass(frozen=True)
class Receipt:
    status: Received
    incident_key: str | None = None
    team_id: str | None = None


class EmailService:
    """One per process, beside the `Service` whose database and clock it shares."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def prepare(self, incident_id: int, number: int, domain: str,
                ) -> tuple[Incident, CustomerEmail] | None:
        """The incident and its email `number` ready to go, with a Message-ID (assigned once
        and saved before anything is sent); None when it is no longer pending."""
        def work(session: Session, now: datetime) -> tuple[Incident, CustomerEmail] | None:
            inc = store.get_incident_by_id(session, incident_id)
            email = mail_events.find_email(inc, number) if inc else None
            if inc is None or email is None or email.status is not EmailStatus.PENDING:
                return None
            if email.message_id is None:
                email.message_id = f"<{uuid.uuid4().hex}.{inc.key.lower()}@{domain}>"
                inc = store.save_incident(session, inc)
            return inc, email
        return retry_stale(self.service.sessions, self.service.clock, work)

    def delivered(self, incident_id: int, number: int, refused: tuple[str, ...] = ()) -> bool:
        """The mail server accepted it: the update counts now (when it is the only way it went
        out). False when it had already been settled."""
        return self._settle(incident_id, lambda inc, now: mail_events.email_delivered(
            inc, number, now, refused))

    def failed(self, incident_id: int, number: int, why: str) -> bool:
        """Refused for good: recorded, not counted, and the sender is told `why`."""
        return self._settle(incident_id, lambda inc, now: mail_events.email_failed(
            inc, number, now, why))

    def _settle(self, incident_id: int, decide) -> bool:  # type: ignore[no-untyped-def]
        def work(session: Session, now: datetime) -> bool:
            inc = store.get_incident_by_id(session, incident_id)
            outcome: Outcome | None = decide(inc, now) if inc else None
            if outcome is None:
                return False
            persist(session, outcome, origin=None, requested_by=None, now=now)
            return True
        return retry_stale(self.service.sessions, self.service.clock, work)

    def receive(self, reply: mail_events.InboundReply, thread: Sequence[str]) -> Receipt:
        """Record a customer's reply on its incident: found by the Message-IDs it answers
        (`thread`: In-Reply-To and References), else by the `[INC-n]` tag of its subject with
        a sender among that incident's customer addresses."""
        def work(session: Session, now: datetime) -> Receipt:
            inc = self._match(session, reply, thread)
            if inc is None:
                return Receipt(Received.UNMATCHED)
            policy = self.service.playbooks.policy_for(inc, session)
            outcome = mail_events.record_reply(inc, reply, now, policy)
            if outcome is None:
                return Receipt(Received.DUPLICATE, inc.key, inc.team_id)
            persist(session, outcome, origin=None, requested_by=None, now=now)
            return Receipt(Received.RECORDED, inc.key, inc.team_id)
        return retry_stale(self.service.sessions, self.service.clock, work)

    @staticmethod
    def _match(session: Session, reply: mail_events.InboundReply,
               thread: Sequence[str]) -> Incident | None:
        incident_id = store.emails.incident_for_message_ids(session, thread)
        if incident_id is not None:
            return store.get_incident_by_id(session, incident_id)
        number = mail.incident_tag(reply.subject)
        if number is None:
            return None
        sender = reply.sender.lower()
        found = [inc for inc in store.find_by_number(session, number)
                 if sender in (a.lower() for a in inc.customer_emails)]
        if len(found) != 1:
            return None
        return store.get_incident_by_id(session, found[0].id) if found[0].id else None
