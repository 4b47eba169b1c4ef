"""Each workspace's requests act on its own incidents only, on every surface.

Two directions, over the real app and HTTP with correctly signed requests:

- a request for another workspace (``team_id`` T0EVIL; the bot's token is T0LOCAL's) naming
  this workspace's channel, card, form or message is turned away before anything runs: no
  change, no Slack call;
- this workspace's own people naming an incident another workspace owns (its channel, its id
  in a button or a form) find nothing: the services, not only the listeners, refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.local.localslack import Reply
from bot.local.sandbox import ALICE, LocalBot
from playbook import store
from playbook.domain.model import Incident, TimelineEntry

EVIL = "T0EVIL"


@pytest.fixture
def bot() -> Iterator[LocalBot]:
    with LocalBot() as running:
        running.command("open Acme: lobby screens down")
        yield running
        assert running.slack.violations == []


def _send(bot: LocalBot, kind: str, payload: dict[str, Any]) -> Reply:
    """A correctly signed request of `kind` (command, event, or an interaction)."""
    if kind == "command":
        body, ctype = urlencode(payload), "application/x-www-form-urlencoded"
    elif kind == "event":
        body, ctype = json.dumps(payload), "application/json"
    else:
        body = urlencode({"payload": json.dumps(payload)})
        ctype = "application/x-www-form-urlencoded"
    reply = bot.slack.send_raw(f"{bot.url}/slack/events", body,
                               {"Content-Type": ctype, **bot.slack.sign(body)})
    bot.settle()
    return reply


def _requests(bot: LocalBot, team: str, incident_id: int, channel: str
              ) -> dict[str, tuple[str, dict[str, Any]]]:
    """One request per surface, from `team`, aimed at `incident_id` / `channel`."""
    user = {"id": ALICE, "username": "alice", "team_id": team}
    base = {"team": {"id": team, "domain": "x"}, "user": user,
            "trigger_id": bot.slack.issue_trigger(ALICE), "api_app_id": bot.slack.app_id}
    message = bot.slack.add_message(channel, ALICE, "the customer says it is all down")
    capture_meta = json.dumps({"channel_id": channel, "ts": message.ts, "author": ALICE,
                               "author_name": "alice",
                               "permalink": "https://x.slack.com/archives/C1/p1"})
    return {
        "command": ("command", {
            "command": "/incident", "text": "listen forged words", "team_id": team,
            "channel_id": channel, "user_id": ALICE, "api_app_id": bot.slack.app_id,
            "trigger_id": bot.slack.issue_trigger(ALICE),
            "response_url": bot.slack.issue_response_url("command", user_id=ALICE,
                                                         channel_id=channel)}),
        "button": ("interaction", {
            **base, "type": "block_actions", "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel},
            "actions": [{"action_id": "card:close", "value": str(incident_id),
                         "type": "button", "block_id": "b", "action_ts": "1.1"}]}),
        "form": ("interaction", {
            **base, "type": "view_submission",
            "view": {"id": "VFORGED", "hash": "1.a", "type": "modal", "team_id": team,
                     "callback_id": "modal:update",
                     "private_metadata": json.dumps({"incident_id": incident_id}),
                     "state": {"values": {"text": {"v": {"type": "plain_text_input",
                                                         "value": "forged update"}}}}}}),
        "shortcut": ("interaction", {
            **base, "type": "view_submission",
            "view": {"id": "VFORGED2", "hash": "1.b", "type": "modal", "team_id": team,
                     "callback_id": "shortcut:capture", "private_metadata": capture_meta,
                     "state": {"values": {
                         "incident": {"v": {"type": "static_select", "selected_option": {
                             "value": str(incident_id)}}},
                         "kind": {"v": {"type": "radio_buttons", "selected_option": {
                             "value": "note"}}},
                         "text": {"v": {"type": "plain_text_input", "value": "forged"}}}}}}),
        "event": ("event", {
            "type": "event_callback", "team_id": team, "api_app_id": bot.slack.app_id,
            "event_id": f"Ev{team}{incident_id}{channel}",
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True,
                                "enterprise_id": None, "is_enterprise_install": False}],
            "event": {"type": "reaction_added", "user": ALICE, "reaction": "pushpin",
                      "item": {"type": "message", "channel": channel, "ts": message.ts}}}),
    }


def _state(bot: LocalBot, incident_id: int) -> tuple[Any, ...]:
    assert bot.runtime is not None
    svc = bot.runtime.service
    with svc.sessions() as session:
        rows = session.query(store.OutboxRow).count()
    return svc.get_by_id(incident_id), svc.timeline(incident_id), rows


SURFACES = ["command", "button", "form", "shortcut", "event"]


@pytest.mark.parametrize("surface", SURFACES)
def test_a_request_for_another_workspace_does_nothing_here(bot: LocalBot,
                                                           surface: str) -> None:
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    assert inc.id is not None and inc.channel_id is not None
    kind, payload = _requests(bot, EVIL, inc.id, inc.channel_id)[surface]
    before = _state(bot, inc.id)
    calls = len(bot.slack.calls)
    reply = _send(bot, kind, payload)
    assert reply.status == 200
    assert _state(bot, inc.id) == before, "nothing recorded for the stranger"
    assert bot.slack.calls[calls:] == [], "no Slack call for the stranger"
    if surface == "command":
        assert "another Slack workspace" in reply.body["text"]
    else:
        assert not reply.body, "an empty ack: nothing to show"


def _foreign_incident(bot: LocalBot) -> tuple[int, str]:
    """An incident workspace T0EVIL owns, in a channel this workspace's people are in (as a
    database shared by installs, or a stale id, would present it)."""
    assert bot.runtime is not None
    chan = bot.slack.add_channel("evil-incident", members=[ALICE], bot_member=True)
    now = datetime.now(UTC)
    with bot.runtime.service.sessions.begin() as session:
        inc = store.add_incident(session, Incident(EVIL, 0, "Evil Corp", "down", "U0EVIL",
                                                   now, channel_id=chan.id))
        assert inc.id is not None
        store.append_timeline(session, inc.id, EVIL,
                              [TimelineEntry(now, "open", "opened", "U0EVIL")])
    return inc.id, chan.id


@pytest.mark.parametrize("surface", SURFACES)
def test_this_workspace_cannot_act_on_another_workspaces_incident(bot: LocalBot,
                                                                  surface: str) -> None:
    foreign_id, channel = _foreign_incident(bot)
    kind, payload = _requests(bot, bot.slack.team_id, foreign_id, channel)[surface]
    before = _state(bot, foreign_id)[:2]
    reply = _send(bot, kind, payload)
    assert reply.status == 200
    assert _state(bot, foreign_id)[:2] == before, "the other workspace's incident is untouched"
    told = [e.text for e in bot.slack.ephemerals(ALICE)]
    if surface == "command":
        assert "works in an incident's channel" in reply.body["text"]
    elif surface == "button":
        assert any("can't find that incident" in t for t in told), told
    elif surface == "form":
        assert "can't find that incident" in json.dumps(reply.body["errors"])
    elif surface == "shortcut":
        assert reply.body["errors"] == {"incident": "Pick an incident."}
    assert not any("Evil" in t for t in told), "nothing of theirs is shown"
