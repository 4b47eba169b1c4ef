"""Exactly once, even when Slack loses an answer or a worker loses its lease.

Slack can carry a call out and then answer 503 (or drop the connection): the channel exists,
the message is posted, and the bot cannot know. A retry must find what it made (its posts
carry metadata naming their outbox row; a channel of our name that the bot created is ours)
instead of leaving an empty channel beside a `-2` copy or showing a line twice. A worker whose
lease was taken over must neither run the rest of its rows nor mark them done.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import text

from bot.local.localslack import LocalSlack
from bot.local.sandbox import ALICE, LocalBot, shown
from bot.outbox import channel as channel_effects
from bot.outbox.worker import OutboxWorker
from playbook.domain.model import Actor


def _incident_channels(bot: LocalBot) -> list[str]:
    return sorted(c.name for c in bot.slack.channels.values() if c.name.startswith("inc-"))


def _heard(bot: LocalBot, channel: str, words: str) -> int:
    """How many lines (the pinned card aside) say `words`."""
    card = set(bot.slack.pins(channel))
    return sum(words in shown(m.text, m.blocks) for m in bot.slack.messages(channel)
               if m.ts not in card)


def test_the_local_slack_can_do_a_call_and_lose_its_answer() -> None:
    slack = LocalSlack()
    slack.start()
    try:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        chan = client.conversations_create(name="lost-answers")["channel"]["id"]
        slack.lose_answer_next("chat.postMessage")
        meta = {"event_type": "probe", "event_payload": {"row": 7}}
        with pytest.raises(SlackApiError) as lost:
            client.chat_postMessage(channel=chan, text="made it", metadata=meta)
        assert lost.value.response.status_code == 503
        assert [m.text for m in slack.messages(chan)] == ["made it"], "posted all the same"
        plain = client.conversations_history(channel=chan)["messages"]
        assert "metadata" not in plain[0], "metadata only on request, as in Slack"
        full = client.conversations_history(channel=chan, include_all_metadata=True)
        assert full["messages"][0]["metadata"] == meta
        client.chat_postMessage(channel=chan, text="and the next answer arrives")
        slack.lose_answer_next("conversations.create")
        with pytest.raises(SlackApiError):
            client.conversations_create(name="made-anyway")
        made = client.users_conversations(types="public_channel", exclude_archived=True)
        mine = {c["name"]: c["creator"] for c in made["channels"]}
        assert mine.get("made-anyway") == slack.bot_user_id, "the bot made it and is in it"
    finally:
        slack.stop()


def test_a_channel_made_but_its_answer_lost_is_adopted_not_copied() -> None:
    with LocalBot() as bot:
        bot.slack.lose_answer_next("conversations.create")
        bot.command("open Acme: lobby screens down")
        bot.drain()
        assert _incident_channels(bot) == ["inc-1-acme"], "no empty orphan, no -2 copy"
        channel = bot.incident_channel()
        assert bot.slack.channels[channel].name == "inc-1-acme"
        assert len(bot.slack.pins(channel)) == 1, "one card, pinned"
        assert bot.slack.violations == []


def test_a_reopened_incident_never_adopts_the_channel_it_moves_away_from() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        old = bot.incident_channel()
        ctx = bot.runtime.worker.runner.ctx
        inc = bot.runtime.service.get(bot.slack.team_id, 1)
        new_id, name = channel_effects.incident_channel(ctx, inc, private=False)
        assert new_id != old and name == "inc-1-acme-2", "a fresh channel, not the old one"


def test_a_post_made_but_its_answer_lost_is_adopted_not_repeated() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        bot.slack.lose_answer_next("chat.postMessage")
        bot.command("listen our screens all say Setup WiFi", channel=channel)
        bot.drain()
        assert _heard(bot, channel, "Setup WiFi") == 1

        # the look-up at once fails as well: the row is retried later, and adopts it then
        bot.slack.lose_answer_next("chat.postMessage")
        bot.slack.fail_next("conversations.history", "internal_error", status=503, times=3)
        inc = bot.runtime.service.get(bot.slack.team_id, 1)
        assert inc.id is not None
        bot.runtime.service.command(inc.id, Actor(ALICE), "listen", "the lobby is dark",
                                    team_id=bot.slack.team_id)
        bot.runtime.wake_outbox()
        bot.drain()
        assert _heard(bot, channel, "the lobby is dark") == 1
        meta = [m.metadata for m in bot.slack.messages(channel) if m.metadata]
        assert meta and all(m["event_type"] == "crisisbot_outbox" for m in meta), \
            "every post names its outbox row"
        assert bot.slack.violations == []


def test_a_worker_that_lost_its_lease_runs_and_finishes_nothing_more() -> None:
    """Worker A holds an incident's two queued lines. While it posts the first, its lease runs
    out and worker B takes both over: B adopts A's first post and posts the second; A must not
    post the second, and its late finish must not mark B's rows."""
    with LocalBot() as bot:
        rt = bot.runtime
        assert rt is not None
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        rt.worker.stop()
        inc = rt.service.get(bot.slack.team_id, 1)
        assert inc.id is not None
        rt.service.command(inc.id, Actor(ALICE), "listen", "first words",
                           team_id=bot.slack.team_id)
        rt.service.command(inc.id, Actor(ALICE), "listen", "second words",
                           team_id=bot.slack.team_id)
        a = rt.worker
        b = OutboxWorker(a.runner, a.sessions, a.clock, threads=1, lease=a.lease)
        b.name = "elsewhere:1:b"  # another replica
        real_run = a.runner.run
        taken: list[int] = []

        def run(item: Any, incident: Any = None) -> None:
            real_run(item, incident)
            if not taken and "first words" in str(item.payload):
                taken.append(0)  # (B runs through this same runner: once only)
                bot.clock.advance(a.lease + timedelta(seconds=1))  # A's lease runs out ...
                taken[0] = b.drain_once()  # ... and B takes the incident's rows over
                a.beat()  # A's heartbeat finds them gone

        a.runner.run = run  # type: ignore[method-assign]
        try:
            a.drain_once()
        finally:
            a.runner.run = real_run  # type: ignore[method-assign]
        assert taken and taken[0] >= 2, "B took the rows over"
        assert _heard(bot, channel, "first words") == 1, "B adopted A's post"
        assert _heard(bot, channel, "second words") == 1, "A did not post after losing"
        bot.settle()
        assert bot.slack.violations == []


def test_an_error_mid_batch_gives_back_the_chains_not_started(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose batch ends in an error (the database refusing a write, say) gives back the
    other incidents' rows at once, instead of leaving them leased for a whole lease."""
    with LocalBot() as bot:
        rt = bot.runtime
        assert rt is not None
        for n in (1, 2):
            bot.command(f"open Customer{n}: lobby screens down")
        bot.drain()
        rt.worker.stop()
        for n in (1, 2):
            inc = rt.service.get(bot.slack.team_id, n)
            assert inc.id is not None
            rt.service.command(inc.id, Actor(ALICE), "listen", f"words {n}",
                               team_id=bot.slack.team_id)
        a = rt.worker
        worker = OutboxWorker(a.runner, a.sessions, a.clock, threads=1, lease=a.lease)

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(a.runner, "run", broken)  # every row crashes, and recording that
        monkeypatch.setattr("bot.outbox.worker.store.fail_outbox", broken)  # ...fails too
        with pytest.raises(RuntimeError):
            worker.drain_once()
        with a.sessions() as session:
            leased = session.execute(text(
                "SELECT count(DISTINCT incident_id) FROM outbox WHERE done_at IS NULL "
                "AND failed_at IS NULL AND claimed_until IS NOT NULL")).scalar_one()
        assert leased <= 1, "only the incident whose chain failed may still be leased"
