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

from slack_bolt import App

from bot.listeners.deps import Deps
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


def register(app: App, deps: Deps) -> None:
    def changed(body: dict, change: Change, *, actor: str | None = None,
                name: str | None = None) -> None:
        event = body.get("event") or {}
        channel = _channel_id(event)
        if channel and deps.lifecycle.channel_changed(body.get("team_id", ""), channel, change,
                                                      actor=actor, name=name):
            deps.wake_outbox()

    @app.event("channel_archive")
    @app.event("group_archive")
    def on_archive(body: dict, event: dict) -> None:
        changed(body, Change.ARCHIVED, actor=event.get("user"))

    @app.event("channel_unarchive")
    @app.event("group_unarchive")
    def on_unarchive(body: dict, event: dict) -> None:
        # channel_unarchive names the person in `user`, group_unarchive in `actor_id`.
        changed(body, Change.UNARCHIVED, actor=event.get("user") or event.get("actor_id"))

    @app.event("channel_rename")
    @app.event("group_rename")
    def on_rename(body: dict, event: dict) -> None:
        name = (event.get("channel") or {}).get("name")
        changed(body, Change.RENAMED, name=str(name) if name else None)

    @app.event("channel_left")
    @app.event("group_left")
    def on_bot_left(body: dict, event: dict) -> None:
        changed(body, Change.REMOVED, actor=event.get("actor_id"))

    @app.event("member_left_channel")
    def on_member_left(body: dict, event: dict, context: Any) -> None:
        if event.get("user") == _bot_user(body, context):
            changed(body, Change.REMOVED)

    @app.event("member_joined_channel")
    def on_member_joined(body: dict, event: dict, context: Any) -> None:
        bot = _bot_user(body, context)
        user = event.get("user")
        if user == bot:
            changed(body, Change.REJOINED, actor=event.get("inviter"))
        elif user and event.get("inviter") != bot and deps.lifecycle.brief(
                body.get("team_id", ""), _channel_id(event), str(user)):
            deps.wake_outbox()

    @app.event("tokens_revoked")
    def on_tokens_revoked(body: dict, event: dict) -> None:
        tokens = event.get("tokens") or {}
        if "bot" in tokens and not tokens.get("bot"):
            log.info("Slack revoked user tokens only; the bot token is unaffected")
            return
        _pause(deps, body.get("team_id", ""), "tokens_revoked")

    @app.event("app_uninstalled")
    def on_uninstalled(body: dict) -> None:
        _pause(deps, body.get("team_id", ""), "app_uninstalled")


def _pause(deps: Deps, team: str, reason: str) -> None:
    if deps.lifecycle.pause(team, reason):
        log.warning("Slack says %s for team %s: sends and reminders for that team are paused, "
                    "all data is kept; reinstall the app to resume.", reason, team)
