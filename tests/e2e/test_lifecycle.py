"""Slack changing things under the bot: archive, rename, unarchive, removal, join, uninstall."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.local.sandbox import ALICE, BOB, CAROL, LocalBot
from playbook import store
from playbook.store import lifecycle as lifecycle_store


def _opened(bot: LocalBot) -> str:
    bot.command("open sev2 Acme: checkout fails")
    channel = bot.incident_channel()
    for line in ("cadence 30m", "own", "promise a status call in 2h"):
        assert bot.command(line, channel=channel).ok
    return channel


def _texts(messages: list) -> list[str]:
    return [m.text for m in messages]


def _state(bot: LocalBot, channel: str) -> lifecycle_store.ChannelState:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        return lifecycle_store.get_channel_state(session, bot.slack.team_id, channel)


def test_archive_moves_card_and_reminders_then_unarchive_brings_them_back(
        any_bot: LocalBot) -> None:
    bot = any_bot
    channel = _opened(bot)
    before = len(bot.slack.messages(channel))
    assert bot.slack.archive_channel(bot.events_url, channel, user_id=BOB, via=bot.via).ok
    bot.settle()
    assert _state(bot, channel).archived_at is not None
    leads = bot.lines(bot.leads.id)
    assert any("was archived by" in t for t in leads), leads
    assert any("A copy of INC-1's card" in t for t in leads), "the card lives on"
    assert any("was archived" in t for t in _texts(bot.slack.dms(ALICE))), "the owner is told"

    bot.advance(timedelta(minutes=31))
    assert len(bot.slack.messages(channel)) == before, "nothing is posted to an archived channel"
    assert any("due now" in t for t in _texts(bot.slack.dms(ALICE))), \
        "the due reminder reaches the owner by DM"
    copy = next(m for m in bot.slack.messages(bot.leads.id) if "A copy of" in str(m.blocks))
    assert copy.edits >= 1, "the card's copy is kept current"

    assert bot.slack.unarchive_channel(bot.events_url, channel, user_id=BOB, via=bot.via).ok
    bot.settle()
    assert _state(bot, channel).archived_at is None
    assert any("unarchived" in t for t in bot.lines(channel))
    back = bot.slack.message(bot.leads.id, copy.ts)
    assert back is not None and "back in" in back.text
    assert bot.command("update we are on it", channel=channel).ok
    bot.advance(timedelta(minutes=31))
    assert any("due now" in t for t in bot.lines(channel)), "reminders are back in the channel"


def test_rename_is_recorded_and_noted(bot: LocalBot) -> None:
    channel = _opened(bot)
    assert bot.slack.rename_channel(bot.events_url, channel, "acme-war-room").ok
    bot.settle()
    assert bot.runtime is not None
    assert bot.runtime.service.get(bot.slack.team_id, 1).channel_name == "acme-war-room"
    assert any("renamed to #acme-war-room" in t for t in bot.lines(channel))
    assert _state(bot, channel).usable


def test_bot_removed_then_invited_back(bot: LocalBot) -> None:
    channel = _opened(bot)
    bot.slack.remove_bot(bot.events_url, channel, by=BOB)
    bot.settle()
    assert _state(bot, channel).removed_at is not None
    assert any("I was removed" in t for t in bot.lines(bot.leads.id))
    bot.advance(timedelta(minutes=31))
    assert any("due now" in t for t in _texts(bot.slack.dms(ALICE)))
    assert bot.slack.join_channel(bot.events_url, channel, "UBOT", inviter=BOB) is not None
    bot.settle()
    assert _state(bot, channel).usable
    assert any("I'm back" in t for t in bot.lines(channel))


def test_removal_found_out_from_a_web_api_error(bot: LocalBot) -> None:
    channel = _opened(bot)
    bot.slack.remove_bot(bot.events_url, channel, by=BOB, emit=False)  # the event was lost
    reply = bot.command("impact their shop is closed", channel=channel)
    assert reply.ok
    assert _state(bot, channel).removed_at is not None, "not_in_channel told the outbox"
    assert any("Slack answered not_in_channel" in t for t in bot.lines(bot.leads.id))
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        failed = session.query(store.OutboxRow).filter(store.OutboxRow.failed_at.is_not(None))
        assert failed.count() == 0, "the effect was carried out elsewhere, not failed"


def test_member_joined_gets_a_brief_but_not_the_bots_own_invites(bot: LocalBot) -> None:
    channel = _opened(bot)
    bot.slack.add_user("U0DAN", "dan")
    bot.slack.join_channel(bot.events_url, channel, "U0DAN")
    bot.settle()
    brief = [e.text for e in bot.slack.ephemerals("U0DAN", channel_id=channel)]
    assert len(brief) == 1 and "Welcome to INC-1" in brief[0]
    assert f"<@{ALICE}>" in brief[0] and "P1" in brief[0] and "<!date^" in brief[0]
    bot.slack.add_user("U0EVE", "eve")
    bot.slack.join_channel(bot.events_url, channel, "U0EVE", inviter="UBOT")
    bot.settle()
    assert bot.slack.ephemerals("U0EVE") == [], "people the bot invited were just told"
    before = len(bot.slack.ephemerals(CAROL))
    bot.slack.join_channel(bot.events_url, bot.general.id, CAROL)  # not an incident channel
    bot.settle()
    assert len(bot.slack.ephemerals(CAROL)) == before


@pytest.mark.parametrize("how", ["revoke_tokens", "uninstall_app"])
def test_uninstall_or_revoked_tokens_pause_sends_and_keep_data(
        bot: LocalBot, how: str, caplog: pytest.LogCaptureFixture) -> None:
    channel = _opened(bot)
    caplog.set_level(logging.WARNING)
    assert getattr(bot.slack, how)(bot.events_url).ok
    bot.settle()
    posts = bot.slack.call_count("chat.postMessage")
    bot.advance(timedelta(minutes=31))
    assert bot.slack.call_count("chat.postMessage") == posts, "nothing is sent while paused"
    event = "tokens_revoked" if how == "revoke_tokens" else "app_uninstalled"
    lines = [r.getMessage() for r in caplog.records if "paused" in r.getMessage()]
    assert len(lines) == 1 and event in lines[0], lines
    assert bot.runtime is not None
    assert bot.runtime.service.get(bot.slack.team_id, 1).customer == "Acme", "data kept"

    bot.slack.reinstall_app()
    bot.command("status", channel=channel)  # a command reaches only an installed app
    bot.advance(timedelta(minutes=1))
    assert any("due now" in t for t in bot.lines(channel)), \
        "the reminder held back during the pause is sent once installed again"


def test_revocation_found_out_from_the_outbox_holds_effects(bot: LocalBot) -> None:
    channel = _opened(bot)
    bot.slack.token_error = "token_revoked"  # revoked without the event reaching us
    reply = bot.slack.command(bot.events_url, "impact their shop is closed", user_id=ALICE,
                              channel_id=channel)
    assert reply.ok
    assert bot.runtime is not None
    lifecycle = bot.runtime.worker.runner.ctx.lifecycle
    bot.slack.wait_for(lambda: lifecycle.paused(bot.slack.team_id), 10)
    with bot.runtime.service.sessions() as session:
        rows = session.query(store.OutboxRow).filter(store.OutboxRow.done_at.is_(None)).all()
        assert rows and all(r.failed_at is None for r in rows), "held, not failed"
    bot.slack.reinstall_app()
    bot.slack.command(bot.events_url, "status", user_id=ALICE, channel_id=channel)
    bot.drain()
    assert any("their shop is closed" in t for t in bot.lines(channel))


def test_local_slack_refuses_like_slack_after_each_change(bot: LocalBot) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=bot.slack.bot_token, base_url=bot.slack.api_url)
    room = bot.slack.add_channel("war-room", bot_member=True, members=[ALICE])

    def error(**kw: str) -> str:
        try:
            client.chat_postMessage(**kw)
        except SlackApiError as err:
            return str(err.response["error"])
        return "ok"

    assert error(channel=room.id, text="hi") == "ok"
    bot.slack.archive_channel(None, room.id, user_id=ALICE, emit=False)
    assert error(channel=room.id, text="hi") == "is_archived"
    bot.slack.unarchive_channel(bot.events_url, room.id, user_id=ALICE)
    bot.slack.remove_bot(None, room.id, by=ALICE, emit=False)
    assert error(channel=room.id, text="hi") == "not_in_channel"
    bot.slack.token_error = "token_revoked"
    assert error(channel=ALICE, text="hi") == "token_revoked"
    bot.slack.reinstall_app()
    bot.slack.uninstall_app(bot.events_url)
    assert error(channel=ALICE, text="hi") == "invalid_auth"
    bot.slack.reinstall_app()
