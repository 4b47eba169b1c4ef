"""Emailing the customer (the `email` rows a `send` queues), after the ack like every effect.

The email's Message-ID is fixed before the first attempt (`EmailService.prepare`), so a retry
sends the same message and later emails thread under it. What may heal (a 4xx, a refused
connection) is raised for the worker to retry with backoff; what will not (a 5xx) is recorded
as not delivered and the sender hears the server's words (`EmailService.failed`). Only the
server's acceptance makes an email-only `send` count as a customer update.
"""

from __future__ import annotations

from email.utils import getaddresses

from bot.email import smtp
from bot.email.compose import compose, sender_address, sender_domain
from bot.outbox.context import EffectContext
from bot.outbox.messages import display_name
from playbook.domain.model import Incident

__all__ = ["do_email"]

NOT_SET_UP = ("email is not set up on this bot (set CRISISBOT_SMTP_URL and "
              "CRISISBOT_EMAIL_FROM)")


def author_name(ctx: EffectContext, user_id: str, email_from: str) -> str:
    """The sender's display name for the footer; never a Slack id."""
    name = display_name(ctx, user_id)
    if name and name != user_id:
        return name
    return getaddresses([email_from])[0][0] or "Customer support"


def do_email(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    assert inc.id is not None
    number = int(payload["number"])
    if ctx.smtp is None or not ctx.email_from:
        ctx.emails.failed(inc.id, number, NOT_SET_UP)
        return
    ready = ctx.emails.prepare(inc.id, number, sender_domain(ctx.email_from))
    if ready is None:
        return  # settled already (a retry after the answer was recorded)
    current, email = ready
    message = compose(current, email, email_from=ctx.email_from,
                      author=author_name(ctx, email.by, ctx.email_from), now=ctx.clock())
    try:
        refused = smtp.send(ctx.smtp, message, sender=sender_address(ctx.email_from),
                            recipients=list(email.recipients))
    except smtp.EmailRefused as err:
        ctx.emails.failed(inc.id, number, str(err))
        return
    ctx.emails.delivered(inc.id, number, refused)
