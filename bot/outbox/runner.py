"""Carries out one outbox row: picks its handler by kind and runs it against the incident.

Listeners only record; the outbox does the slow part after the ack (bot/outbox/worker.py
claims the rows). Each kind has one handler, a function of an `EffectContext`, the incident
and the row's payload, in the module of its family: channel.py, card.py, messages.py,
summary.py, lifecycle.py, outages.py, email.py. When a handler finds the incident's channel gone
(archived, or the bot removed without us hearing of it), the runner records that and runs
the handler once more: the card and reminders then go to the fallback place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from slack_sdk.errors import SlackApiError

from bot.outbox import card, channel, email, lifecycle, messages, outages, settings_check, summary
from bot.outbox.context import EffectContext
from bot.slack.installations import acting_for
from playbook import store
from playbook.domain.model import Incident
from playbook.services.settings import LEADS_CHANNEL_CHECK

log = logging.getLogger(__name__)

Handler = Callable[[EffectContext, Incident, dict], None]

# The handler of each kind of row that belongs to an incident.
HANDLERS: Final[dict[str, Handler]] = {
    "create_channel": channel.do_create_channel,
    "invite": channel.do_invite,
    "bookmark": channel.do_bookmark,
    "reopen_channel": channel.do_reopen_channel,
    "refresh_card": card.do_refresh_card,
    "timeline": messages.do_timeline,
    "post": messages.do_post,
    "tell": messages.do_tell,
    "recurrence": messages.do_recurrence,
    "capture": messages.do_capture,
    "summary": summary.do_summary,
    "draft": outages.do_draft,
    "draft_settled": outages.do_draft_settled,
    "resolve_prompt": outages.do_resolve_prompt,
    "channel_lost": lifecycle.do_channel_lost,
    "channel_back": lifecycle.do_channel_back,
    "brief": lifecycle.do_brief,
    "email": email.do_email,
}
# Kinds whose handler may save the incident (a channel attached, a card posted, a reopened
# incident moved to a fresh channel, someone Slack refused to invite noted for the card): the
# rows after them in a chain need it read again.
CHANGES_INCIDENT = frozenset({"create_channel", "refresh_card", "reopen_channel", "invite"})


class Load:
    """The type of `LOAD`: "no incident given, read it"."""


LOAD: Final = Load()


class EffectRunner:
    """Runs outbox rows with the handlers of their kind; knows nothing of claims or retries."""

    def __init__(self, ctx: EffectContext) -> None:
        self.ctx = ctx

    def run(self, item: store.OutboxItem, incident: Incident | Load | None = LOAD) -> None:
        """Carry out one row; `incident` is the row's incident when the caller loaded it already
        (None: it is gone), else it is read here. Every Slack call it makes carries the row's
        workspace's token (multi-workspace mode: `bot.slack.installations`)."""
        with acting_for(item.team_id):
            self._carry_out(item, incident)

    def _carry_out(self, item: store.OutboxItem, incident: Incident | Load | None) -> None:
        ctx = self.ctx
        if item.kind == "home":
            card.do_home(ctx, item.team_id, item.payload["user"])
            return
        if item.kind == LEADS_CHANNEL_CHECK:  # a workspace's, not an incident's
            settings_check.do_leads_channel(ctx, item.team_id, item.payload)
            return
        if item.kind.startswith("outage_"):
            ctx.row.begin(item)
            try:
                outages.run_outage_row(ctx, item)
            finally:
                ctx.row.end()
            return
        if item.kind == "tell" and item.incident_id is None:
            # an answer that waits for no incident's rows: an open the intake took (its
            # number, or why it was refused; playbook/services/intake.py)
            ctx.row.begin(item)
            try:
                ctx.tell(item.payload.get("notify") or {}, item.payload["text"])
            finally:
                ctx.row.end()
            return
        inc = incident if not isinstance(incident, Load) else \
            (ctx.service.get_by_id(item.incident_id) if item.incident_id else None)
        if not isinstance(inc, Incident):
            log.warning("outbox %s: incident %s is gone; dropping", item.id, item.incident_id)
            return
        handler = HANDLERS.get(item.kind)
        if handler is None:
            log.error("outbox %s: unknown kind %r; dropping", item.id, item.kind)
            return
        ctx.row.begin(item)  # its posts name it, and a retried row adopts what it made
        try:
            self._run(handler, item, inc)
        finally:
            ctx.row.end()

    def _run(self, handler: Handler, item: store.OutboxItem, inc: Incident) -> None:
        ctx = self.ctx
        try:
            handler(ctx, inc, item.payload)
        except SlackApiError as err:
            # The channel was archived or the bot removed without us hearing of it: record
            # that (its card and reminders move to the fallback place), then do it there.
            if not lifecycle.lost_by_error(ctx, inc, item.kind, item.payload, err):
                raise
            assert inc.id is not None
            handler(ctx, ctx.service.get_by_id(inc.id) or inc, item.payload)
            ctx.report_failure(item, err, then=" The card and reminders continue in the "
                               "leads channel or the owner's DM until the channel is back.")
