"""`/incident customer-email`: the customer's addresses, and what `send` queues for them.

Only the owner, the communicator or a lead sets the addresses: they decide where the one
voice to the customer goes. `send` (verbs/updates.py) asks `queue_email` for the email of an
update; the email counts as an update only once the mail server accepts it
(`playbook.domain.mail_events.email_delivered`).
"""

from __future__ import annotations

from playbook.domain.errors import GateError, PermissionDenied
from playbook.domain.mail import parse_addresses
from playbook.domain.model import Actor, CustomerEmail, Incident, SendEmail
from playbook.domain.text import esc, mention
from playbook.domain.verbs.base import Ctx, Result, line

__all__ = ["addresses_text", "customer_email", "queue_email", "set_addresses"]

SMTP_HINT = ("set `CRISISBOT_SMTP_URL` (e.g. `smtp://user:password@mail.example.com:587"
             "?starttls=true`) and `CRISISBOT_EMAIL_FROM` (e.g. `Acme Support "
             "&lt;support@acme.example&gt;`) and restart the bot")


def addresses_text(addresses: list[str]) -> str:
    return ", ".join(esc(a) for a in addresses)


def _may_set(inc: Incident, actor: Actor) -> None:
    allowed = {u for u in (inc.owner, inc.communicator) if u}
    if actor.is_lead or actor.user_id in allowed:
        return
    who = " or ".join(mention(u) for u in sorted(allowed))
    who = f"{who} or a lead" if who else "the owner, the communicator or a lead"
    raise PermissionDenied(f"Only {who} can change where {inc.key} emails the customer.")


def set_addresses(inc: Incident, actor: Actor, addresses: list[str], ctx: Ctx) -> Result:
    """Replace the customer's addresses (an empty list removes them)."""
    _may_set(inc, actor)
    before = list(inc.customer_emails)
    inc.customer_emails = list(addresses)
    if not addresses:
        if not before:
            return Result("No email addresses were set; nothing to remove.")
        return Result(
            f"Removed the customer's email addresses. `/incident send` no longer emails "
            f"{addresses_text(before)}.",
            [line(ctx, actor, "customer-email",
                  f"{mention(actor.user_id)} removed the customer's email addresses.")])
    shown = addresses_text(addresses)
    hint = "" if ctx.policy.email_enabled else (
        f" Email is not set up on this bot yet: {SMTP_HINT}.")
    return Result(
        f"`/incident send` will email {shown}: only what you send leaves by email.{hint}",
        [line(ctx, actor, "customer-email",
              f"{mention(actor.user_id)} set the customer's email to {shown}.")])


def customer_email(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """`customer-email` (show), `customer-email none` (remove), or the addresses to use."""
    text = arg.strip()
    if not text:
        if not inc.customer_emails:
            return Result("No customer email addresses yet: `/incident customer-email "
                          "name@example.com`.")
        return Result(f"`/incident send` emails {addresses_text(inc.customer_emails)}.")
    if text.lower() in ("none", "remove", "off"):
        return set_addresses(inc, actor, [], ctx)
    return set_addresses(inc, actor, parse_addresses(text), ctx)


def queue_email(inc: Incident, actor: Actor, text: str, ctx: Ctx, *,
                counts: bool) -> SendEmail | None:
    """The email of a `send`, recorded as pending (None when the incident has no addresses);
    refused when email is not set up, so nothing is half sent."""
    if not inc.customer_emails:
        return None
    if not ctx.policy.email_enabled:
        raise GateError(f"{inc.key} emails {addresses_text(inc.customer_emails)}, but email "
                        f"is not set up on this bot: {SMTP_HINT}. Nothing was sent.")
    number = len(inc.emails) + 1
    inc.emails.append(CustomerEmail(number, text, actor.user_id, ctx.now,
                                    tuple(inc.customer_emails), counts))
    return SendEmail(number)
