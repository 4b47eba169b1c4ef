"""Channel calls that incident and outage handlers share: create a channel under a name
Slack accepts, invite people, pin a message.

Invites go one person per call: with several users in one `conversations.invite` call, one
refusal fails the whole call. A refusal that will not heal is returned as a problem to tell
the person who asked (the incident or outage works without that member); anything else is
raised for the outbox to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.outbox.context import EffectContext
from bot.slack.errors import code_of, explain, is_permanent

log = logging.getLogger(__name__)

# conversations.create tries at most this many names before giving up.
CREATE_TRIES = 25

# The person is there already (or it is the bot itself): nothing to do, nothing to say.
NOTHING_TO_DO = frozenset({"already_in_channel", "cant_invite_self"})
# Refusals told to the person besides the permanent ones (bot/slack/errors.py).
ALSO_TOLD = frozenset({"user_is_bot", "user_not_found"})


def invite(ctx: EffectContext, channel_id: str | None, users: list[str]) -> list[str]:
    """Invite `users` (user ids, or `S…` user groups) into the channel; return the problems."""
    problems = []
    for user in users:
        if user.startswith("S"):
            try:
                members = ctx.client.usergroups_users_list(usergroup=user)["users"]
            except SlackApiError as err:
                problems.append(f"couldn't read group `{user}`: {explain(err)}")
                continue
            problems.extend(invite(ctx, channel_id, list(members)))
            continue
        try:
            ctx.client.conversations_invite(channel=channel_id, users=user)
        except SlackApiError as err:
            code = code_of(err)
            if code in NOTHING_TO_DO:
                continue
            if not is_permanent(code) and code not in ALSO_TOLD:
                raise
            problems.append(f"couldn't invite <@{user}>: {explain(err)}")
    return problems


def create_channel(ctx: EffectContext, readable: Callable[[int], str],
                   plain: Callable[[int], str], *, private: bool) -> tuple[str, str]:
    """Create a channel under its readable name, then `-2`, `-3`... while the name is taken.
    Where Slack refuses the readable name (`invalid_name_*`), the remaining tries use the plain
    name (numbered the same way). Returns the channel's id and name."""
    last: SlackApiError | None = None
    name_of, taken = readable, 0
    for _ in range(CREATE_TRIES):
        try:
            resp = ctx.client.conversations_create(name=name_of(taken), is_private=private)
            return resp["channel"]["id"], resp["channel"]["name"]
        except SlackApiError as err:
            last = err
            code = code_of(err) or ""
            if code == "name_taken":
                taken += 1
                continue
            if code.startswith("invalid_name") and name_of is readable:
                name_of, taken = plain, 0
                continue
            raise
    assert last is not None
    raise last


def pin(ctx: EffectContext, channel_id: str, ts: str, key: str) -> None:
    """Pin a card; a pin that fails is logged, not retried (the card works unpinned)."""
    try:
        ctx.client.pins_add(channel=channel_id, timestamp=ts)
    except SlackApiError as err:
        if code_of(err) != "already_pinned":
            log.warning("%s: could not pin the card: %s", key, code_of(err))
