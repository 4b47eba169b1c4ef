"""A workspace's settings: `/incident settings …`, the Settings button on App Home and the
admins' form.

Everyone may read them; only workspace admins and owners (users.info `is_admin` /
`is_owner`, looked up per workspace: bot/listeners/deps.py `People.is_admin`) may change them,
and the service checks that again (playbook/services/settings.py), so a forged form
submission changes nothing. Saving is one transaction; the ack confirms it (an ephemeral
reply, or the form turning into the confirmation). After the ack the admin's Home is
refreshed and, when reminder timings moved, the workspace's open incidents are planned again.
`/incident settings leads-channel #channel` is the exception: its Slack checks run after the
ack (`ask_leads_channel`), which says they are running, and the outcome follows ephemerally.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.settings import (
    OPEN_ACTION,
    PRIVATE,
    SETTINGS_CALLBACK,
    saved_view,
    settings_modal,
)
from bot.listeners.deps import Deps, FormRequest, acting_team
from bot.listeners.errors import ephemeral, inline_error
from bot.slack.errors import code_of
from bot.slack.installations import acting_for
from playbook.domain import workspace_settings as ws
from playbook.domain.errors import PermissionDenied
from playbook.domain.text import channel_link
from playbook.services.outcomes import Origin
from playbook.services.settings import NOT_ADMIN, Changed, Editor

log = logging.getLogger(__name__)

# form fields that are read together into one setting
_TEXT_FIELDS = ("nudge_before", "escalate_after", "escalate_repeat", "checkins",
                "leader_call", "playbook_text")


def command(deps: Deps, ack: Ack, body: dict, client: WebClient, arg: str) -> None:
    """`/incident settings` shows them; `… <key> <value>` and `… reset <key>` change one."""
    team, user = body["team_id"], body["user_id"]
    change = ws.parse_command(arg)
    if change.key is None:
        found = deps.service.workspaces.get(team)
        ack(ephemeral(ws.describe(found.settings, found.stored,
                                  can_edit=deps.people.is_admin(user, team) is True,
                                  playbook_name=found.playbook.name)))
        return
    text = None if change.reset else change.text
    if change.key == "leads-channel" and text:
        channel = ws.parse_value("leads-channel", text)
        if channel is not None:
            ask_leads_channel(deps, ack, body, channel)
            return
    editor = Editor(user, deps.people.is_admin(user, team))
    changed = deps.service.workspaces.change(team, editor, {change.key: text})
    ack(ephemeral(changed.reply))
    after_change(deps, team, user, changed)


def ask_leads_channel(deps: Deps, ack: Ack, body: dict, channel: str) -> None:
    """`/incident settings leads-channel #channel`: recorded as asked for, acked, then checked
    with Slack and set, or refused, by the outbox (bot/outbox/settings_check.py), which tells
    the admin here. The ack waits on no Slack call: whether they are an admin is taken from
    what is cached (a known non-admin is refused at once), else asked after the ack too."""
    team, user = body["team_id"], body["user_id"]
    editor = Editor(user, deps.people.known_admin(user, team))
    in_force = deps.service.workspaces.get(team).settings.leads_channel
    deps.service.workspaces.ask_leads_channel(
        team, editor, channel,
        origin=Origin(channel_id=body.get("channel_id"), response_url=body.get("response_url")))
    ack(ephemeral(f"Checking that I can see {channel_link(channel)}; I'll tell you here in a "
                  "moment. Until then the leads channel stays "
                  f"{ws.fmt_value('leads_channel', in_force)}."))
    deps.wake_outbox()


def check_channel(deps: Deps, team: str, channel: str | None) -> None:
    """The admins' form: a leads channel the app can't see would swallow every escalation, so
    it is refused inline (a form's errors go in its ack). Only Slack's own "not found" refuses;
    a slow or busy Slack lets the change through."""
    if channel is None:
        return
    try:
        with acting_for(team):
            deps.people.client.conversations_info(channel=channel)
    except SlackApiError as err:
        if code_of(err) in ("channel_not_found", "not_in_channel"):
            raise ws.SettingsError(
                "leads-channel", f"I can't see {channel_link(channel)}: invite me to it first "
                "(`/invite @crisisbot` in the channel), or pick another.") from None
        log.info("could not check channel %s: %s", channel, code_of(err))
    except (SlackClientError, OSError) as err:
        log.info("could not check channel %s: %s", channel, err)


def after_change(deps: Deps, team: str, user: str, changed: Changed) -> None:
    """After the ack: the admin's Home shows the new settings; moved timings move reminders."""
    if not changed.fields:
        return
    deps.settings_changed(team)  # first: whoever plans the reminders below must not use old
    deps.service.enqueue_home(team, user)
    deps.wake_outbox()
    if changed.timings:  # (a read of every active incident: not on the answer's way)
        def replan() -> None:
            for inc in deps.service.reminders.active_incidents():
                if inc.team_id == team:
                    deps.schedule(inc)
        deps.later(replan)


def form_values(state: dict[str, Any]) -> dict[str, str | None]:
    """The form's fields as the text of each setting (None: empty, so the default)."""
    def element(block: str) -> dict[str, Any]:
        return (state.get(block) or {}).get("v") or {}

    def members(users: str, groups: str) -> str | None:
        picked = list(element(users).get("selected_users") or [])
        typed = (element(groups).get("value") or "").strip()
        text = " ".join([*picked, typed]).strip()
        return text or None

    values: dict[str, str | None] = {
        "leads": members("leads", "lead_groups"),
        "leads-channel": element("leads_channel").get("selected_conversation"),
        "responders": members("responders", "responder_groups"),
        "private": "on" if any(o.get("value") == PRIVATE for o in
                               element("private").get("selected_options") or []) else "off",
    }
    for field in _TEXT_FIELDS:
        typed = (element(field).get("value") or "").strip()
        values[ws.key_of(field)] = typed or None
    return values


def register(app: App, deps: Deps) -> None:
    @app.action(OPEN_ACTION)
    def open_settings(ack: Ack, body: dict, context: BoltContext) -> None:
        team, user = acting_team(context), body["user"]["id"]
        if deps.people.is_admin(user, team) is not True:
            raise PermissionDenied(NOT_ADMIN)
        found = deps.service.workspaces.get(team)
        default = deps.service.playbooks.current.name
        with acting_for(team):  # the form opens after the ack, with this workspace's token
            deps.open_form(FormRequest(
                body["trigger_id"], settings_modal(found.settings, found.stored, default),
                user, None, instead="Or type `/incident settings`."))
        ack()

    @app.view(SETTINGS_CALLBACK)
    def save_settings(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        team, user = acting_team(context), body["user"]["id"]
        editor = Editor(user, deps.people.is_admin(user, team))
        values = form_values((view.get("state") or {}).get("values") or {})
        try:
            if editor.is_admin:
                check_channel(deps, team, values["leads-channel"])
            changed = deps.service.workspaces.change(team, editor, values)
        except ws.SettingsError as err:
            block = ws.KEYS[err.key][0] if err.key in ws.KEYS else "leads"
            ack(response_action="errors", errors={block: inline_error(err.message)})
            return
        ack(response_action="update", view=saved_view(changed.reply))
        after_change(deps, team, user, changed)
