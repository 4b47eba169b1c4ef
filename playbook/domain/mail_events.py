"""What happens to an incident when the mail server answers, or the customer writes back.

`email_delivered`: the server accepted a `send`'s email; when no customer channel took the same
text it is now a customer update (the cadence clock restarts at the acceptance).
`email_failed`: refused for good; the update is not counted and the sender hears the server's
words. `record_reply`: the customer's reply becomes their own words (the listen step), goes on
the timeline and so into the incident channel, escaped: an email can never ping anyone.
Each takes the incident and `now` and returns an `Outcome`; none reads a clock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from playbook.domain.model import (
    CustomerEmail,
    CustomerUpdate,
    EmailReply,
    EmailStatus,
    Incident,
    Outcome,
    Policy,
    Post,
    RefreshCard,
    Reschedule,
    Status,
    Target,
    TimelineEntry,
)
from playbook.domain.steps import STEP_TITLES, advance
from playbook.domain.text import esc, mention, truncate

__all__ = ["InboundReply", "email_delivered", "email_failed", "find_email", "record_reply"]


def find_email(inc: Incident, number: int) -> CustomerEmail | None:
    return next((e for e in inc.emails if e.number == number), None)


def _to(email: CustomerEmail) -> str:
    return ", ".join(esc(a) for a in email.recipients)


def email_delivered(inc: Incident, number: int, now: datetime,
                    refused: tuple[str, ...] = ()) -> Outcome | None:
    """The server accepted email `number` (`refused`: recipients it turned away while taking
    the others). None when it was already settled (a retry after a crash)."""
    work = copy.deepcopy(inc)
    email = find_email(work, number)
    if email is None or email.status is not EmailStatus.PENDING:
        return None
    email.status, email.settled_at = EmailStatus.SENT, now
    effects: list = [RefreshCard()]
    told = ""
    if email.counts:
        work.updates.append(CustomerUpdate(len(work.updates) + 1, email.text, email.by, now))
        effects.append(Reschedule())
        if work.resolved_at is not None and work.customer_informed_at is None:
            work.customer_informed_at = now
            told = " The customer knows it is resolved."
    but = ""
    if refused:
        email.error = "refused " + ", ".join(refused)
        but = f" Their server refused {', '.join(esc(a) for a in refused)}."
    entry = TimelineEntry(now, "email-sent", f"📧 The email from {mention(email.by)} reached "
                          f"the mail server for {_to(email)}.{but}{told}", email.by)
    return Outcome(work, "", [entry], effects)


def email_failed(inc: Incident, number: int, now: datetime, why: str) -> Outcome | None:
    """Email `number` was refused for good (`why`: the server's words); the sender is told and
    the update is not counted. None when it was already settled."""
    work = copy.deepcopy(inc)
    email = find_email(work, number)
    if email is None or email.status is not EmailStatus.PENDING:
        return None
    email.status, email.settled_at, email.error = EmailStatus.FAILED, now, truncate(why, 500)
    counted = "" if not email.counts else " It does not count as a customer update."
    text = (f"⚠️ The email from {mention(email.by)} to {_to(email)} was not delivered: "
            f"{esc(truncate(why, 500))}.{counted}")
    told = (f"⚠️ Your email to the customer ({inc.key}) was not delivered: the mail server "
            f"said “{esc(truncate(why, 500))}”.{counted} Check the address with "
            "`/incident customer-email`, then `/incident send` again.")
    return Outcome(work, "", [TimelineEntry(now, "email-failed", text, email.by)],
                   [Post(Target.USER, told, user=email.by), RefreshCard()])


@dataclass(frozen=True)
class InboundReply:
    """A reply as the shell read it off the wire (bot/email/inbound.py), already stripped."""

    sender: str
    sender_name: str | None
    subject: str
    text: str
    message_id: str
    written_at: datetime
    attachments: tuple[tuple[str, int], ...] = ()


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} MB"


def record_reply(inc: Incident, reply: InboundReply, now: datetime,
                 policy: Policy) -> Outcome | None:
    """The customer's reply as their own words; None when this Message-ID is already recorded
    (the same email delivered twice)."""
    if any(r.message_id == reply.message_id for r in inc.email_replies):
        return None
    work = copy.deepcopy(inc)
    text = reply.text or "(no text)"
    work.email_replies.append(EmailReply(
        len(work.email_replies) + 1, reply.sender, reply.sender_name, reply.subject,
        text, reply.message_id, reply.written_at, now, reply.attachments))
    if reply.text:
        work.customer_words.append(reply.text)
    who = esc(f"{reply.sender_name} <{reply.sender}>" if reply.sender_name else reply.sender)
    files = ""
    if reply.attachments:
        listed = ", ".join(f"{esc(truncate(name, 80))} ({_size(size)})"
                           for name, size in reply.attachments[:10])
        more = f" and {len(reply.attachments) - 10} more" if len(reply.attachments) > 10 else ""
        files = f"\n📎 Attached (not kept): {listed}{more}"
    quoted = "\n".join(f"> {esc(line)}" if line else ">" for line in text.split("\n"))
    timeline = [TimelineEntry(now, "email-reply",
                              f"📨 The customer replied by email ({who}):\n{quoted}{files}")]
    if work.status is not Status.CLOSED:
        timeline.extend(TimelineEntry(now, "step", f"✅ *{STEP_TITLES[step]}* is complete.")
                        for step in advance(work, now, None, policy.playbook))
    return Outcome(work, "", timeline, [RefreshCard()])
