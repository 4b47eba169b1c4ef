"""After `/incident settings leads-channel #channel` was acked: check with Slack, then set it.

The listener only recorded the request (`playbook.services.settings.SettingsService.
ask_leads_channel`) so that its ack waits on no Slack call. Here, with the outbox's retries:
whether the person is a workspace admin (users.info, unless the listener already knew), and
whether the app can see the channel (conversations.info; a channel it can't see would swallow
every escalation). Then the setting is changed through the service, which checks the admin
again, or it is left as it was; either way the person is told where they typed. A busy or
failing Slack raises, so the row is tried again later; when the outbox gives up, the person
is told nothing was changed (bot/outbox/context.py `report_failure`).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.outbox.context import EffectContext
from bot.slack.errors import code_of
from playbook.domain import workspace_settings as ws
from playbook.domain.errors import PlaybookError
from playbook.domain.text import channel_link
from playbook.services.settings import Editor

__all__ = ["do_leads_channel"]

# Slack's answers that mean "the app can't see it", not "try again"
_UNSEEN = frozenset({"channel_not_found", "not_in_channel"})
_NO_USER = frozenset({"user_not_found", "user_not_visible"})


def do_leads_channel(ctx: EffectContext, team_id: str, payload: dict[str, Any]) -> None:
    user, channel = str(payload["user"]), str(payload["channel"])
    notify = payload.get("notify") or {"user": user}
    admin = payload.get("admin")
    if admin is None:
        admin = _is_admin(ctx, user)
    if admin and not _can_see(ctx, channel):
        in_force = ctx.service.workspaces.get(team_id).settings.leads_channel
        ctx.tell(notify, f"I can't see {channel_link(channel)}, so I didn't make it the leads "
                         "channel: invite me to it (`/invite @crisisbot` in the channel) and "
                         "set it again, or pick another. The leads channel is still "
                         f"{ws.fmt_value('leads_channel', in_force)}.")
        return
    try:
        changed = ctx.service.workspaces.change(team_id, Editor(user, bool(admin)),
                                                {"leads-channel": channel})
    except PlaybookError as err:  # not an admin, or a value refused
        ctx.tell(notify, err.message)
        return
    if changed.fields:
        ctx.service.enqueue_home(team_id, user)  # their Home shows the settings
    ctx.tell(notify, changed.reply)


def _is_admin(ctx: EffectContext, user: str) -> bool:
    try:
        found = ctx.client.users_info(user=user)["user"]
    except SlackApiError as err:
        if code_of(err) in _NO_USER:
            return False
        raise
    return bool(found.get("is_admin") or found.get("is_owner"))


def _can_see(ctx: EffectContext, channel: str) -> bool:
    try:
        ctx.client.conversations_info(channel=channel)
    except SlackApiError as err:
        if code_of(err) in _UNSEEN:
            return False
        raise
    return True
