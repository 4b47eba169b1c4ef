"""Carries out outage effects from the outbox: the outage channel and card, drafts, prompts.

Outage rows (``outage_*``) carry no incident; they name the outage in their payload. A row for
an outage whose channel does not exist yet does nothing: the channel's creation posts the card
from the state current at that moment, and the lines are in the database.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.blocks.outage import draft_message, outage_card, resolve_prompt
from bot.outbox.context import EffectContext
from bot.outbox.conversations import create_channel, invite, pin
from bot.outbox.lifecycle import reminder_target, usable
from bot.slack.errors import MESSAGE_GONE
from playbook.domain.model import Incident
from playbook.domain.outage import Outage
from playbook.domain.rules import numbered, slack_channel_name
from playbook.store import OutboxItem

log = logging.getLogger(__name__)


def channel_name(out: Outage, attempt: int = 0) -> str:
    """The outage's channel: `out-<number>-<title>`."""
    return slack_channel_name(f"out-{out.number}", out.title, "outage", attempt)


# --- rows without an incident ---------------------------------------------------------------------


def run_outage_row(ctx: EffectContext, item: OutboxItem) -> None:
    out = ctx.outages.get(int(item.payload.get("outage_id", 0)))
    if out is None or out.id is None:
        log.warning("outbox %s: outage is gone; dropping", item.id)
        return
    if item.kind == "outage_open":
        open_outage(ctx, out, item.payload)
    elif out.channel_id is None or not ctx.lifecycle.channel_usable(out.channel_id):
        return
    elif item.kind == "outage_post":
        ctx.client.chat_postMessage(channel=out.channel_id, text=item.payload["text"])
    elif item.kind == "outage_card":
        refresh_card(ctx, out)


def open_outage(ctx: EffectContext, out: Outage, payload: dict) -> None:
    assert out.id is not None
    if out.channel_id is None:
        channel_id, name = create_channel(ctx, lambda n: channel_name(out, n),
                                          lambda n: numbered(f"out-{out.number}", n),
                                          private=ctx.team(out.team_id).private_channels)
        out = ctx.outages.set_channel(out.id, channel_id, name)
    assert out.channel_id is not None
    try:
        ctx.client.conversations_setTopic(channel=out.channel_id,
                                          topic=f"{out.key} outage: {out.title}"[:250])
    except SlackApiError as err:
        log.warning("%s: could not set the topic: %s", out.key, err.response.get("error"))
    problems = invite(ctx, out.channel_id, [u for u in payload.get("invite", []) if u]).problems
    if out.card_ts is None:
        post_card(ctx, out)
    text = (f"*{out.key}* is open: <#{out.channel_id}>. Customers' incidents attach with "
            f"`/incident attach {out.key}`; updates typed there reach each as a draft.")
    if problems:
        text += "\n⚠️ " + "; ".join(problems) + "."
    ctx.tell(payload.get("notify") or {}, text)


def post_card(ctx: EffectContext, out: Outage) -> None:
    assert out.id is not None and out.channel_id is not None
    card = outage_card(out, ctx.outages.attached(out.id), ctx.clock())
    resp = ctx.client.chat_postMessage(channel=out.channel_id, **card)
    ctx.outages.set_card(out.id, resp["ts"])
    pin(ctx, out.channel_id, resp["ts"], out.key)


def refresh_card(ctx: EffectContext, out: Outage) -> None:
    assert out.id is not None
    if out.channel_id is None:
        return
    if out.card_ts is None:
        post_card(ctx, out)
        return
    card = outage_card(out, ctx.outages.attached(out.id), ctx.clock())
    try:
        ctx.client.chat_update(channel=out.channel_id, ts=out.card_ts, **card)
    except SlackApiError as err:
        if err.response.get("error") not in MESSAGE_GONE:
            raise
        post_card(ctx, out)


def after_incident_card(ctx: EffectContext, inc: Incident) -> None:
    """An attached incident's card changed: the outage card's row for it did too."""
    if inc.id is None or ctx.facts.in_outage(inc.id) is False:
        return
    out = ctx.outages.outage_of(inc.id)
    if out is None or out.channel_id is None or \
            not ctx.lifecycle.channel_usable(out.channel_id):
        return
    try:
        refresh_card(ctx, out)
    except SlackApiError as err:  # the incident's own card is done: don't repeat it
        log.warning("%s: could not refresh the outage card: %s", out.key,
                    err.response.get("error"))


# --- rows of an incident --------------------------------------------------------------------------


def where(ctx: EffectContext, inc: Incident) -> str | None:
    """Where an outage's note to an incident goes: its channel, else a person."""
    if usable(ctx, inc):
        return inc.channel_id
    return reminder_target(ctx, inc) if inc.channel_id else None


def do_draft(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    draft = ctx.outages.draft(int(payload["draft_id"]))
    out = ctx.outages.get(draft.outage_id) if draft else None
    place = where(ctx, inc)
    if draft is None or draft.id is None or out is None or place is None:
        return
    resp = ctx.client.chat_postMessage(channel=place, **draft_message(draft, inc, out))
    ctx.outages.set_draft_message(draft.id, resp["channel"], resp["ts"])


def do_draft_settled(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    draft = ctx.outages.draft(int(payload["draft_id"]))
    out = ctx.outages.get(draft.outage_id) if draft else None
    if draft is None or out is None or not draft.channel_id or not draft.message_ts:
        return
    try:
        ctx.client.chat_update(channel=draft.channel_id, ts=draft.message_ts,
                               **draft_message(draft, inc, out))
    except SlackApiError as err:  # cosmetic: the draft's state is saved
        log.info("%s: could not mark the draft message: %s", inc.key, err.response.get("error"))


def do_resolve_prompt(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    out = ctx.outages.get(int(payload["outage_id"]))
    place = where(ctx, inc)
    if out is None or place is None or inc.resolved_at is not None:
        return
    ctx.client.chat_postMessage(channel=place, **resolve_prompt(inc, out))
