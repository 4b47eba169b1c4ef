"""Slack's rate tiers against the strict local Slack: the bot paces its own calls
(bot/slack/pacing.py, bot/outbox/paced.py) so Slack has nothing to refuse, people and reminders
go before card refreshes, and GET /metrics shows what happened.

The local Slack's rate buckets refill by the bot's clock (bot/local/sandbox.py), so `drain`
moves time over the waits instead of sleeping through them.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.request import urlopen

import pytest

from bot.local.sandbox import ALICE, BOB, LocalBot, free_port
from playbook import store
from playbook.domain.model import CadenceChange, Incident

BELL = "🔔"


def _open_without_waiting(bot: LocalBot, text: str) -> None:
    reply = bot.slack.command(bot.events_url, text, user_id=ALICE, channel_id=bot.general.id,
                              via=bot.via)
    assert reply.ok, reply.body


def test_a_burst_of_25_opens_ends_with_every_card_pinned_and_nothing_refused() -> None:
    """25 opens at once need 25 channels, topics, purposes and pins: beyond Tier 2's burst.
    Every one completes, and the strict Slack answers no call 429."""
    with LocalBot() as bot:
        for n in range(25):
            _open_without_waiting(bot, f"open Customer {n}: lobby screens down")
        bot.drain(timeout=120)
        bot.settle()
        assert bot.runtime is not None
        for number in range(1, 26):
            channel = bot.incident_channel(number)
            pins = bot.slack.pins(channel)
            assert len(pins) == 1, f"INC-{number}: its card is pinned once"
            assert bot.slack.channels[channel].topic, f"INC-{number}: its topic is set"
        assert bot.slack.ratelimited == {}, "the bot never sent what Slack would refuse"
        assert bot.slack.call_count("conversations.create") == 25
        assert bot.slack.violations == []


def _seed(bot: LocalBot, n: int) -> list[tuple[int, str]]:
    """`n` open incidents straight into the database, each with its channel and a card the
    bot posted: (incident id, channel id)."""
    assert bot.runtime is not None
    made = []
    now = bot.clock()
    with bot.runtime.service.sessions.begin() as session:
        for i in range(n):
            chan = bot.slack.add_channel(f"inc-seed-{i}", members=[ALICE, BOB], bot_member=True)
            card = bot.slack.add_message(chan.id, bot.slack.bot_user_id, f"card {i}")
            inc = store.add_incident(session, Incident(
                team_id=bot.slack.team_id, number=0, customer=f"Seeded {i}",
                description="backlog", opened_by=ALICE, opened_at=now, channel_id=chan.id,
                channel_name=chan.name, card_ts=card.ts, owner=ALICE,
                cadence_changes=[CadenceChange(now, timedelta(hours=4), agreed=True,
                                               by=ALICE)]))
            assert inc.id is not None
            made.append((inc.id, chan.id))
    return made


def test_a_reminder_due_during_a_big_card_backlog_goes_out_first() -> None:
    """80 card refreshes (beyond chat.update's Tier 3 burst) queue up; a reminder that comes
    due meanwhile is posted while most of them still wait for their bucket, and nothing is
    refused on the way."""
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: checkout fails")
        channel = bot.incident_channel()
        assert bot.command("cadence 30m", channel=channel).ok
        seeded = _seed(bot, 80)
        bot.wait_quiet()
        bot.clock.advance(timedelta(minutes=31))  # Acme's customer update is overdue now
        with bot.runtime.service.sessions.begin() as session:
            for incident_id, _ in seeded:
                store.enqueue(session, team_id=bot.slack.team_id, incident_id=incident_id,
                              kind="refresh_card", payload={}, requested_by=None,
                              now=bot.clock())
        bot.runtime.wake_outbox()
        bot.slack.wait_for(lambda: bot.slack.call_count("chat.update") >= 30, 10,
                           message="the backlog to start")
        assert bot.runtime.scheduler.run_due() == 1
        bot.slack.wait_for(lambda: any(BELL in line for line in bot.lines(channel)), 10,
                           message="the reminder to be posted")
        with bot.runtime.service.sessions() as session:
            waiting = store.open_by_kind(session).get("refresh_card", 0)
        assert waiting >= 20, "the reminder went out while the backlog still waited"
        bot.drain(timeout=120)
        bot.settle()
        updated = {c.params.get("channel") for c in bot.slack.calls
                   if c.method == "chat.update"}
        assert {chan for _, chan in seeded} <= updated, "every card was refreshed in the end"
        assert bot.slack.ratelimited == {}
        assert bot.slack.violations == []


def test_metrics_show_acks_slack_calls_429s_depth_and_reminder_lateness() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: checkout fails")
        channel = bot.incident_channel()
        bot.slack.fail_next("chat.update")  # Slack answers one 429 (Retry-After 1 s)
        assert bot.command("cadence 30m", channel=channel).ok
        bot.drain(timeout=30)
        bot.advance(timedelta(minutes=31))  # the customer update comes due and is fired
        with urlopen(f"{bot.url}/metrics", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = resp.read().decode()
    series = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
              if line and not line.startswith("#")}
    assert {"crisisbot_ack_seconds_bucket", "crisisbot_ack_seconds_count",
            "crisisbot_slack_calls_total", "crisisbot_slack_ratelimited_total",
            "crisisbot_outbox_depth", "crisisbot_reminder_lateness_seconds_bucket"} <= series
    assert 'crisisbot_ack_seconds_count{kind="command"}' in text
    assert 'crisisbot_slack_ratelimited_total{method="chat.update"}' in text
    assert 'crisisbot_slack_calls_total{method="conversations.create",outcome="ok"}' in text
    assert 'crisisbot_outbox_depth{priority="card"} 0.0' in text
    assert "xoxb-" not in text and "checkout" not in text, "no token or user text in labels"


def _acks(text: str, kind: str) -> tuple[float, float]:
    """(observations, observations within 5 s) of `crisisbot_ack_seconds{kind}`."""
    count = within = 0.0
    for line in text.splitlines():
        if line.startswith(f'crisisbot_ack_seconds_count{{kind="{kind}"}}'):
            count = float(line.rsplit(" ", 1)[1])
        elif line.startswith("crisisbot_ack_seconds_bucket{") and f'kind="{kind}"' in line \
                and 'le="5.0"' in line:
            within = float(line.rsplit(" ", 1)[1])
    return count, within


def _scrape(bot: LocalBot) -> str:
    assert bot.runtime is not None
    return bot.runtime.metrics_text().decode()


def test_the_ack_histogram_times_the_answer_not_the_ack_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With process_before_response, Slack gets the ack only when the listener returns, so
    what a listener does after calling ack() delays the answer and must be counted. The
    clock the timing reads jumps 10 s while the listener wakes the outbox after its ack:
    the observation lands above the 5 s bucket. (Measured at ack(), it was ~0.)"""
    real, jump = time.perf_counter, [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: real() + jump[0])
    with LocalBot() as bot:
        assert bot.runtime is not None and bot.runtime.deps is not None
        wake = bot.runtime.deps.wake_outbox

        def slow_after_the_ack() -> None:
            jump[0] += 10.0
            wake()

        before = _acks(_scrape(bot), "command")
        bot.runtime.deps.wake_outbox = slow_after_the_ack
        assert bot.command("open Acme: checkout fails").ok
        bot.runtime.deps.wake_outbox = wake
        count, within = _acks(_scrape(bot), "command")
    assert (count - before[0], within - before[1]) == (1, 0), \
        "one answer, measured with what the listener did after ack()"


def test_socket_mode_serves_metrics_on_a_port_of_its_own() -> None:
    """`crisisbot run --metrics-port N` in Socket Mode (no HTTP server of the bot's own)."""
    with LocalBot(socket_mode=True) as bot:
        assert bot.runtime is not None
        bot.command("open Acme: checkout fails")
        port = free_port()
        server = bot.runtime.metrics_server(port, host="127.0.0.1")
        try:
            with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        finally:
            server.shutdown()
    assert 'crisisbot_ack_seconds_count{kind="command"}' in text
    assert "crisisbot_outbox_depth" in text
