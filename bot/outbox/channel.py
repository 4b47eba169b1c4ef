"""The incident's channel: create it (topic, purpose, invites, the card), invite people into
it, add links as bookmarks, and bring it back when a closed incident is reopened."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.outbox.card import do_refresh_card, post_card
from bot.outbox.context import EffectContext
from bot.outbox.conversations import Invites, create_channel, invite
from bot.outbox.lifecycle import usable
from bot.slack.errors import code_of, explain, is_transient
from playbook.domain import rules
from playbook.domain.model import Incident
from playbook.services.lifecycle import Change

log = logging.getLogger(__name__)

def incident_channel(ctx: EffectContext, inc: Incident, *, private: bool) -> tuple[str, str]:
    """Create the incident's channel: `inc-<n>-<customer>`, or `inc-<n>` if Slack refuses that.
    (A channel of that name the bot made in an earlier try is adopted; never the incident's
    current one, which a reopened incident is moving away from.)"""
    old = frozenset({inc.channel_id}) if inc.channel_id else frozenset()
    return create_channel(ctx, lambda n: rules.channel_name(inc, n),
                          lambda n: rules.plain_channel_name(inc, n), private=private,
                          not_these=old)


def invite_people(ctx: EffectContext, inc: Incident, users: list[str]) -> tuple[Incident, Invites]:
    """Invite people to the incident's channel and keep its card's "couldn't invite" list
    current: whoever Slack refused is added (with Slack's reason), whoever is in now removed.
    Returns the incident as saved (changed only when that list changed) and the result."""
    assert inc.id is not None
    result = invite(ctx, inc.channel_id, users)
    if result.refused or set(result.joined) & set(inc.not_invited):
        inc = ctx.service.note_invites(inc.id, result.refused, result.joined) or inc
    return inc, result


def do_create_channel(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    assert inc.id is not None
    if inc.channel_id is None:
        channel_id, name = incident_channel(ctx, inc, private=bool(payload.get("private")))
        inc = ctx.service.attach_channel(inc.id, channel_id, name)
    assert inc.channel_id is not None
    try:
        ctx.client.conversations_setTopic(channel=inc.channel_id, topic=rules.channel_topic(inc))
        ctx.client.conversations_setPurpose(channel=inc.channel_id,
                                            purpose=rules.channel_purpose(inc))
    except SlackApiError as err:  # cosmetic: the incident works without them
        log.warning("%s: could not set topic/purpose: %s", inc.key, err.response.get("error"))
    people = [u for u in payload.get("invite", []) if u]
    inc, invited = invite_people(ctx, inc, people)
    if inc.card_ts is None:
        post_card(ctx, inc)
    notify = payload.get("notify") or {}
    text = f"*{inc.key}* is open: <#{inc.channel_id}>. The pinned card there shows what's next."
    if invited.problems:
        text += "\n" + invited.told().removesuffix(".") + ". The incident works without them."
    ctx.tell(notify, text)


def do_invite(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    if inc.channel_id is None:
        return
    if not usable(ctx, inc):
        ctx.tell(payload.get("notify") or {}, f"⚠️ I can't invite anyone to {inc.key}'s "
                 "channel: it is archived or I'm no longer in it.")
        return
    before = inc.not_invited
    inc, invited = invite_people(ctx, inc, list(payload.get("users", [])))
    if inc.not_invited != before:  # the card's "couldn't invite" list changed
        do_refresh_card(ctx, inc, {})
    if invited.problems:
        ctx.tell(payload.get("notify") or {}, invited.told())


def do_bookmark(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """Add link L<n> as a channel bookmark. The card shows the link whatever happens
    here, so a refusal (bookmarks not allowed, archived channel) is told, not retried."""
    link = next((lk for lk in inc.links if lk.number == payload.get("number")), None)
    if link is None or inc.channel_id is None:
        return
    try:  # a retried row must not add the bookmark twice
        marks = ctx.client.bookmarks_list(channel_id=inc.channel_id).get("bookmarks") or []
        if any(m.get("link") == link.url for m in marks):
            return
    except SlackApiError as err:
        log.info("%s: bookmarks.list failed (%s); adding anyway", inc.key,
                 err.response.get("error"))
    try:
        ctx.client.bookmarks_add(channel_id=inc.channel_id, title=link.label, type="link",
                                 link=link.url)
    except SlackApiError as err:
        if is_transient(code_of(err)):
            raise
        ctx.tell(payload.get("notify") or {},
                 f"L{link.number} is on the card of {inc.key}, but I couldn't add it to "
                 f"the channel's bookmarks: {explain(err)}.")


def do_reopen_channel(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    """A reopened incident needs its channel back: unarchive it if someone archived it
    (the bot never archives on close). Where Slack won't let the app unarchive, the
    incident moves to a fresh channel so the work can go on."""
    if inc.channel_id is None:
        return
    try:
        ctx.client.conversations_unarchive(channel=inc.channel_id)
        log.info("%s: unarchived %s", inc.key, inc.channel_id)
        channel_is_back(ctx, inc)
        return
    except SlackApiError as err:
        if code_of(err) == "not_archived":
            channel_is_back(ctx, inc)
            return
        if is_transient(code_of(err)):
            raise
        why = explain(err)
    assert inc.id is not None
    old = inc.channel_id
    team = ctx.team(inc.team_id)
    channel_id, name = incident_channel(ctx, inc, private=team.private_channels)
    inc = ctx.service.attach_channel(inc.id, channel_id, name)
    ctx.service.set_card(inc.id, None)
    people = [u for u in (inc.owner, inc.communicator, inc.opened_by, *team.responders) if u]
    inc, invited = invite_people(ctx, inc, list(dict.fromkeys(people)))
    text = (f"I couldn't unarchive <#{old}> to reopen {inc.key} ({why}), so it continues "
            f"in <#{channel_id}>.")
    if invited.problems:
        text += "\n" + invited.told()
    ctx.tell(payload.get("notify") or {}, text)


def channel_is_back(ctx: EffectContext, inc: Incident) -> None:
    """Record the channel as usable (no news if the lifecycle already knew): the card
    and reminders return to it from the leads channel or the owner's DM."""
    assert inc.channel_id is not None
    ctx.facts.forget()
    ctx.lifecycle.channel_changed(inc.team_id, inc.channel_id, Change.UNARCHIVED)

