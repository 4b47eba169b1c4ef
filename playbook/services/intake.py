"""Use cases of the intake: under load an `/incident open` is recorded raw at its ack
(`IntakeService.record`) and opened a moment later (`IntakeService.process`) by the very open
every other ack runs (`Service.open`: its checks, settings, outage links and outbox rows).

Exactly once: processing claims the recorded command inside the open's own transaction and
marks it done in that transaction too (`Service.open`'s `recorded`), so a crash anywhere
leaves both the incident and the mark, or neither; a second processor (another thread, another
replica) finds the command claimed or done and leaves it (`Taken`). The person is answered
through the outbox, in the same transaction: the reply the ack would have carried ("Opened
INC-n ..."), or the refusal with their text quoted back, through the request's response_url
(bot/outbox/context.py `tell`), retried and sent once.

Why the ack is cheap: one small INSERT, committed with whatever else arrived at that moment
(`Service.group`, the opens' group commit), against the millisecond of an open.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from playbook import store
from playbook.domain.errors import PlaybookError
from playbook.domain.intake import failed_reply, refused_reply
from playbook.domain.model import Actor, Outcome
from playbook.services.incidents import Service
from playbook.services.outcomes import Origin, reply_to
from playbook.services.transactions import retry_stale
from playbook.store.intake import RawCommand

__all__ = ["MAX_ATTEMPTS", "IntakeService", "Processed", "RawCommand", "Taken", "request_key"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Unexpected failures (not refusals) after which a recorded command is given up and the person
told: a command that breaks the open every time must not be tried for ever."""


class Taken(Exception):
    """Another processor claimed the command, or finished it, first."""


@dataclass(frozen=True)
class Processed:
    """What became of one recorded command: ``opened`` (with the outcome), ``refused`` or
    ``failed`` (the person is told), ``taken`` (someone else's), ``error`` (left pending,
    tried again later)."""

    status: str
    outcome: Outcome | None = None


def request_key(team_id: str, response_url: str | None) -> str:
    """The request's unique key: Slack issues a response_url per command invocation, so a
    request delivered twice is recorded once."""
    if not response_url:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{team_id}\n{response_url}".encode()).hexdigest()


class _Claim:
    """`Service.open`'s `recorded`: claims the command first in the open's transaction, then
    marks it done last, once the incident's number is known.

    The reply ("Opened INC-n ...") is queued at the claim, before the open queues its own
    rows, and worded at the end. It belongs to no incident, so it never waits behind the
    incident's rows, and with the lower id it is claimed no later than the channel's creation:
    one webhook post against several Slack calls, so the person hears the number before
    "INC-n is open: #channel", as the ack would have told it first."""

    def __init__(self, raw: RawCommand, origin: Origin) -> None:
        self.raw = raw
        self.origin = origin
        self.reply_row: int | None = None

    def claim(self, session: Session, now: datetime) -> None:
        if store.intake.claim(session, self.raw.id) is None:
            raise Taken(self.raw.id)
        self.reply_row = store.enqueue(
            session, team_id=self.raw.team_id, incident_id=None, kind="tell",
            payload={"text": "", "notify": reply_to(self.origin, self.raw.user_id)},
            requested_by=self.raw.user_id, now=now)

    def settle(self, session: Session, now: datetime, opened: Outcome) -> None:
        inc = opened.incident
        if inc.id is None or self.reply_row is None or not store.intake.finish(
                session, self.raw.id, now=now, outcome="opened", incident_id=inc.id):
            raise Taken(self.raw.id)  # cannot happen while claimed; never write it twice
        store.intake.word_reply(session, self.reply_row, {
            "text": opened.reply, "notify": reply_to(self.origin, self.raw.user_id)})


class IntakeService:
    """The intake's use cases, over the `Service` whose open they run."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions = service.sessions
        self.clock = service.clock

    def record(self, *, team_id: str, user_id: str, channel_id: str | None, text: str,
               response_url: str | None) -> bool:
        """Record an `/incident open` as typed (`text`: after the verb, as Slack sent it);
        answered once committed. False: this very request was recorded already."""
        key = request_key(team_id, response_url)

        def work(session: Session, now: datetime) -> bool:
            return store.intake.record(session, team_id=team_id, request_key=key,
                                       user_id=user_id, channel_id=channel_id, text=text,
                                       response_url=response_url, received_at=now)
        return self.service.group.run(work)

    def pending(self, limit: int = 50) -> list[RawCommand]:
        """Commands waiting to be opened, oldest first (nothing claimed)."""
        with store.reading(self.sessions) as session:
            return store.intake.pending(session, limit)

    def pending_count(self) -> int:
        with store.reading(self.sessions) as session:
            return store.intake.pending_count(session)

    def process(self, raw: RawCommand, actor: Actor) -> Processed:
        """Open what `raw` asked for, as `actor` (its user, looked up as an ack would)."""
        origin = Origin(channel_id=raw.channel_id, response_url=raw.response_url)
        try:
            outcome = self.service.open(raw.team_id, actor, raw.text, origin=origin,
                                        recorded=_Claim(raw, origin))
        except Taken:
            return Processed("taken")
        except PlaybookError as err:
            return self._end(raw, origin, "refused", refused_reply(err.message, raw.text))
        except Exception:
            log.exception("opening recorded command %s failed", raw.id)
            return self._failed(raw, origin)
        return Processed("opened", outcome)

    def _failed(self, raw: RawCommand, origin: Origin) -> Processed:
        with self.sessions.begin() as session:
            attempts = store.intake.attempt_failed(session, raw.id)
        if attempts < MAX_ATTEMPTS:
            return Processed("error")
        log.error("giving up recorded command %s after %d failures", raw.id, attempts)
        return self._end(raw, origin, "failed", failed_reply(raw.text))

    def _end(self, raw: RawCommand, origin: Origin, outcome: str, text: str) -> Processed:
        """Finish a command that opened nothing, telling the person why (once: the claim)."""
        def work(session: Session, now: datetime) -> bool:
            if store.intake.claim(session, raw.id) is None:
                return False
            store.intake.finish(session, raw.id, now=now, outcome=outcome)
            store.enqueue(session, team_id=raw.team_id, incident_id=None, kind="tell",
                          payload={"text": text, "notify": reply_to(origin, raw.user_id)},
                          requested_by=raw.user_id, now=now)
            return True
        ended = retry_stale(self.sessions, self.clock, work)
        return Processed(outcome if ended else "taken")
