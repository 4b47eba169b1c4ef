"""Timeline capture over real HTTP: reactions, pins, notes, corrections, removals, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.local.sandbox import ALICE, BOB, CAROL, LEAD, LocalBot
from playbook.domain.timeline import Entry
from playbook.services.timeline import TimelineService


def _entries(bot: LocalBot) -> list[Entry]:
    assert bot.runtime is not None
    service = bot.runtime.service
    inc = service.get(bot.slack.team_id, 1)
    assert inc.id is not None
    return TimelineService(service.sessions, service.clock).entries(inc.id)


def _said_to(bot: LocalBot, user: str) -> list[str]:
    return [e.text for e in bot.slack.ephemerals(user)]


def _opened(bot: LocalBot) -> str:
    assert bot.command("open sev2 Acme Hotels: lobby screens show a setup error").ok
    return bot.incident_channel()


def _summary_text(bot: LocalBot, channel: str) -> str:
    assert bot.command("summary", channel=channel).ok
    lines = bot.lines(channel)
    start = max(i for i, line in enumerate(lines) if "Summary so far" in line)
    return "\n".join(lines[start:])


def test_reaction_and_pin_capture_messages_with_author_and_time(bot: LocalBot) -> None:
    channel = _opened(bot)
    said = bot.slack.add_message(channel, BOB, "<!channel> the CDN in eu-west is down, "
                                               "<@U0CAROL> is on it &amp; paging")
    reply = bot.slack.react(bot.events_url, user_id=ALICE, channel_id=channel, ts=said.ts)
    assert reply.status == 200 and reply.elapsed < 3
    bot.settle()
    captured = [e for e in _entries(bot) if e.kind == "captured"]
    assert len(captured) == 1
    entry = captured[0]
    assert entry.actor == BOB and entry.captured_by == ALICE
    assert entry.at == datetime.fromtimestamp(float(said.ts), UTC)
    # nobody's message can ping @channel or re-notify people through the bot
    assert "<!channel>" not in entry.text and "@channel" in entry.text
    assert "<@U0CAROL>" not in entry.text and "@carol" in entry.text
    assert "&amp;" in entry.text
    assert any(f"as *{entry.ref}*" in t for t in _said_to(bot, ALICE)), _said_to(bot, ALICE)

    # a second reaction, a pin of the same message, or a replay of the event add nothing
    bot.slack.react(bot.events_url, user_id=CAROL, channel_id=channel, ts=said.ts)
    bot.slack.pin(bot.events_url, user_id=CAROL, channel_id=channel, ts=said.ts)
    bot.settle()
    assert len([e for e in _entries(bot) if e.kind == "captured"]) == 1
    assert any("already on the INC-1 timeline" in t for t in _said_to(bot, CAROL))

    # another emoji is just a reaction
    other = bot.slack.add_message(channel, CAROL, "rolling back the config")
    bot.slack.react(bot.events_url, user_id=CAROL, channel_id=channel, ts=other.ts, name="eyes")
    bot.settle()
    assert len([e for e in _entries(bot) if e.kind == "captured"]) == 1

    # a pin captures the message with its author and time
    bot.slack.pin(bot.events_url, user_id=ALICE, channel_id=channel, ts=other.ts)
    bot.settle()
    pinned = [e for e in _entries(bot) if e.kind == "captured" and e.actor == CAROL]
    assert len(pinned) == 1 and pinned[0].captured_by == ALICE
    assert pinned[0].at == datetime.fromtimestamp(float(other.ts), UTC)
    assert pinned[0].text == "rolling back the config"

    # the bot's own pin of the status card is not a timeline moment
    card = bot.card(channel)
    before = len(_entries(bot))
    bot.slack.pin(bot.events_url, user_id=bot.slack.bot_user_id, channel_id=channel, ts=card.ts)
    bot.slack.react(bot.events_url, user_id=ALICE, channel_id=channel, ts=card.ts)
    bot.settle()
    assert len(_entries(bot)) == before

    # the bot's own lines are on the timeline already: a reaction says so and adds nothing
    own = next(m for m in bot.slack.messages(channel)
               if m.user == bot.slack.bot_user_id and m.ts != card.ts)
    bot.slack.react(bot.events_url, user_id=ALICE, channel_id=channel, ts=own.ts)
    bot.settle()
    assert len(_entries(bot)) == before
    assert any("one of my own messages" in t for t in _said_to(bot, ALICE))

    # reactions outside incident channels are ignored
    elsewhere = bot.slack.add_message(bot.general.id, BOB, "lunch?")
    assert bot.slack.react(bot.events_url, user_id=ALICE, channel_id=bot.general.id,
                           ts=elsewhere.ts).status == 200
    bot.settle()
    assert len(_entries(bot)) == before

    # the summary shows the captured lines, safely
    summary = _summary_text(bot, channel)
    assert "the CDN in eu-west is down" in summary and "rolling back the config" in summary
    assert "<!channel>" not in summary


def test_note_edit_keeps_history_and_summary_shows_the_correction(bot: LocalBot) -> None:
    channel = _opened(bot)
    reply = bot.command("note the customer's CTO joined the call <!here>", channel=channel)
    assert reply.ok and "Noted" in reply.body["text"]
    note = next(e for e in _entries(bot) if e.kind == "note")
    assert note.actor == ALICE and "&lt;!here&gt;" not in note.text and "@here" in note.text
    assert any("the customer's CTO joined" in line for line in bot.lines(channel))

    listed = bot.command("timeline", channel=channel)
    assert listed.ok and note.ref in json.dumps(listed.body["blocks"])

    # the author opens the form from the list's button and corrects text and time
    eph = next(e for e in bot.slack.ephemerals(ALICE) if e.source == "ack" and e.blocks)
    bot.click(f"timeline:edit:{note.id}", message_ts=eph.ts, channel=channel, user=ALICE)
    views = bot.slack.open_views(ALICE)
    assert views and views[-1]["callback_id"] == "timeline:edit", views
    earlier = note.at - timedelta(minutes=5)
    done = bot.submit(views[-1]["id"], {"text": "the customer's CIO joined the call",
                                         "at": earlier})
    assert done.ok and not (done.body or {}).get("errors"), done.body
    assert any(f"Corrected {note.ref}" in t for t in _said_to(bot, ALICE))

    again = next(e for e in _entries(bot) if e.id == note.id)
    assert again.text == note.text, "the original is never overwritten"
    assert again.shown_text == "the customer's CIO joined the call"
    assert again.shown_at == earlier.replace(second=0, microsecond=0)
    assert len(again.revisions) == 1 and again.revisions[0].by == ALICE

    summary = _summary_text(bot, channel)
    assert "CIO joined the call" in summary and "CTO joined" not in summary
    assert "(corrected)" in summary


def test_removal_by_a_lead_and_refusal_for_someone_else(bot: LocalBot) -> None:
    channel = _opened(bot)
    assert bot.command("note wrong channel, ignore this", channel=channel).ok
    note = next(e for e in _entries(bot) if e.kind == "note")

    # Carol is neither the author nor a lead: a clear refusal, nothing changes
    refused = bot.command(f"timeline edit {note.ref}", channel=channel, user=CAROL)
    assert refused.ok and "Only its author" in refused.body["text"], refused.body
    assert "a lead" in refused.body["text"]
    assert not bot.slack.open_views(CAROL)

    # the list's button refuses too, in an ephemeral message
    assert bot.command("timeline", channel=channel, user=CAROL).ok
    eph = next(e for e in bot.slack.ephemerals(CAROL) if e.source == "ack" and e.blocks)
    bot.click(f"timeline:edit:{note.id}", message_ts=eph.ts, channel=channel, user=CAROL)
    assert not bot.slack.open_views(CAROL)
    assert any("Only its author" in t for t in _said_to(bot, CAROL)), _said_to(bot, CAROL)

    # a lead may remove anyone's entry
    bot.command(f"timeline edit {note.ref}", channel=channel, user=LEAD)
    view = bot.slack.open_views(LEAD)[-1]
    assert bot.slack.view(view["id"]) is not None
    done = bot.submit(view["id"], {"remove": ["yes"]}, user=LEAD)
    assert done.ok and not (done.body or {}).get("errors"), done.body
    assert any(f"Removed {note.ref}" in t for t in _said_to(bot, LEAD))

    kept = next(e for e in _entries(bot) if e.id == note.id)
    assert kept.removed and kept.text == "wrong channel, ignore this", "history keeps it"
    summary = _summary_text(bot, channel)
    assert "wrong channel" not in summary

    # a bad reference says how to find the right one
    bad = bot.command("timeline edit T99", channel=channel)
    assert "There is no T99" in bad.body["text"]


def test_reaction_capture_over_socket_mode(any_bot: LocalBot) -> None:
    bot = any_bot
    channel = _opened(bot)
    said = bot.slack.add_message(channel, BOB, "customer says the lobby is dark")
    reply = bot.slack.react(bot.events_url, user_id=ALICE, channel_id=channel, ts=said.ts,
                            via=bot.via)
    assert reply.status == 200
    bot.settle()
    captured = [e for e in _entries(bot) if e.kind == "captured"]
    assert [(e.actor, e.text) for e in captured] == [(BOB, "customer says the lobby is dark")]
