"""People Slack will not let the bot invite (guests, people outside the workspace): skipped once,
never retried, named to whoever asked and on the card, while the rest of the work goes on.

The local Slack refuses an invite through its fault injection (`fail_next`), which refuses the
next `conversations.invite` call whoever it is for: at open the first person invited is the
opener, then the responders (here Carol).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.local.sandbox import ALICE, BOB, CAROL, LocalBot
from bot.slack.errors import INVITE_REFUSALS
from playbook import store

REFUSALS = ("user_is_restricted", "ura_max_channels", "cant_invite", "no_permission",
            "org_user_not_in_team")


def _stored(bot: LocalBot, number: int = 1) -> Any:
    assert bot.runtime is not None
    return bot.runtime.service.get(bot.slack.team_id, number)


def _card_text(bot: LocalBot, channel: str) -> str:
    return json.dumps(bot.card(channel).blocks, ensure_ascii=False)


def _failed_rows(bot: LocalBot) -> list[str]:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        return list(session.scalars(select(store.OutboxRow.kind)
                                    .where(store.OutboxRow.failed_at.is_not(None))))


def _told(bot: LocalBot, user: str) -> list[str]:
    return [e.text for e in bot.slack.ephemerals(user)] + [m.text for m in bot.slack.dms(user)]


@pytest.mark.parametrize("code", REFUSALS)
def test_a_person_who_cannot_be_invited_does_not_break_opening(bot: LocalBot, code: str) -> None:
    bot.slack.fail_next("conversations.invite", code)
    reply = bot.command("open sev2 Acme Hotels: lobby screens show a setup error")
    assert reply.ok and "INC-1" in reply.body["text"]
    channel = bot.incident_channel()

    assert bot.slack.call_count("conversations.create") == 1
    assert bot.slack.call_count("conversations.setTopic") == 1, "the topic is set once"
    assert bot.slack.call_count("conversations.invite") == 2, "each person asked once"
    assert bot.slack.pins(channel), "the card is pinned"
    assert CAROL in bot.slack.channels[channel].members, "the others are invited"
    assert ALICE not in bot.slack.channels[channel].members
    assert _failed_rows(bot) == []

    told = "\n".join(_told(bot, ALICE))
    assert f"*INC-1* is open: <#{channel}>" in told
    assert f"couldn't invite <@{ALICE}>: {INVITE_REFUSALS[code]}" in told
    assert "couldn't create" not in told.lower()

    assert _stored(bot).not_invited == {ALICE: code}
    card = _card_text(bot, channel)
    assert "Couldn't invite:*" in card and f"<@{ALICE}> ({INVITE_REFUSALS[code]})" in card


def test_handover_to_a_guest_is_told_and_shown_until_they_are_invited(bot: LocalBot) -> None:
    bot.command("open sev2 Acme Hotels: lobby screens show a setup error")
    channel = bot.incident_channel()
    assert bot.command("own", channel=channel).ok
    invites = bot.slack.call_count("conversations.invite")

    bot.slack.fail_next("conversations.invite", "user_is_restricted")
    reply = bot.command("handover <@U0BOB|bob> call their CTO", channel=channel)
    assert "Handed INC-1 over to <@U0BOB>" in reply.body["text"], reply.body
    assert bot.slack.call_count("conversations.invite") == invites + 1, "asked once, no retry"
    assert BOB not in bot.slack.channels[channel].members
    assert _stored(bot).owner == BOB, "the handover stands"
    assert any(f"couldn't invite <@{BOB}>: they are a guest account" in t
               for t in _told(bot, ALICE)), "the person who asked is told why"
    assert f"<@{BOB}> (they are a guest account" in _card_text(bot, channel)
    assert _failed_rows(bot) == []

    # an admin lets Bob in after all: the next invite works and the card forgets the refusal
    assert bot.command("comms <@U0BOB|bob>", channel=channel).ok
    assert BOB in bot.slack.channels[channel].members
    assert _stored(bot).not_invited == {}
    assert "Couldn't invite" not in _card_text(bot, channel)


def test_a_refused_invite_into_a_reopened_incidents_new_channel(bot: LocalBot) -> None:
    bot.command("open sev2 Acme Hotels: lobby screens show a setup error")
    channel = bot.incident_channel()
    for text in ("listen the screens are all broken", "cadence 30m", "own",
                 "skip customer unreachable", "skip customer unreachable",
                 "update told them it is fixed", "skip fixed in the field",
                 "skip postmortem next week", "close"):
        assert bot.command(text, channel=channel).ok, text
    bot.slack.archive_channel(bot.events_url, channel, user_id=ALICE, via=bot.via)
    bot.settle()
    bot.slack.bot_unarchive_error = "not_allowed_token_type"
    bot.slack.fail_next("conversations.invite", "org_user_not_in_team")
    reply = bot.command("reopen INC-1 customer reports it again")
    assert "Reopened INC-1" in reply.body["text"]
    inc = _stored(bot)
    assert inc.channel_id != channel and bot.slack.pins(inc.channel_id)
    made = [c for c in bot.slack.channels.values() if c.name.startswith("inc-1")]
    assert len(made) == 2, "one new channel, made once"
    told = [t for t in _told(bot, ALICE) if "continues in" in t]
    assert told and f"couldn't invite <@{ALICE}>: they are in the organization" in told[0]
    assert inc.not_invited == {ALICE: "org_user_not_in_team"}
    assert "Couldn't invite" in _card_text(bot, inc.channel_id)
    assert _failed_rows(bot) == []
