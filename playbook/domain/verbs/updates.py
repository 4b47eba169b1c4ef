"""Updates to the customer: logged (given another way) or sent to every customer destination
(the linked customer channel, their email), and linking that channel. Every update restarts the
cadence clock (an email only once the mail server accepted it)."""

from __future__ import annotations

import copy

from playbook.domain import cadence, parse
from playbook.domain.errors import GateError, ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Actor,
    CustomerUpdate,
    Incident,
    Post,
    Reschedule,
    Target,
)
from playbook.domain.text import channel_link, date_token, esc, mention
from playbook.domain.verbs.base import (
    Ctx,
    Result,
    line,
    next_due_text,
    next_update_hint,
    next_update_line,
    quote,
    required,
)
from playbook.domain.verbs.email import addresses_text, queue_email

__all__ = ["customer_channel", "send", "update"]


def _log_update(inc: Incident, actor: Actor, text: str, ctx: Ctx, *, sent: bool) -> str:
    inc.updates.append(CustomerUpdate(len(inc.updates) + 1, text, actor.user_id, ctx.now, sent))
    if inc.resolved_at is not None and inc.customer_informed_at is None:
        inc.customer_informed_at = ctx.now
        return "Logged the update: the customer knows it is resolved."
    return f"Logged the customer update. {next_due_text(inc)}"


def update(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "what we told the customer",
                    "`/incident update &lt;what we told them&gt;`")
    reply = _log_update(inc, actor, text, ctx, sent=False) + next_update_hint(inc, actor, text)
    return Result(
        reply,
        [
            line(
                ctx,
                actor,
                "update",
                f"{mention(actor.user_id)} updated the customer: {quote(text)}",
            )
        ],
        [Reschedule()],
    )


NEXT_FLAG = "+next"


def _next_after_send(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> str | None:
    """``Next update by 15:30 CET`` as it will be once this send counts, as plain text in the
    sender's zone: an email has no date tokens, so the zone is named."""
    probe = copy.deepcopy(inc)
    _log_update(probe, actor, text, ctx, sent=True)
    return next_update_line(probe, actor.tz)


def send(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(
        text, "the message for the customer", "`/incident send &lt;customer-ready text&gt;`"
    )
    # `+next` at the end: append when the customer hears from us next (a date token in Slack,
    # so each reader sees their own zone; text with the zone named in an email)
    add_next = text.lower().endswith(NEXT_FLAG)
    if add_next:
        text = required(text[: -len(NEXT_FLAG)], "the message for the customer",
                        "`/incident send &lt;customer-ready text&gt; +next`")
    if inc.customer_channel_id is None and not inc.customer_emails:
        raise GateError(
            "No customer destination yet: link their channel with `/incident customer-channel "
            "#channel` or give their email with `/incident customer-email name@example.com`. "
            "To log an update you gave another way: `/incident update`."
        )
    voices = {u for u in (inc.communicator, inc.owner) if u}
    if not voices:
        raise PermissionDenied(
            "Name the single voice to the customer first: "
            "`/incident comms @someone` (or take ownership: `/incident own`)."
        )
    if actor.user_id not in voices:
        who = " or ".join(mention(u) for u in sorted(voices))
        raise PermissionDenied(
            f"Only {who} speaks to the customer for {inc.key}; "
            "ask them to send it, so the customer hears one voice."
        )
    mail_next = _next_after_send(inc, actor, text, ctx) if add_next else None
    mail_text = f"{text}\n\n{mail_next}." if mail_next else text
    # By email alone, the update counts once the mail server accepts it (mail_events).
    emailed = queue_email(inc, actor, mail_text, ctx, counts=inc.customer_channel_id is None)
    mailed = [emailed] if emailed else []
    to_mail = addresses_text(inc.customer_emails)
    sent_line = line(ctx, actor, "send", f"{mention(actor.user_id)} sent the customer: "
                     f"{quote(text)}" + (f" (by email to {to_mail})" if emailed else ""))
    if inc.customer_channel_id is None:
        tip = "" if add_next else next_update_hint(inc, actor, text)
        return Result(
            f"Emailing {to_mail}. It counts as a customer update once their mail server "
            f"accepts it; I'll tell you here if it refuses.{tip}",
            [sent_line], mailed)
    reply = _log_update(inc, actor, text, ctx, sent=True)
    due = cadence.next_update_due(inc)
    outgoing = esc(text) + (f"\nNext update by {date_token(due)}." if due and add_next else "")
    if not add_next and due is not None and next_update_hint(inc, actor, text):
        reply += (" Tip: it doesn't say when they hear from us next. End a send with `+next` "
                  f"and I add “Next update by {date_token(due)}” (in each reader's own zone).")
    also = f" and emailing {to_mail}" if emailed else ""
    return Result(
        f"Sent to {channel_link(inc.customer_channel_id)}{also}. {reply}",
        [sent_line],
        [Post(Target.CUSTOMER, outgoing), *mailed, Reschedule()],
    )


def customer_channel(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    if not arg.strip():
        raise ParseError("Name the customer-facing channel: `/incident customer-channel #channel`.")
    channel = parse.parse_channel(arg.strip())
    if channel == inc.channel_id:
        raise PlaybookError(
            "That is this incident's own channel; link the channel the customer "
            "is in (for example a Slack Connect channel)."
        )
    inc.customer_channel_id = channel
    return Result(
        f"Linked {channel_link(channel)}. Only `/incident send` posts there.",
        [
            line(
                ctx,
                actor,
                "customer-channel",
                f"{mention(actor.user_id)} linked the customer channel {channel_link(channel)}.",
            )
        ],
    )
