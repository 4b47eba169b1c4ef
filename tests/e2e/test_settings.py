"""Per-workspace settings, over the real app and HTTP against the local Slack.

Admins (users.info `is_admin` / `is_owner`) change them from App Home's Settings form or
`/incident settings`; everyone else reads them. What changes is what the app then does: the
next escalation goes to the new leads channel, in each workspace its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.local.localslack.api_oauth import add_team_channel, as_team
from bot.local.sandbox import ALICE, BOB, CAROL, LocalBot

ADA = "U0ADA"  # a workspace admin
TEAM = "T0LOCAL"


@pytest.fixture
def bot() -> Iterator[LocalBot]:
    with LocalBot() as running:
        running.slack.add_user(ADA, "ada", admin=True)
        yield running
        assert running.slack.violations == []


def _escalate(bot: LocalBot, channel: str | None = None, user: str = ALICE) -> str:
    """Open an incident, own it, agree 30 min and let it go 16 min overdue."""
    bot.command("open Acme: lobby screens down", user=user, channel=channel)
    assert bot.runtime is not None
    room = bot.incident_channel()
    bot.command("own", channel=room, user=user)
    bot.command("cadence 30m", channel=room, user=user)
    bot.advance(timedelta(minutes=47))
    return room


def _home(bot: LocalBot, user: str) -> dict[str, Any]:
    assert bot.slack.app_home_opened(bot.events_url, user_id=user, via=bot.via).ok
    bot.settle()
    view = bot.slack.home(user)
    assert view is not None
    return view


def _has_button(view: dict[str, Any]) -> bool:
    return "settings_open" in json.dumps(view["blocks"])


def test_an_admin_moves_the_leads_channel_in_app_home_and_the_next_escalation_goes_there(
        bot: LocalBot) -> None:
    war_room = bot.slack.add_channel("war-room", members=[ADA], bot_member=True)
    view = _home(bot, ADA)
    assert _has_button(view), "admins get the Settings button"
    assert "Workspace settings" in json.dumps(view["blocks"])
    bot.slack.block_action(bot.events_url, user_id=ADA, action_id="settings_open",
                           view_id=view["id"], via=bot.via)
    bot.settle()
    [form] = bot.slack.open_views(ADA)
    reply = bot.submit(form["id"], {"leads_channel": war_room.id, "nudge_before": "10m"},
                       user=ADA)
    assert reply.ok
    [saved] = bot.slack.open_views(ADA)
    assert "Saved" in json.dumps(saved["blocks"]) and war_room.id in json.dumps(saved["blocks"])
    room = _escalate(bot)
    assert any("🚨" in t for t in bot.lines(war_room.id)), "the escalation went to the new one"
    assert not any("🚨" in t for t in bot.lines(bot.leads.id)), "not to the environment's"
    nudges = [t for t in bot.lines(room) if "⏰" in t]
    assert nudges, "the nudge came (10 min before, by the workspace's timing)"
    assert "Saved" not in "\n".join(bot.lines(room)), "a settings change is on no timeline"


def test_a_bad_value_in_the_form_is_marked_and_nothing_is_saved(bot: LocalBot) -> None:
    view = _home(bot, ADA)
    bot.slack.block_action(bot.events_url, user_id=ADA, action_id="settings_open",
                           view_id=view["id"], via=bot.via)
    bot.settle()
    [form] = bot.slack.open_views(ADA)
    reply = bot.submit(form["id"], {"escalate_after": "soon", "playbook_text": "name = ["},
                       user=ADA)
    assert reply.body["response_action"] == "errors"
    assert set(reply.body["errors"]) <= {"escalate_after", "playbook_text"}
    assert "soon" in json.dumps(reply.body["errors"])
    assert "(default)" in bot.command("settings", user=ADA).body["text"]
    assert "escalate after an update is overdue: 15 min _(default)_" in \
        bot.command("settings", user=ADA).body["text"]


def test_a_non_admin_reads_them_and_cannot_change_them(bot: LocalBot) -> None:
    view = _home(bot, BOB)
    assert "Workspace settings" in json.dumps(view["blocks"]), "everyone sees them"
    assert not _has_button(view), "the form is not offered"
    shown = bot.command("settings", user=BOB).body["text"]
    assert "leads channel" in shown and "ask one of them" in shown
    war_room = bot.slack.add_channel("war-room", members=[BOB], bot_member=True)
    refused = bot.command(f"settings leads-channel <#{war_room.id}|war-room>", user=BOB)
    assert "Only this workspace's admins" in refused.body["text"]
    # a forged submission of the admins' form, correctly signed: the service refuses it
    payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "x"},
               "user": {"id": BOB, "username": "bob", "team_id": TEAM},
               "api_app_id": bot.slack.app_id, "trigger_id": bot.slack.issue_trigger(BOB),
               "view": {"id": "V0FORGED", "type": "modal", "callback_id": "settings",
                        "team_id": TEAM, "app_id": bot.slack.app_id, "private_metadata": "",
                        "state": {"values": {"leads_channel": {"v": {
                            "type": "conversations_select",
                            "selected_conversation": war_room.id}}}}}}
    body = urlencode({"payload": json.dumps(payload)})
    reply = bot.slack.send_raw(f"{bot.url}/slack/events", body, {
        "Content-Type": "application/x-www-form-urlencoded", **bot.slack.sign(body)})
    bot.settle()
    assert reply.ok and "admins" in json.dumps(reply.body), reply.body
    _escalate(bot)
    assert any("🚨" in t for t in bot.lines(bot.leads.id)), "still the environment's channel"
    assert not bot.lines(war_room.id)


def test_admins_change_and_reset_settings_by_command(bot: LocalBot) -> None:
    war_room = bot.slack.add_channel("war-room", members=[ADA], bot_member=True)
    secret = bot.slack.add_channel("secret", members=[ADA], is_private=True)
    shown = bot.command("settings", user=ADA).body["text"]
    assert "you may change them" in shown
    checking = bot.command(f"settings leads-channel <#{secret.id}|>", user=ADA).body["text"]
    assert "Checking" in checking and "stays <#" + bot.leads.id in checking
    refused = _told_after(bot, ADA)
    assert "I can't see" in refused and "/invite @crisisbot" in refused, \
        "a channel the app can't see is refused"
    assert "still <#" + bot.leads.id in refused, "and the leads channel is the one before"
    assert "pick the channel" in bot.command("settings leads-channel #war-room",
                                             user=ADA).body["text"]
    assert "Checking" in bot.command(f"settings leads-channel <#{war_room.id}|war-room>",
                                     user=ADA).body["text"]
    assert "Saved" in _told_after(bot, ADA)
    assert "leads channel (escalations, summaries): <#" + war_room.id in \
        bot.command("settings", user=BOB).body["text"]
    assert "at least 1 min" in bot.command("settings escalate-repeat 0.5m",
                                           user=ADA).body["text"]
    assert "as a duration" in bot.command("settings nudge-before soon", user=ADA).body["text"]
    bad = bot.command("settings playbook name = [", user=ADA).body["text"]
    assert "does not parse: playbook: bad TOML syntax" in bad, "the playbook check's one line"
    assert "Saved" in bot.command("settings private on", user=ADA).body["text"]
    assert "private on" not in bot.command("settings", user=BOB).body["text"]
    assert "incident channels are private: on" in bot.command("settings", user=BOB).body["text"]
    bot.command("open Acme: down")
    room = bot.incident_channel()
    assert bot.slack.channels[room].is_private, "opened private, as the workspace chose"
    assert "the default" in bot.command("settings reset leads-channel", user=ADA).body["text"]
    assert "leads channel (escalations, summaries): <#" + bot.leads.id in \
        bot.command("settings", user=BOB).body["text"]


def _told_after(bot: LocalBot, user: str) -> str:
    """What the app told `user` after its last ack (the outbox has run: `bot.command`)."""
    told = [e for e in bot.slack.ephemerals(user)]
    assert told and told[-1].source != "ack", "nothing was said after the ack"
    return told[-1].text


def test_a_leads_channel_is_acked_before_slack_is_asked_and_the_outcome_follows(
        bot: LocalBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """`/incident settings leads-channel #…` makes no Slack call before its ack (each could
    take a lookup's timeout): the ack says it is being checked; then the outbox asks Slack
    (is the person an admin, can the app see the channel) and tells the outcome."""
    from bot.outbox import settings_check

    war_room = bot.slack.add_channel("war-room", members=[ADA], bot_member=True)
    held, real = threading.Event(), settings_check.do_leads_channel

    def after_the_test_looked(*args: Any) -> None:
        assert held.wait(30)
        real(*args)

    monkeypatch.setattr(settings_check, "do_leads_channel", after_the_test_looked)
    asked = [bot.slack.call_count(m) for m in ("users.info", "conversations.info")]
    reply = bot.slack.command(bot.events_url, f"settings leads-channel <#{war_room.id}|>",
                              user_id=ADA, channel_id=bot.general.id, via=bot.via)
    assert reply.ok and "Checking that I can see <#" + war_room.id in reply.body["text"]
    assert [bot.slack.call_count(m) for m in ("users.info", "conversations.info")] == asked, \
        "Slack was asked before the ack"
    held.set()
    bot.settle()
    after = [bot.slack.call_count(m) for m in ("users.info", "conversations.info")]
    assert all(n > before for n, before in zip(after, asked, strict=True)), \
        "then asked after it"
    assert "Saved" in _told_after(bot, ADA) and war_room.id in _told_after(bot, ADA)
    # someone known not to be an admin is refused in the ack itself, and nothing is queued
    assert "Only this workspace's admins" not in bot.command("settings", user=BOB).body["text"]
    refused = bot.command(f"settings leads-channel <#{war_room.id}|>", user=BOB)
    assert "Only this workspace's admins" in refused.body["text"]
    # someone not known yet is asked about after the ack, and refused then
    assert "Checking" in bot.command(f"settings leads-channel <#{bot.leads.id}|>",
                                     user=CAROL).body["text"]
    assert "Only this workspace's admins" in _told_after(bot, CAROL)
    assert "leads channel (escalations, summaries): <#" + war_room.id in \
        bot.command("settings", user=BOB).body["text"], "nothing changed"


def test_settings_survive_a_restart(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    with LocalBot(database_url=url) as first:
        first.slack.add_user(ADA, "ada", admin=True)
        assert "Saved" in first.command("settings nudge-before 12m", user=ADA).body["text"]
    with LocalBot(database_url=url) as second:
        shown = second.command("settings").body["text"]
        assert "nudge before an update is due: 12 min" in shown
        assert second.slack.violations == []


def test_two_workspaces_each_escalate_to_their_own_leads_channel() -> None:
    with LocalBot(oauth=True) as bot:
        one, two = "T0LOCAL", "T0TWO"
        assert bot.install(one)[0] == 200 and bot.install(two)[0] == 200
        bot.slack.add_user(ADA, "ada", admin=True)
        bot.slack.add_user("U0TESS", "tess", admin=True)
        leads_one = bot.slack.add_channel("leads-one", members=[ADA], bot_member=True)
        leads_two = add_team_channel(bot.slack, two, "leads-two", members=["U0TESS"],
                                     bot_member=True)
        room_two = add_team_channel(bot.slack, two, "support-two", members=["U0TESS"])
        assert "Checking" in bot.command(f"settings leads-channel <#{leads_one.id}|>",
                                         user=ADA).body["text"]
        assert "Saved" in _told_after(bot, ADA)
        with as_team(bot.slack, two):
            assert "Checking" in bot.command(f"settings leads-channel <#{leads_two.id}|>",
                                             user="U0TESS", channel=room_two.id).body["text"]
            assert "Saved" in _told_after(bot, "U0TESS")
            assert "Saved" in bot.command("settings escalate-after 5m", user="U0TESS",
                                          channel=room_two.id).body["text"]
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        with as_team(bot.slack, two):
            bot.command("open Globex: checkout failing", user="U0TESS", channel=room_two.id)
        inc_one, inc_two = bot.runtime.service.get(one, 1), bot.runtime.service.get(two, 1)
        assert inc_one.channel_id and inc_two.channel_id
        bot.command("own", channel=inc_one.channel_id)
        bot.command("cadence 30m", channel=inc_one.channel_id)
        with as_team(bot.slack, two):
            bot.command("own", user="U0TESS", channel=inc_two.channel_id)
            bot.command("cadence 30m", user="U0TESS", channel=inc_two.channel_id)
        bot.advance(timedelta(minutes=37))
        assert any("🚨" in t for t in bot.lines(leads_two.id)), "two: 5 min after due"
        assert not any("🚨" in t for t in bot.lines(leads_one.id)), "one waits 15 min"
        bot.advance(timedelta(minutes=10))
        one_lines, two_lines = bot.lines(leads_one.id), bot.lines(leads_two.id)
        assert any("🚨" in t and "Acme" in t for t in one_lines)
        assert not any("Globex" in t for t in one_lines), "each escalation in its own channel"
        assert not any("Acme" in t for t in two_lines)
        assert bot.slack.violations == []
