"""The outbox worker with rows queued up (a burst of reminders, a slow Slack): what people see.

The worker takes an incident's queued rows together. The card must still end up showing the
newest state, refreshed once instead of once per change; the lines must still appear in the
order they were recorded, each once; and a post Slack stumbles on is retried, with everything
queued behind it waiting for it rather than overtaking it.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.local.sandbox import ALICE, BOB, LocalBot, shown
from playbook import store
from playbook.domain.model import Actor


def _queue_while_held(bot: LocalBot, words: list[str]) -> None:
    """Stop the worker, record one `listen` per entry (each queues a line and a card refresh)."""
    assert bot.runtime is not None
    bot.runtime.worker.stop()
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    assert inc.id is not None
    for text in words:
        bot.runtime.service.command(inc.id, Actor(ALICE), "listen", text, team_id=bot.slack.team_id)


def _queued(bot: LocalBot, kind: str) -> int:
    assert bot.runtime is not None
    row = store.OutboxRow
    with bot.runtime.service.sessions() as session:
        return len(session.execute(select(row.id).where(
            row.kind == kind, row.done_at.is_(None), row.failed_at.is_(None))).all())


def _heard(bot: LocalBot, channel: str) -> list[str]:
    return [line for line in bot.lines(channel) if "customer's words" in line]


def test_queued_card_refreshes_become_one_that_shows_the_newest_state() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        updates = bot.slack.call_count("chat.update")
        words = ["screens flicker", "screens reboot", "screens show Setup WiFi"]
        _queue_while_held(bot, words)
        assert _queued(bot, "refresh_card") == 3
        while bot.runtime.worker.drain_once():
            pass
        assert bot.slack.call_count("chat.update") == updates + 1, "one refresh for three"
        assert _queued(bot, "refresh_card") == 0, "the folded refreshes are done as well"
        card = bot.card(channel)
        assert "screens show Setup WiFi" in shown(card.text, card.blocks), "the newest state"
        heard = _heard(bot, channel)
        assert len(heard) == 3 and all(w in line for w, line in zip(words, heard, strict=True))
        assert bot.slack.violations == []


def test_a_post_slack_stumbles_on_is_retried_and_nothing_overtakes_it() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        updates = bot.slack.call_count("chat.update")
        _queue_while_held(bot, ["screens flicker", "screens reboot"])
        bot.slack.fail_next("chat.postMessage", "fatal_error", times=1)  # may heal: retried
        bot.runtime.worker.drain_once()
        assert _heard(bot, channel) == [], "the second line waits for the first"
        assert bot.slack.call_count("chat.update") == updates, "and so does the card"
        bot.runtime.worker.start()
        bot.drain()
        heard = _heard(bot, channel)
        assert len(heard) == 2 and "flicker" in heard[0] and "reboot" in heard[1], heard
        first = next(r for r in _rows(bot, "timeline") if "flicker" in r.payload["text"])
        assert first.attempts == 1 and first.done_at is not None, "the outbox retried it"
        card = bot.card(channel)
        assert "screens reboot" in shown(card.text, card.blocks)
        assert bot.slack.call_count("chat.update") == updates + 1
        assert bot.slack.violations == []


def _rows(bot: LocalBot, kind: str) -> list[store.OutboxRow]:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        rows = session.execute(select(store.OutboxRow).where(store.OutboxRow.kind == kind)
                               .order_by(store.OutboxRow.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def test_one_batch_routes_each_incident_by_its_own_channel_state() -> None:
    """The worker reads which channels are lost once per batch: a channel archived before the
    batch gets nothing, one the bot was silently removed from is found out by the first call
    and the rest of its rows go to the fallback place, and a live one gets its lines."""
    with LocalBot() as bot:
        assert bot.runtime is not None
        for customer in ("Acme", "Globex", "Initech"):
            assert bot.command(f"open {customer}: checkout fails").ok
        live, removed, archived = (bot.incident_channel(n) for n in (1, 2, 3))
        assert bot.slack.archive_channel(bot.events_url, archived, user_id=BOB, via=bot.via).ok
        bot.drain()
        bot.runtime.worker.stop()
        bot.slack.remove_bot(bot.events_url, removed, by=BOB, emit=False)  # the event was lost
        for number in (1, 2, 3):
            inc = bot.runtime.service.get(bot.slack.team_id, number)
            assert inc.id is not None
            bot.runtime.service.command(inc.id, Actor(ALICE), "listen", f"words of {number}",
                                        team_id=bot.slack.team_id)
        before = {c: len(bot.slack.messages(c)) for c in (removed, archived)}
        bot.runtime.worker.drain_once(limit=10)  # all three incidents in one batch
        while bot.runtime.worker.drain_once():  # and what that batch queued
            pass
        assert any("words of 1" in line for line in bot.lines(live))
        assert "words of 1" in shown(bot.card(live).text, bot.card(live).blocks)
        assert {c: len(bot.slack.messages(c)) for c in (removed, archived)} == before
        leads = bot.lines(bot.leads.id)
        assert any("Slack answered not_in_channel" in t for t in leads), leads
        assert any("words of 2" in t for t in leads), "the removed channel's card, in the leads"
        assert any("words of 3" in t for t in leads), "the archived channel's card, in the leads"
        assert _rows_failed(bot) == 0
        assert bot.slack.violations == []


def _rows_failed(bot: LocalBot) -> int:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        return len(session.execute(select(store.OutboxRow.id).where(
            store.OutboxRow.failed_at.is_not(None))).all())
