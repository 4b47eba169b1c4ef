"""Where the bot posts when an incident's channel is gone for it, and the lifecycle effects.

When the incident channel is archived or the bot was removed from it, nothing can be posted
there. Then:

* the status card lives on as a copy in the *fallback* place: the leads channel
  (``CRISISBOT_LEADS_CHANNEL``) when configured, else the owner's DM (the opener's without an
  owner), kept current like the pinned one;
* reminders that would go to the channel (nudge, due, a missed promise, a check-in without an
  owner) go to the owner's DM, or the fallback place when there is no owner; escalations
  already go to the owner and the leads, so they are not repeated;
* every other timeline line stays in the database (the summary has it) and is not posted.

Once the channel is usable again (unarchived, the bot invited back), the copy says where the
card is and everything goes to the channel again.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.blocks.kit import MESSAGE_MAX_BLOCKS, context, section, to_dicts
from bot.outbox.context import EffectContext
from bot.slack.errors import MESSAGE_GONE, Lost, code_of, lost_channel
from playbook.domain.model import Incident
from playbook.domain.text import channel_link
from playbook.domain.verbs import Ctx
from playbook.domain.verbs.views import status_text
from playbook.services.lifecycle import Change

log = logging.getLogger(__name__)

# Outbox kinds that write to the incident's own channel.
CHANNEL_KINDS = {"timeline", "refresh_card", "invite", "draft", "draft_settled",
                 "resolve_prompt", "brief", "channel_back"}
# Timeline kinds that are reminders for the people working the incident.
REMINDER_KINDS = {"nudge", "due", "promise-due", "checkin"}
# chat.update of the card's copy: these mean the copy is gone, so post a new one.
COPY_GONE = MESSAGE_GONE | {"channel_not_found"}
# What the lifecycle service records for each way Slack says a channel was lost to us.
LOST_AS = {Lost.ARCHIVED: Change.ARCHIVED, Lost.REMOVED: Change.REMOVED}


# --- where ---------------------------------------------------------------------------------------


def usable(ctx: EffectContext, inc: Incident) -> bool:
    if inc.channel_id is None:
        return False
    known = ctx.facts.usable(inc.channel_id)
    return ctx.lifecycle.channel_usable(inc.channel_id) if known is None else known


def fallback(ctx: EffectContext, inc: Incident) -> str:
    """The place the card and notes go while the channel is unusable."""
    return ctx.team(inc.team_id).leads_channel or inc.owner or inc.opened_by


def reminder_target(ctx: EffectContext, inc: Incident) -> str:
    return inc.owner or fallback(ctx, inc)


# --- the outbox worker found out from an error ----------------------------------------------------


def lost_by_error(ctx: EffectContext, inc: Incident, kind: str, payload: dict,
                  err: SlackApiError) -> bool:
    """True if `err` says the incident channel is gone and we now know it (so re-run)."""
    code = code_of(err) or ""
    lost = lost_channel(code)
    targets_channel = kind in CHANNEL_KINDS or (
        kind in ("post", "summary") and payload.get("target") == "incident")
    if lost is None or not targets_channel or inc.channel_id is None:
        return False
    ctx.facts.forget()
    return ctx.lifecycle.channel_changed(inc.team_id, inc.channel_id, LOST_AS[lost],
                                         why=f"Slack answered {code}")


# --- kinds ---------------------------------------------------------------------------------------


def redirect_timeline(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """A timeline line for an unusable channel: reminders go to a person, the rest stays."""
    kind = payload.get("kind", "")
    if kind not in REMINDER_KINDS or (kind == "checkin" and inc.owner):
        return
    assert inc.id is not None
    msg = blocks.timeline_message(kind, payload["text"], inc.id)
    ctx.client.chat_postMessage(channel=reminder_target(ctx, inc), **msg)


def fallback_card(ctx: EffectContext, inc: Incident) -> None:
    """Keep the card's copy current in the fallback place (posting it the first time)."""
    assert inc.channel_id is not None
    state = ctx.lifecycle.channel_state(inc.team_id, inc.channel_id)
    why = "archived" if state.archived_at else "not open to me"
    msg = blocks.card(inc, ctx.clock(), ctx.service.playbooks.playbook_for(inc))
    note = context(f"📌 A copy of {inc.key}'s card: its channel {channel_link(inc.channel_id)} "
                   f"is {why}. Kept current here until it is back.")
    msg["blocks"] = [*to_dicts([note]), *msg["blocks"]][:MESSAGE_MAX_BLOCKS]
    if state.fallback_channel and state.fallback_ts:
        try:
            ctx.client.chat_update(channel=state.fallback_channel, ts=state.fallback_ts, **msg)
            return
        except SlackApiError as err:
            if err.response.get("error") not in COPY_GONE:
                raise
    resp = ctx.client.chat_postMessage(channel=fallback(ctx, inc), **msg)
    ctx.lifecycle.set_fallback(inc.team_id, inc.channel_id, resp["channel"], resp["ts"])


def do_channel_lost(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """Say where things continue: the fallback place, and the owner by DM."""
    places = dict.fromkeys(p for p in (fallback(ctx, inc), inc.owner) if p)
    for place in places:
        ctx.client.chat_postMessage(channel=place, text=payload["text"])


def do_channel_back(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """Back in the channel: say so there, and point the copy of the card at it."""
    assert inc.channel_id is not None
    ctx.client.chat_postMessage(channel=inc.channel_id, text=payload["text"])
    state = ctx.lifecycle.channel_state(inc.team_id, inc.channel_id)
    if state.fallback_channel and state.fallback_ts:
        try:
            back = f"📌 {inc.key}'s card is back in {channel_link(inc.channel_id)}."
            ctx.client.chat_update(channel=state.fallback_channel, ts=state.fallback_ts,
                                   text=back, blocks=to_dicts([section(back)]))
        except SlackApiError as err:
            log.info("%s: could not retire the card's copy: %s", inc.key,
                     err.response.get("error"))
        ctx.lifecycle.set_fallback(inc.team_id, inc.channel_id, None, None)


def do_brief(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """A short "where we are" for someone who just joined, only they can see it."""
    if not usable(ctx, inc):
        return
    policy_ctx = Ctx(now=ctx.clock(), policy=ctx.service.playbooks.policy_for(inc))
    text = (f"👋 Welcome to {inc.key}. Where we are:\n{status_text(inc, policy_ctx)}\n"
            "The pinned card has the details; `/incident help` lists what you can do.")
    assert inc.channel_id is not None
    ctx.client.chat_postEphemeral(channel=inc.channel_id, user=payload["user"], text=text)
