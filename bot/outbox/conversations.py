"""Channel calls that incident and outage handlers share: create a channel under a name
Slack accepts, invite people, pin a message.

Invites go one person per call: with several users in one `conversations.invite` call, one
refusal fails the whole call. A refusal that will not heal (a guest, someone outside the
workspace) is returned, to tell the person who asked and to show on the card (the incident or
outage works without that member); anything else is raised for the outbox to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from bot.outbox.context import EffectContext
from bot.slack.errors import code_of, explain, invite_refusal, is_permanent

log = logging.getLogger(__name__)

# conversations.create tries at most this many names before giving up.
CREATE_TRIES = 25
# users.conversations pages (of 999) read at most when looking for a channel we made.
OWN_PAGES = 10

# The person is there already (or it is the bot itself): nothing to do, nothing to say.
NOTHING_TO_DO = frozenset({"already_in_channel", "cant_invite_self"})


@dataclass
class Invites:
    """What inviting people came to: who is in the channel now, who Slack refused (user ->
    Slack's error name, see `bot.slack.errors.INVITE_REFUSALS`), and every problem in words
    for the person who asked."""

    joined: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def told(self, lead: str = "⚠️ ") -> str:
        """The problems as one line for the person who asked ("" when there were none)."""
        return lead + "; ".join(self.problems) + "." if self.problems else ""


def invite(ctx: EffectContext, channel_id: str | None, users: list[str],
           into: Invites | None = None) -> Invites:
    """Invite `users` (user ids, or `S…` user groups) into the channel, one per call.

    A person Slack will not let us invite (a guest, someone outside the workspace) is skipped,
    never retried, and named in the result; so are other refusals that will not heal. Only an
    error worth a retry (Slack unreachable, rate limits, unknown names) is raised, for the
    outbox to try again: people invited already answer ``already_in_channel`` the next time.
    """
    result = into if into is not None else Invites()
    for user in users:
        if user in result.joined or user in result.refused:
            continue  # in a group and named alone, or in two groups: one call is enough
        if user.startswith("S"):
            try:
                members = ctx.client.usergroups_users_list(usergroup=user)["users"]
            except SlackApiError as err:  # its members can still be invited by name
                result.problems.append(f"couldn't read group `{user}`: {explain(err)}")
                continue
            invite(ctx, channel_id, list(members), result)
            continue
        try:
            ctx.client.conversations_invite(channel=channel_id, users=user)
        except SlackApiError as err:
            code = code_of(err)
            if code in NOTHING_TO_DO:
                result.joined.append(user)
                continue
            why = invite_refusal(code)
            if why is not None:
                log.info("Slack refused to invite %s to %s: %s", user, channel_id, code)
                result.refused[user] = str(code)
            elif is_permanent(code):
                why = explain(err)
            else:
                raise
            result.problems.append(f"couldn't invite <@{user}>: {why}")
            continue
        result.joined.append(user)
    return result


def create_channel(ctx: EffectContext, readable: Callable[[int], str],
                   plain: Callable[[int], str], *, private: bool,
                   not_these: frozenset[str] = frozenset()) -> tuple[str, str]:
    """Create a channel under its readable name, then `-2`, `-3`... while the name is taken.
    Where Slack refuses the readable name (`invalid_name_*`), the remaining tries use the plain
    name (numbered the same way). Returns the channel's id and name.

    A taken name may be our own channel: an earlier try made it and its answer was lost (a 503
    after creating, a worker killed before it recorded the channel). Before moving on to the
    next number, the bot's own live channels are read once (`own_channels`), and a channel of
    that name the bot created is adopted instead of leaving it empty beside a `-2` copy.
    `not_these`: channel ids never to adopt (a reopened incident's old channel). A first try
    that is not refused makes no extra call.
    """
    last: SlackApiError | None = None
    name_of, taken = readable, 0
    mine: dict[str, str] | None = None
    for _ in range(CREATE_TRIES):
        name = name_of(taken)
        try:
            resp = ctx.client.conversations_create(name=name, is_private=private)
            return resp["channel"]["id"], resp["channel"]["name"]
        except SlackApiError as err:
            last = err
            code = code_of(err) or ""
            if code == "name_taken":
                if mine is None:
                    mine = own_channels(ctx)
                if name in mine and mine[name] not in not_these:
                    log.info("adopting channel %s (%s), made by an earlier try", name,
                             mine[name])
                    return mine[name], name
                taken += 1
                continue
            if code.startswith("invalid_name") and name_of is readable:
                name_of, taken = plain, 0
                continue
            raise
    assert last is not None
    raise last


def own_channels(ctx: EffectContext) -> dict[str, str]:
    """Name -> id of the live channels the bot created and is in (users.conversations: only
    the bot's own conversations, Tier 3, channels:read and groups:read). Empty when Slack
    refuses: the caller then numbers the name on, as before."""
    me = ctx.me().get("user_id")
    found: dict[str, str] = {}
    cursor: str | None = None
    try:
        for _ in range(OWN_PAGES):
            resp = ctx.client.users_conversations(types="public_channel,private_channel",
                                                  exclude_archived=True, limit=999,
                                                  cursor=cursor)
            for chan in resp.get("channels") or []:
                if chan.get("creator") == me and chan.get("name"):
                    found.setdefault(chan["name"], chan["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
    except SlackApiError as err:
        log.warning("could not list the bot's channels: %s", code_of(err))
    return found


def pin(ctx: EffectContext, channel_id: str, ts: str, key: str) -> None:
    """Pin a card; a pin that fails is logged, not retried (the card works unpinned)."""
    try:
        ctx.client.pins_add(channel=channel_id, timestamp=ts)
    except SlackApiError as err:
        if code_of(err) != "already_pinned":
            log.warning("%s: could not pin the card: %s", key, code_of(err))
