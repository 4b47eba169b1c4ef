"""Slack changing things under the bot: channels archived, renamed, unarchived, the bot removed
or invited back, people joining, tokens revoked and the app uninstalled.

Each listener records the change (`playbook.services.lifecycle`) and wakes the outbox, which
moves the card and reminders to where they can still be seen. Private channels send the
``group_*`` twins of the ``channel_*`` events; both are handled alike.

Who gets the "where we are" brief on joining an incident channel: everyone who joins, except
the bot itself and the people the bot invited (the opener and the responders at open, an owner
named later): they were just told, and a brief each would only be noise. A paused workspace
resumes on its next user request (`bot.listeners.middleware`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot.listeners.deps import Deps, acting_team
from playbook.services.lifecycle import Change

log = logging.getLogger(__name__)


def _bot_user(body: dict, context: Any) -> str | None:
    found = context.get("bot_user_id") if context is not None else None
    if found:
        return str(found)
    auths = body.get("authorizations") or [{}]
    return auths[0].get("user_id") if auths and auths[0].get("is_bot") else None


def _channel_id(event: dict) -> str:
    channel = event.get("channel")
    return str(channel.get("id", "")) if isinstance(channel, dict) else str(channel or "")


def _actor(event: dict) -> str | None:
    """Who archived or unarchived: ``channel_*`` events name them in `user`, while
    ``group_unarchive`` (a private channel) names them in `actor_id` (Slack's event types)."""
    found = event.get("user") or event.get("actor_id")
    return str(found) if found else None


def register(app: App, deps: Deps) -> None:
    def changed(context: BoltContext, event: dict, change: Change, *,
                actor: str | None = None, name: str | None = None) -> None:
        channel = _channel_id(event)
        if channel and deps.lifecycle.channel_changed(acting_team(context), channel, change,
                                                      actor=actor, name=name):
            deps.wake_outbox()

    @app.event("channel_archive")
    @app.event("group_archive")
    def on_archive(event: dict, context: BoltContext) -> None:
        changed(context, event, Change.ARCHIVED, actor=_actor(event))

    @app.event("channel_unarchive")
    @app.event("group_unarchive")
    def on_unarchive(event: dict, context: BoltContext) -> None:
        changed(context, event, Change.UNARCHIVED, actor=_actor(event))

    @app.event("channel_rename")
    @app.event("group_rename")
    def on_rename(event: dict, context: BoltContext) -> None:
        name = (event.get("channel") or {}).get("name")
        changed(context, event, Change.RENAMED, name=str(name) if name else None)

    @app.event("channel_left")
    @app.event("group_left")
    def on_bot_left(event: dict, context: BoltContext) -> None:
        changed(context, event, Change.REMOVED, actor=event.get("actor_id"))

    @app.event("member_left_channel")
    def on_member_left(body: dict, event: dict, context: BoltContext) -> None:
        if event.get("user") == _bot_user(body, context):
            changed(context, event, Change.REMOVED)

    @app.event("member_joined_channel")
    def on_member_joined(body: dict, event: dict, context: BoltContext) -> None:
        bot = _bot_user(body, context)
        user = event.get("user")
        if user == bot:
            changed(context, event, Change.REJOINED, actor=event.get("inviter"))
        elif user and event.get("inviter") != bot and deps.lifecycle.brief(
                acting_team(context), _channel_id(event), str(user)):
            deps.wake_outbox()

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, context: BoltContext) -> None:
        tokens = event.get("tokens") or {}
        if "bot" in tokens and not tokens.get("bot"):
            log.info("Slack revoked user tokens only; the bot token is unaffected")
            return
        _pause(deps, context, "tokens_revoked")

    @app.event("app_uninstalled")
    def on_uninstalled(context: BoltContext) -> None:
        _pause(deps, context, "app_uninstalled")


def _pause(deps: Deps, context: BoltContext, reason: str) -> None:
    """Pause the sends of the workspace (of every workspace of the org, for an org-wide
    install), keeping all data; in multi-workspace mode its installation is deleted, so its
    token is never used again and the OAuth callback of a reinstall resumes it."""
    teams = [acting_team(context)]
    if deps.installations is not None:
        teams = deps.installations.remove(context.team_id, context.enterprise_id,
                                          org_wide=bool(context.is_enterprise_install))
    for team in teams:
        if deps.lifecycle.pause(team, reason):
            log.warning("Slack says %s for team %s: sends and reminders for that team are "
                        "paused, all data is kept; reinstall the app to resume.", reason, team)
