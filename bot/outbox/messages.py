"""Messages: timeline lines and reminders in the channel, posts to a target, notes to the person
who asked, a flagged recurrence, and a message captured onto the timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import blocks
from bot.outbox.context import EffectContext
from bot.outbox.lifecycle import redirect_timeline, reminder_target, usable
from playbook.domain import timeline
from playbook.domain.model import Incident, Target


def targets(ctx: EffectContext, inc: Incident, target: Target, user: str | None) -> list[str]:
    """The channels (or people, by DM) a post for `target` goes to."""
    if target in (Target.INCIDENT, Target.OWNER) and inc.channel_id and not usable(ctx, inc):
        return [reminder_target(ctx, inc)]
    if target is Target.INCIDENT:
        return [inc.channel_id] if inc.channel_id else []
    if target is Target.CUSTOMER:
        return [inc.customer_channel_id] if inc.customer_channel_id else []
    if target is Target.OWNER:
        if inc.owner:
            return [inc.owner]
        return [inc.channel_id] if inc.channel_id else []
    if target is Target.USER:
        return [user] if user else []
    team = ctx.team(inc.team_id)
    if target is Target.LEAD_DMS:  # a personal ask: each lead by DM, else the leads channel
        people = [u for u in team.leads if not u.startswith("S")]
        return people or ([team.leads_channel] if team.leads_channel else [])
    if team.leads_channel:
        return [team.leads_channel]
    return [u for u in team.leads if not u.startswith("S")]


def do_timeline(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    if inc.channel_id is None:
        return  # channel creation failed and was reported; the line is in the database
    assert inc.id is not None
    if not usable(ctx, inc):
        redirect_timeline(ctx, inc, payload)
        return
    msg = blocks.timeline_message(payload.get("kind", ""), payload["text"], inc.id)
    ctx.client.chat_postMessage(channel=inc.channel_id, **msg)


def do_post(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    text = payload["text"]
    for channel in targets(ctx, inc, Target(payload["target"]), payload.get("user")):
        ctx.client.chat_postMessage(channel=channel, text=text)


def do_recurrence(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    assert inc.id is not None
    ctx.service.flag_recurrence(inc.id, payload.get("notify") or {})


def do_tell(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    ctx.tell(payload.get("notify") or {}, payload["text"])


def do_capture(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """A message someone pinned or reacted to goes on the timeline, made safe to re-post."""
    channel, ts, by = payload["channel"], payload["ts"], payload["by"]
    msg = payload.get("message") or fetch_message(ctx, channel, ts)
    notify = {"user": by, "channel": channel, "response_url": None}
    if msg is None:
        ctx.tell(notify, "I couldn't read that message, so it is not on the timeline; "
                         "`/incident note` adds it in your words.")
        return
    me = identity(ctx)
    if (msg.get("user") and msg.get("user") == me.get("user_id")) or (
            msg.get("bot_id") and msg.get("bot_id") == me.get("bot_id")):
        ctx.tell(notify, "That's one of my own messages: what it says is already on the "
                         f"{inc.key} timeline (`/incident timeline`).")
        return
    raw = msg.get("text") or ""
    names = {uid: display_name(ctx, uid) for uid in timeline.mentioned_users(raw)[:20]}
    text = timeline.neutralise(raw, names) or "_(a message with no text)_"
    at = datetime.fromtimestamp(float(msg.get("ts") or ts), UTC)
    ctx.timeline.capture(inc, channel_id=channel, message_ts=ts, author=msg.get("user"),
                         at=at, text=text, by=by, via=payload.get("via", "reaction"))


def fetch_message(ctx: EffectContext, channel: str, ts: str) -> dict | None:
    """The message at `ts`: top-level via conversations.history, else a thread reply."""
    resp = ctx.client.conversations_history(channel=channel, latest=ts, oldest=ts,
                                            inclusive=True, limit=1)
    for msg in resp.get("messages") or []:
        if msg.get("ts") == ts:
            return msg
    try:
        resp = ctx.client.conversations_replies(channel=channel, ts=ts)
    except SlackApiError as err:
        if err.response.get("error") in ("thread_not_found", "message_not_found"):
            return None
        raise
    return next((m for m in resp.get("messages") or [] if m.get("ts") == ts), None)


def identity(ctx: EffectContext) -> dict[str, Any]:
    """The bot's own user and bot ids (auth.test), asked once per workspace (each install has
    its own bot user): its messages aren't captured."""
    return ctx.me()


def display_name(ctx: EffectContext, user_id: str) -> str:
    try:
        user = ctx.client.users_info(user=user_id)["user"]
    except (SlackClientError, OSError):
        return user_id
    profile = user.get("profile") or {}
    return profile.get("display_name") or user.get("name") or user_id
