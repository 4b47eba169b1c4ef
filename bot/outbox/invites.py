"""Invites people (and every member of a user group) into a channel, one person per call.

With several users in one `conversations.invite` call, one refusal fails the whole call, so
each person is invited alone. A refusal that will not heal is returned as a problem to tell
the person who asked (the incident or outage works without that member); anything else is
raised for the outbox to retry.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.outbox.context import EffectContext
from bot.slack.errors import code_of, explain, is_permanent

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
