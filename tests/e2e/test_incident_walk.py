"""A whole customer crisis, end to end, as a responder would run it in Slack."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from bot.local.sandbox import ALICE, BOB, CAROL, LEAD, LocalBot
from playbook.domain.model import PromiseStatus, Status, Step

SCRIPT = [
    ("listen the screens say &lt;Setup WiFi&gt;, all 12 of them", "Recorded the customer's words"),
    ("impact the hotel's brand manager flagged it", "impact"),
    ("driver looks bad to their people", "frustration"),
    ("cadence 30m", "every 30 min"),
    ("restate all 12 lobby screens show a Setup WiFi error", "Recorded the restatement"),
    ("confirm", "confirmed"),
    ("own", "owner"),
    ("comms <@U0BOB|bob>", "single voice"),
    ("apology we are sorry, this is on us", "apology"),
    ("option power down all 12 screens tonight risk: lobby dark until morning", "option 1"),
    ("option remote firmware fix risk: may take 2 days", "option 2"),
    ("recommend 1 removes the brand problem tonight", "recommendation"),
    ("choose 1", "chose option 1"),
    ("promise root cause in writing in 2h", "P1"),
    ("customer-channel <#{customer}|acme-shared>", "Linked"),
    ("park they want a refund for the month", "Parked"),
    ("resolve screens powered down; fix deployed to the fleet", "resolved"),
    ("kept P1", "kept"),
    ("rootcause devices kept a stale setup state after the update", "root cause"),
    ("lesson test recovery on a real lobby setup", "lesson"),
    ("action add a remote recovery mode <@U0CAROL|carol>", "A1"),
]


def run_script(bot: LocalBot, channel: str) -> None:
    for text, expect in SCRIPT:
        reply = bot.command(text.format(customer=bot.customer.id), channel=channel)
        assert reply.ok, text
        assert expect.lower() in reply.body["text"].lower(), (text, reply.body)
    # the communicator sends the resolution to the customer channel: one voice
    reply = bot.command("send It is fixed: all 12 screens are back. We'll check in tomorrow.",
                        user=BOB, channel=channel)
    assert "Sent to" in reply.body["text"], reply.body


def test_whole_incident_by_typed_commands(any_bot: LocalBot) -> None:
    """Strict Slack (rate tiers on): the bot paces its own calls, so Slack refuses none."""
    bot = any_bot
    reply = bot.command("open sev2 Acme Hotels: all lobby screens show a setup error")
    assert reply.ok and reply.elapsed < 3
    assert "INC-1" in reply.body["text"]
    channel_id = bot.incident_channel()
    channel = bot.slack.channels[channel_id]
    assert channel.name == "inc-1-acme-hotels"
    assert {ALICE, CAROL} <= channel.members, "opener and responders are invited"
    assert "INC-1" in channel.topic and "Acme Hotels" in channel.topic
    link = [e.text for e in bot.slack.ephemerals(ALICE) if f"<#{channel_id}>" in e.text]
    assert link, "the opener is told where the incident lives"
    card = bot.card(channel_id)
    assert "Listen" in json.dumps(card.blocks)

    run_script(bot, channel_id)

    # the card is current: every step done, close offered
    card = bot.card(channel_id)
    assert len(bot.slack.pins(channel_id)) == 1, "one pinned card, updated in place"
    assert "card:close" in json.dumps(card.blocks)
    # every command left a line on the channel's timeline, in order
    lines = bot.lines(channel_id)
    assert any("noted the customer's words" in t for t in lines)
    assert any("&lt;Setup WiFi&gt;" in t for t in lines), "user text stays escaped"
    assert sum("is complete" in t for t in lines) == 5
    # only the customer-ready update reached the customer channel
    customer_lines = bot.lines(bot.customer.id)
    assert len(customer_lines) == 1 and customer_lines[0].startswith("It is fixed")

    reply = bot.command("close", user=BOB, channel=channel_id)
    assert "Only the owner" in reply.body["text"]
    assert "/incident close" in reply.body["text"], "the refusal keeps what was typed"
    reply = bot.command("close", channel=channel_id)
    assert "Closed INC-1" in reply.body["text"]

    figures = bot.command("stats 7d", user=LEAD).body["text"]
    assert "1 opened, 1 closed" in figures, figures
    summary = "\n".join(bot.lines(bot.leads.id))
    assert "INC-1" in summary and "devices kept a stale setup state" in summary
    assert "they want a refund" in summary, "parked topics come back after the fix"
    charts = bot.slack.files(bot.leads.id)
    assert len(charts) == 1 and charts[0].filename == "inc-1-cadence.png", "the chart is attached"
    assert bot.runtime is not None
    stored = bot.runtime.service.get(bot.slack.team_id, 1)
    assert stored.status is Status.CLOSED
    assert [r.step for r in stored.steps] == list(Step)
    assert stored.promises[0].status is PromiseStatus.KEPT
    assert stored.customer_words == ["the screens say <Setup WiFi>, all 12 of them"]
    assert stored.communicator == BOB and stored.owner == ALICE
    assert bot.slack.ratelimited == {}, "paced: no call was sent that Slack would refuse"


def _open_view(bot: LocalBot, user: str = ALICE) -> dict:
    views = bot.slack.open_views(user)
    assert views, "a modal should be open"
    return views[-1]


def _click_card(bot: LocalBot, channel: str, what: str, user: str = ALICE) -> None:
    card = bot.card(channel)
    reply = bot.click(f"card:{what}", user=user, message_ts=card.ts, channel=channel)
    assert reply.ok, (what, reply.body)


def test_whole_incident_through_buttons_and_modals(bot: LocalBot) -> None:
    reply = bot.command("open")
    assert reply.ok
    view = _open_view(bot)
    assert view["callback_id"] == "modal:open"
    reply = bot.submit(view["id"], {"customer": "Globex", "what": "checkout is down",
                                    "severity": "sev1"})
    assert reply.ok and not reply.body, reply.body
    channel = bot.incident_channel()

    _click_card(bot, channel, "listen")
    view = _open_view(bot)
    bad = bot.submit(view["id"], {"words": "we lose sales every minute", "cadence": "soon"})
    assert bad.body["response_action"] == "errors" and "cadence" in bad.body["errors"]
    assert bot.runtime is not None
    assert bot.runtime.service.get(bot.slack.team_id, 1).customer_words == [], \
        "a refused form changes nothing and stays open"
    bot.submit(view["id"], {"words": "we lose sales every minute", "cadence": "15m",
                            "driver": "blocked from a goal"})

    _click_card(bot, channel, "restate")
    bot.submit(_open_view(bot)["id"], {"restatement": "checkout fails for every shopper",
                                       "confirmed": ["yes"]})
    _click_card(bot, channel, "own")
    bot.submit(_open_view(bot)["id"], {"owner": ALICE, "communicator": BOB})
    _click_card(bot, channel, "option")
    bot.submit(_open_view(bot)["id"], {"text": "fail over to region B", "risk": "slower"})
    _click_card(bot, channel, "choose")
    bot.submit(_open_view(bot)["id"], {"recommended": "1", "why": "fastest", "chosen": "1"})
    _click_card(bot, channel, "promise")
    due = datetime.now(UTC) + timedelta(hours=3)
    bot.submit(_open_view(bot)["id"], {"what": "status call", "due": due})
    _click_card(bot, channel, "resolve")
    bot.submit(_open_view(bot)["id"], {"resolution": "failed over; fixed region A"})
    _click_card(bot, channel, "update")
    bot.submit(_open_view(bot)["id"], {"text": "Checkout is back for everyone."})
    _click_card(bot, channel, "followup")
    bot.submit(_open_view(bot)["id"], {"rootcause": "expired certificate",
                                       "action": "alert 30 days before expiry",
                                       "action_owner": CAROL})
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    assert inc.step_record(Step.FOLLOW_UP) is not None, inc.steps
    assert inc.severity == "sev1" and inc.promises[0].due_at == due.replace(second=0,
                                                                           microsecond=0)
    _click_card(bot, channel, "close")
    assert bot.runtime.service.get(bot.slack.team_id, 1).status is Status.CLOSED
    confirmations = [e.text for e in bot.slack.ephemerals(ALICE)]
    assert any("Closed INC-1" in t for t in confirmations), confirmations


def test_open_usage_errors_keep_the_text(bot: LocalBot) -> None:
    reply = bot.command("open Acme without a colon")
    assert "/incident open" in reply.body["text"] and "Acme without a colon" in reply.body["text"]
    reply = bot.command("open : nothing before the colon")
    assert reply.body["response_type"] == "ephemeral"
    reply = bot.command("listen words")
    assert "incident's channel" in reply.body["text"]
    reply = bot.command("restat x")
    assert "restate" in reply.body["text"]
    assert not [c for c in bot.slack.channels.values() if c.name.startswith("inc-")], \
        "a refused open creates nothing"


def test_help_says_what_is_missing_next(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    text = bot.command("help", channel=channel).body["text"]
    assert text.startswith("*INC-1*") and "/incident listen" in text
    anywhere = bot.command("").body["text"]
    assert "open" in anywhere and not anywhere.startswith("*INC-")


def test_channel_name_taken_picks_another(bot: LocalBot) -> None:
    bot.slack.add_channel("inc-1-acme")
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    assert bot.slack.channels[channel].name == "inc-1-acme-2"


def test_a_channel_name_slack_refuses_falls_back_to_the_number(bot: LocalBot) -> None:
    """Slack may refuse the readable name (`invalid_name_*`): the channel is then `inc-<n>`,
    with `-2`, `-3`... if that is taken too, never the readable name again."""
    bot.slack.fail_next("conversations.create", "invalid_name_specials")
    bot.command("open Acme: down")
    assert bot.slack.channels[bot.incident_channel()].name == "inc-1"
    bot.slack.add_channel("inc-2")
    bot.slack.fail_next("conversations.create", "invalid_name_specials")
    bot.command("open Globex: down")
    names = sorted(c.name for c in bot.slack.channels.values())
    assert "inc-2-2" in names and not any(n.startswith("inc-2-globex") for n in names), names


def test_failure_after_the_ack_is_reported_and_nothing_is_lost(bot: LocalBot) -> None:
    bot.slack.fail_next("conversations.create", "restricted_action")
    reply = bot.command("open Acme: down")
    assert "INC-1" in reply.body["text"]
    assert bot.runtime is not None
    assert bot.runtime.service.get(bot.slack.team_id, 1).customer == "Acme", "recorded"
    told = [e.text for e in bot.slack.ephemerals(ALICE)] + [m.text for m in bot.slack.dms(ALICE)]
    assert any("couldn't create the incident channel" in t for t in told), told


def test_rate_limits_are_retried(bot: LocalBot) -> None:
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=1)
    bot.command("open Acme: down")
    assert bot.card(bot.incident_channel())


def test_forged_and_stale_signatures_are_refused(bot: LocalBot) -> None:
    import time
    import urllib.request

    body = "command=%2Fincident&text=list&user_id=U0ALICE&team_id=T0LOCAL&channel_id=C1"
    for headers in (bot.slack.sign(body, secret="wrong"),
                    bot.slack.sign(body, ts=int(time.time()) - 301)):
        req = urllib.request.Request(f"{bot.url}/slack/events", data=body.encode(),
                                     headers={**headers, "Content-Type":
                                              "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(req, timeout=5)
            status = 200
        except urllib.error.HTTPError as err:
            status = err.code
        assert status == 401


def test_healthz_follows_the_database(bot: LocalBot) -> None:
    import urllib.request

    from playbook import store

    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=5) as resp:
        assert resp.status == 200
    assert bot.runtime is not None
    good = bot.runtime.engine
    bot.runtime.engine = store.make_engine("sqlite:////nonexistent-dir/x.db")
    try:
        urllib.request.urlopen(f"{bot.url}/healthz", timeout=5)
        status = 200
    except urllib.error.HTTPError as err:
        status = err.code
    finally:
        bot.runtime.engine.dispose()
        bot.runtime.engine = good
    assert status == 503


def test_app_home_lists_mine_and_overdue_and_retries_are_ignored(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    bot.command("cadence 30m", channel=channel)
    bot.clock.advance(timedelta(minutes=45))
    event = {"type": "app_home_opened", "user": ALICE, "tab": "home"}
    bot.slack.event(bot.events_url, event, event_id="Ev1")
    bot.settle()
    home = json.dumps(bot.slack.home(ALICE))
    assert "INC-1" in home and "overdue" in home.lower()
    calls = bot.slack.call_count("views.publish")
    bot.slack.event(bot.events_url, event, event_id="Ev1", retry_num=1,
                    retry_reason="http_timeout")
    bot.settle()
    assert bot.slack.call_count("views.publish") == calls, "a retried event is handled once"


def test_reminders_escalate_to_owner_and_leads(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    bot.command("own", channel=channel)
    bot.command("cadence 30m", channel=channel)
    bot.advance(timedelta(minutes=26))
    assert any("is due" in t and "⏰" in t for t in bot.lines(channel)), "pre-due nudge"
    bot.advance(timedelta(minutes=5))
    due = [t for t in bot.lines(channel) if t.startswith("🔔")]
    assert len(due) == 1
    bot.advance(timedelta(minutes=16))
    assert any("🚨" in t for t in bot.lines(bot.leads.id)), "leads hear of it"
    assert any("🚨" in m.text for m in bot.slack.dms(ALICE)), "the owner is told directly"
    bot.command("update we are on it", channel=channel)
    bot.advance(timedelta(minutes=1))
    assert len([t for t in bot.lines(channel) if t.startswith("🔔")]) == 1, "no repeat"
    assert re.search(r"due .*<!date\^", json.dumps(bot.card(channel).blocks))
    assert LEAD  # the lead is configured from settings


def test_checkin_reminder_and_its_button(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    bot.command("own", channel=channel)
    bot.command("resolve fixed", channel=channel)
    bot.advance(timedelta(days=1, minutes=1), step=timedelta(hours=1))
    reminders = [m for m in bot.slack.messages(channel) if "card:checkin" in json.dumps(m.blocks)]
    assert len(reminders) == 1, bot.lines(channel)
    assert any("check in" in m.text for m in bot.slack.dms(ALICE)), "the owner is told"
    reply = bot.click("card:checkin", message_ts=reminders[0].ts, channel=channel)
    assert reply.ok
    assert bot.runtime is not None
    checkins = bot.runtime.service.get(bot.slack.team_id, 1).checkins
    assert checkins[0].done_at is not None and checkins[1].done_at is None
    assert any("Recorded check-in C1" in e.text for e in bot.slack.ephemerals(ALICE))


def test_a_refused_action_is_on_the_timeline_with_who_tried(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    bot.command("own", channel=channel)
    reply = bot.command("skip no time", user=BOB, channel=channel)
    assert "Only the owner" in reply.body["text"]
    refusals = [t for t in bot.lines(channel) if t.startswith("⛔")]
    assert len(refusals) == 1 and "<@U0BOB>" in refusals[0] and "skip" in refusals[0]


def test_the_same_form_submitted_twice_changes_nothing_twice(bot: LocalBot) -> None:
    from urllib.parse import urlencode

    bot.command("open Acme: down")
    channel = bot.incident_channel()
    _click_card(bot, channel, "promise")
    due = datetime.now(UTC) + timedelta(hours=2)
    first = bot.submit(_open_view(bot)["id"], {"what": "a status call", "due": due})
    assert first.ok
    body = urlencode({"payload": json.dumps(first.sent)})
    again = bot.slack.send_raw(bot.events_url, body, {
        **bot.slack.sign(body), "Content-Type": "application/x-www-form-urlencoded"})
    bot.settle()
    assert again.status == 200
    assert bot.runtime is not None
    assert len(bot.runtime.service.get(bot.slack.team_id, 1).promises) == 1


def test_the_promise_form_asks_slack_nothing_before_its_ack(bot: LocalBot) -> None:
    """Its date picker sends an absolute time: no users.info for the person's zone (each
    call before an ack is time the person waits, and a slow Slack would cost the ack)."""
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    _click_card(bot, channel, "promise", user=CAROL)
    before = bot.slack.call_count("users.info")
    due = datetime.now(UTC) + timedelta(hours=2)
    assert bot.submit(_open_view(bot, CAROL)["id"], {"what": "a status call", "due": due},
                      user=CAROL).ok
    assert bot.slack.call_count("users.info") == before
    assert bot.runtime is not None
    [promise] = bot.runtime.service.get(bot.slack.team_id, 1).promises
    assert promise.due_at == due.replace(second=0, microsecond=0)


def test_a_double_clicked_button_changes_nothing_twice(bot: LocalBot) -> None:
    bot.command("open Acme: down")
    channel = bot.incident_channel()
    bot.command("restate twelve screens are down", channel=channel)
    card = bot.card(channel)
    first = bot.slack.block_action(bot.events_url, user_id=ALICE, action_id="card:confirm",
                                   message_ts=card.ts, channel_id=channel)
    second = bot.slack.block_action(bot.events_url, user_id=ALICE, action_id="card:confirm",
                                    message_ts=card.ts, channel_id=channel)
    bot.settle()
    assert first.ok and second.ok
    confirmations = [t for t in bot.lines(channel) if "confirmed the restatement" in t]
    assert len(confirmations) == 1
    told = [e.text for e in bot.slack.ephemerals(ALICE)]
    assert any("already confirmed" in t for t in told), told
