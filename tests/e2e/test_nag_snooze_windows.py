"""Owner nags, snoozes, cadence windows and stale nudges: the real app over HTTP, local Slack.

Time passes through LocalBot's clock (`advance` fires what comes due as the scheduler would),
so days pass in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.local.sandbox import ALICE, BOB, LEAD, LocalBot

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def no_leads_channel() -> Iterator[LocalBot]:
    with LocalBot(settings={"leads_channel": None}) as bot:
        yield bot
        assert bot.slack.violations == []


def nags(bot: LocalBot, channel: str) -> list[str]:
    return [t for t in bot.lines(channel) if "Nobody owns INC-1" in t]


def with_action(bot: LocalBot, channel: str, action_id: str) -> list:
    return [m for m in bot.slack.messages(channel) if action_id in json.dumps(m.blocks)]


def open_incident(bot: LocalBot) -> str:
    reply = bot.command("open sev2 Acme Hotels: every lobby screen shows a setup error")
    assert reply.ok
    return bot.incident_channel()


# --- item 2: nobody owns it yet -----------------------------------------------------------------


def test_nags_grow_apart_then_the_leads_hear_and_an_owner_stops_them(bot: LocalBot) -> None:
    channel = open_incident(bot)
    bot.advance(timedelta(minutes=4))
    assert nags(bot, channel) == []
    bot.advance(timedelta(minutes=1))
    assert len(nags(bot, channel)) == 1 and "1 of 3" in nags(bot, channel)[0]
    bot.advance(timedelta(minutes=5))
    assert len(nags(bot, channel)) == 2, "the second nag comes 10 minutes after open"
    assert not [t for t in bot.lines(bot.leads.id) if "Nobody owns" in t]
    bot.advance(timedelta(minutes=10))
    assert len(nags(bot, channel)) == 3
    assert "told the leads channel" in nags(bot, channel)[-1]
    leads = [t for t in bot.lines(bot.leads.id) if "Nobody owns INC-1" in t]
    assert len(leads) == 1, "the leads channel hears it once, after the last nag"
    nag_messages = with_action(bot, channel, "card:own")
    assert nag_messages and "card:snooze15" in json.dumps(nag_messages[-1].blocks)
    bot.advance(timedelta(minutes=40), step=timedelta(minutes=5))
    assert len(nags(bot, channel)) == 3, "the sequence ends after the last nag"


def test_taking_ownership_ends_the_nags(bot: LocalBot) -> None:
    channel = open_incident(bot)
    bot.advance(timedelta(minutes=6))
    assert len(nags(bot, channel)) == 1
    nag = with_action(bot, channel, "card:own")[-1]
    reply = bot.click("card:own", message_ts=nag.ts, channel=channel, user=BOB)
    assert reply.ok
    view = bot.slack.open_views(BOB)[-1]
    bot.submit(view["id"], {"owner": BOB}, user=BOB)
    bot.advance(timedelta(minutes=30), step=timedelta(minutes=2))
    assert len(nags(bot, channel)) == 1
    assert not [t for t in bot.lines(bot.leads.id) if "Nobody owns" in t]


def test_without_a_leads_channel_the_last_nag_says_so(no_leads_channel: LocalBot) -> None:
    bot = no_leads_channel
    channel = open_incident(bot)
    bot.advance(timedelta(minutes=21), step=timedelta(minutes=5))
    assert "CRISISBOT_LEADS_CHANNEL" in nags(bot, channel)[-1]
    assert not [m for m in bot.slack.dms(LEAD) if "Nobody owns" in m.text]


# --- item 3: snooze ----------------------------------------------------------------------------


def test_snooze_from_the_reminder_button_asks_why_and_the_reminder_comes_back(
        bot: LocalBot) -> None:
    channel = open_incident(bot)
    bot.command("own", channel=channel)
    bot.command("cadence 30m", channel=channel)
    bot.advance(timedelta(minutes=31))
    due = [m for m in bot.slack.messages(channel) if m.text.startswith("🔔")]
    assert len(due) == 1 and "card:snooze30" in json.dumps(due[0].blocks)

    assert bot.click("card:snooze30", message_ts=due[0].ts, channel=channel, user=BOB).ok
    view = bot.slack.open_views(BOB)[-1]
    assert view["callback_id"] == "modal:snooze"
    refused = bot.submit(view["id"], {"reason": "   "}, user=BOB)
    assert refused.body["response_action"] == "errors" and "reason" in refused.body["errors"]
    assert "why" in refused.body["errors"]["reason"].lower()
    ok = bot.submit(view["id"], {"reason": "on a call with their <IT> lead"}, user=BOB)
    assert ok.ok and not ok.body
    told = [e.text for e in bot.slack.ephemerals(BOB)] + [m.text for m in bot.slack.dms(BOB)]
    assert any("Snoozed the reminders" in t for t in told), told
    line = [t for t in bot.lines(channel) if t.startswith("💤")]
    assert len(line) == 1 and "<@U0BOB>" in line[0] and "&lt;IT&gt;" in line[0]
    assert "Reminders snoozed until" in json.dumps(bot.card(channel).blocks)

    bot.advance(timedelta(minutes=29))  # the escalation at 45 min fell inside the snooze
    assert not [t for t in bot.lines(bot.leads.id) if "🚨" in t]
    assert not [t for t in bot.lines(channel) if "snooze" in t and "is over" in t]
    bot.advance(timedelta(minutes=2))
    back = [t for t in bot.lines(channel) if "is over" in t]
    assert len(back) == 1 and "customer update is overdue" in back[0]
    assert "on a call with their &lt;IT&gt; lead" in back[0]
    bot.advance(timedelta(minutes=15))
    assert [t for t in bot.lines(bot.leads.id) if "🚨" in t], "escalations resume afterwards"

    bot.command("summary", channel=channel)
    summary = "\n".join(bot.lines(channel))
    assert "<@U0BOB> snoozed the reminders" in summary and "30 min" in summary


def test_typed_snooze_and_its_refusals(bot: LocalBot) -> None:
    channel = open_incident(bot)
    bot.advance(timedelta(minutes=5))
    for typed, says in (("snooze soon", "how long"), ("snooze 30m", "why"),
                        ("snooze 6h long meeting", "4 h")):
        text = bot.command(typed, channel=channel).body["text"]
        assert says in text and "/incident snooze" in text, (typed, text)
    reply = bot.command("snooze 15m finding the right owner", channel=channel)
    assert "Snoozed the reminders about the missing owner" in reply.body["text"]
    bot.advance(timedelta(minutes=14))
    assert len(nags(bot, channel)) == 1, "the 10-minute nag fell inside the snooze"
    bot.advance(timedelta(minutes=2))
    back = [t for t in bot.lines(channel) if "is over" in t]
    assert len(back) == 1 and "Nobody owns INC-1" in back[0]
    assert bot.runtime is not None
    assert bot.runtime.service.get(bot.slack.team_id, 1).snoozes[0].reason == \
        "finding the right owner"


# --- item 5: cadence windows ---------------------------------------------------------------------


def move_to(bot: LocalBot, when: datetime) -> None:
    assert when > bot.clock()
    bot.clock.advance(when - bot.clock())


def next_friday(bot: LocalBot, hour: int, minute: int) -> datetime:
    local = bot.clock().astimezone(PARIS) + timedelta(days=1)
    while local.weekday() != 4:
        local += timedelta(days=1)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0).astimezone(UTC)


def test_a_cadence_window_pauses_reminders_over_the_weekend(bot: LocalBot) -> None:
    friday = next_friday(bot, 17, 40)
    move_to(bot, friday)
    channel = open_incident(bot)
    bot.command("own", channel=channel)
    reply = bot.command("cadence 1h weekdays 9-18 Europe/Paris", channel=channel)
    assert "weekdays 09:00-18:00 Europe/Paris" in reply.body["text"]
    bad = bot.command("cadence 1h weekdays 9-18 Mars/Olympus", channel=channel)
    assert "time zone" in bad.body["text"] and "Europe/Paris" in bad.body["text"]

    monday_0900 = (friday.astimezone(PARIS) + timedelta(days=3)).replace(hour=9, minute=0)
    opens = int(monday_0900.timestamp())
    card = json.dumps(bot.card(channel).blocks)
    assert f"reminders pause until the window opens <!date^{opens}^" in card
    bot.advance(timedelta(hours=1))  # Friday 18:40: outside their hours
    bot.command("park they ask about a discount", channel=channel)
    card = json.dumps(bot.card(channel).blocks)
    assert f"reminders resume when their window opens <!date^{opens}^" in card
    bot.advance(monday_0900.astimezone(UTC) - bot.clock() - timedelta(minutes=1),
                step=timedelta(hours=4))
    assert not [t for t in bot.lines(channel) if t.startswith(("⏰ The next", "🔔", "🚨"))], \
        "nothing chases the team while the customer's office is closed"
    bot.advance(timedelta(minutes=42))  # Monday 09:41: 40 minutes of their hours have passed
    assert [t for t in bot.lines(channel) if t.startswith("⏰ The next")], "the nudge at 09:35"
    assert len([t for t in bot.lines(channel) if t.startswith("🔔")]) == 1, "due at 09:40"


def test_the_listen_form_sets_a_window(bot: LocalBot) -> None:
    channel = open_incident(bot)
    card = bot.card(channel)
    assert bot.click("card:listen", message_ts=card.ts, channel=channel).ok
    view = bot.slack.open_views(ALICE)[-1]
    bad = bot.submit(view["id"], {"words": "it is all down", "cadence": "1h",
                                  "window_hours": "9-18", "window_zone": "Nowhere/Land"})
    assert bad.body["response_action"] == "errors" and "window_hours" in bad.body["errors"]
    ok = bot.submit(view["id"], {"words": "it is all down", "cadence": "1h",
                                 "window_hours": "9-18", "window_days": "weekdays",
                                 "window_zone": ""})
    assert ok.ok and not ok.body
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    assert inc.window is not None and inc.window.spec == "weekdays 09:00-18:00 Europe/Paris", \
        "an empty zone means the person's own Slack zone"


# --- item 6: stale incidents ---------------------------------------------------------------------


def test_a_resolved_incident_left_open_nudges_the_owner_once_per_period(bot: LocalBot) -> None:
    channel = open_incident(bot)
    bot.command("own", channel=channel)
    bot.command("resolve restarted the screens", channel=channel)
    bot.command("update told them it is fixed", channel=channel)
    bot.advance(timedelta(days=3) - timedelta(hours=1), step=timedelta(hours=6))
    assert not [m for m in bot.slack.dms(ALICE) if "no activity" in m.text]
    bot.advance(timedelta(hours=5), step=timedelta(hours=5))
    stale = [m.text for m in bot.slack.dms(ALICE) if "no activity" in m.text]
    assert len(stale) == 1, stale
    assert "/incident rootcause" in stale[0] and "/incident close" in stale[0]
    assert [t for t in bot.lines(channel) if t.startswith("💤 INC-1")]
    bot.advance(timedelta(days=3), step=timedelta(days=3))
    assert len([m for m in bot.slack.dms(ALICE) if "no activity" in m.text]) == 2, \
        "again after another full period with nothing done"
