"""Small request-side defects, each seen as a user would see it."""

from __future__ import annotations

from bot.local.sandbox import BOB, LocalBot


def test_reopen_with_an_incident_number_too_long_is_refused_not_run_here(bot: LocalBot) -> None:
    """`reopen INC-<10+ digits>` used to fall through to the channel's own incident."""
    bot.command("open Acme: lobby screens down")
    channel = bot.incident_channel()
    assert bot.runtime is not None
    before = bot.runtime.service.timeline(bot.runtime.service.get(bot.slack.team_id, 1).id or 0)
    reply = bot.command("reopen INC-12345678901 it broke again", channel=channel)
    assert "There is no `INC-12345678901`" in reply.body["text"], reply.body
    after = bot.runtime.service.timeline(bot.runtime.service.get(bot.slack.team_id, 1).id or 0)
    assert after == before


def test_group_unarchive_names_who_did_it(bot: LocalBot) -> None:
    """Slack's ``group_unarchive`` names the person in ``actor_id`` (no ``user``)."""
    bot.command("open Acme: lobby screens down")
    channel = bot.incident_channel()
    bot.slack.event(bot.events_url, {"type": "group_archive", "channel": channel,
                                     "user": BOB})
    bot.settle()
    bot.slack.event(bot.events_url, {"type": "group_unarchive", "channel": channel,
                                     "actor_id": BOB})
    bot.settle()
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    assert inc.id is not None
    lines = [e.text for e in bot.runtime.service.timeline(inc.id) if e.kind == "lifecycle"]
    assert any("unarchived by <@U0BOB>" in line for line in lines), lines
