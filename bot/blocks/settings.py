"""A workspace's settings on App Home (read by everyone; a Settings button for its admins) and
the admins' Settings form.

Pure: the settings in force come in (`playbook.domain.workspace_settings.WorkspaceSettings`,
with the keys the workspace chose), dicts go out. Each input's block_id is the setting's field
name and its element's action_id "v", as in every form of the bot (bot/listeners/forms.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConversationSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.blocks.basic_components import Option
from slack_sdk.models.views import View

from bot.blocks.kit import context, plain, section, sections, view_dict
from bot.blocks.modals import input_block, text_input
from playbook.domain import workspace_settings as ws
from playbook.domain.text import fmt_duration

__all__ = ["OPEN_ACTION", "PRIVATE", "SETTINGS_CALLBACK", "saved_view", "settings_home_blocks",
           "settings_modal"]

SETTINGS_CALLBACK = "settings"
OPEN_ACTION = "settings_open"
GROUPS_MAX = 500
DURATION_MAX = 60

PRIVATE = "private"


def _private(initial: bool) -> CheckboxesElement:
    yes = Option(value=PRIVATE, text=plain("Open incident channels as private", 75))
    return CheckboxesElement(action_id="v", options=[yes],
                             initial_options=[yes] if initial else None)


def settings_home_blocks(settings: ws.WorkspaceSettings, stored: Mapping[str, Any], *,
                         can_edit: bool, playbook_name: str) -> list[Block]:
    """The Home tab's settings: a summary everyone sees, the Settings button only for admins."""
    lines = [f"• {what}: {ws.fmt_value(field, getattr(settings, field), playbook_name)}"
             f"{'' if field in stored else ' _(default)_'}"
             for field, what in ws.KEYS.values()]
    blocks: list[Block] = list(sections(["*Workspace settings*", *lines]))
    if can_edit:
        blocks.append(ActionsBlock(block_id="settings", elements=[ButtonElement(
            text=plain("Settings", 75), action_id=OPEN_ACTION, value="open")]))
    else:
        blocks.append(context("Workspace admins and owners can change these."))
    return blocks


def _members(ids: tuple[str, ...], groups: bool) -> list[str]:
    return [m for m in ids if m.startswith("S") == groups]


def settings_modal(settings: ws.WorkspaceSettings, stored: Mapping[str, Any],
                   default_playbook: str) -> dict[str, Any]:
    """The admins' form. Left empty, a field means "the default" (the environment's)."""
    lead_users, lead_groups = _members(settings.leads, False), _members(settings.leads, True)
    responders, responder_groups = (_members(settings.responders, False),
                                    _members(settings.responders, True))
    own_playbook = settings.playbook_text if "playbook_text" in stored else None
    blocks: list[Block] = [
        section("These settings apply to this workspace only; a field left empty takes the "
                "default the app was deployed with. Changes apply to incidents opened from "
                "now on, and reminder times to open incidents too."),
        input_block("leads", "Leads", UserMultiSelectElement(
            action_id="v", initial_users=lead_users or None,
            placeholder=plain("People who lead", 150)), optional=True,
            hint="They may skip steps and close incidents, and hear escalations."),
        input_block("lead_groups", "Lead user groups", text_input(
            initial=", ".join(lead_groups) or None, max_length=GROUPS_MAX,
            placeholder="S0614TZR7, S0615G0KT"), optional=True,
            hint="User-group IDs (S…), comma-separated: every member leads."),
        input_block("leads_channel", "Leads channel", ConversationSelectElement(
            action_id="v", initial_conversation=settings.leads_channel,
            placeholder=plain("Where escalations go", 150)), optional=True,
            hint="Invite the app to it. To have none: /incident settings leads-channel none"),
        input_block("responders", "Responders", UserMultiSelectElement(
            action_id="v", initial_users=responders or None,
            placeholder=plain("Invited to every new incident", 150)), optional=True),
        input_block("responder_groups", "Responder user groups", text_input(
            initial=", ".join(responder_groups) or None, max_length=GROUPS_MAX,
            placeholder="S0614TZR7"), optional=True, hint="User-group IDs (S…)."),
        input_block("private", "Incident channels", _private(settings.private_channels),
                    optional=True),
        input_block("nudge_before", "Nudge before an update is due", text_input(
            initial=fmt_duration(settings.nudge_before), max_length=DURATION_MAX,
            placeholder="5m"), optional=True),
        input_block("escalate_after", "Escalate after it is overdue", text_input(
            initial=fmt_duration(settings.escalate_after), max_length=DURATION_MAX,
            placeholder="15m"), optional=True),
        input_block("escalate_repeat", "Repeat the escalation every", text_input(
            initial=fmt_duration(settings.escalate_repeat), max_length=DURATION_MAX,
            placeholder="30m"), optional=True),
        input_block("checkins", "Check-ins after resolution", text_input(
            initial=ws.fmt_value("checkins", settings.checkins), max_length=200,
            placeholder="1d, 7d (or none)"), optional=True),
        input_block("leader_call", "Leader call (top severity)", text_input(
            initial=ws.fmt_value("leader_call", settings.leader_call), max_length=DURATION_MAX,
            placeholder="30m (or off)"), optional=True),
        input_block("playbook_text", "Playbook file", text_input(
            multiline=True, initial=own_playbook, max_length=ws.PLAYBOOK_MAX,
            placeholder="Empty: the default playbook"), optional=True,
            hint=f"TOML, as `crisisbot playbook show` prints it (empty: {default_playbook}). "
                 f"At most {ws.PLAYBOOK_MAX} characters here: a longer file goes in a file on "
                 "the server, named by CRISISBOT_PLAYBOOK."),
    ]
    view = View(type="modal", callback_id=SETTINGS_CALLBACK,
                title=plain("Workspace settings", 24), submit=plain("Save", 24),
                close=plain("Cancel", 24), blocks=blocks)
    return view_dict(view)


def saved_view(reply: str) -> dict[str, Any]:
    """What the form becomes once saved: the confirmation (mrkdwn, values escaped)."""
    view = View(type="modal", title=plain("Workspace settings", 24),
                close=plain("Done", 24), blocks=[section(reply)])
    return view_dict(view)
