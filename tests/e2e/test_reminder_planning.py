"""The real scheduler plans an incident's reminders as soon as a command is acked.

An open, a typed command, a button or a form hands the scheduler the incident exactly as its
transaction saved it (no second read); the plan must still be the one a fresh read gives, and
a later change must move it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.local.sandbox import LocalBot

# A wake-up runs at the end of its 100 ms slot; the test's own steps take a little too.
TOLERANCE = timedelta(milliseconds=500)


def _planned_in(bot: LocalBot, number: int) -> timedelta:
    """How far ahead the scheduler's wake-up for INC-`number` is, in wall time."""
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, number)
    assert inc.id is not None
    planned = bot.slack.wait_for(lambda: bot.runtime.scheduler.planned_at(inc.id), 5.0,
                                 message="a planned wake-up")
    return planned - datetime.now(UTC)


def _due_in(bot: LocalBot, number: int) -> timedelta:
    """How far ahead the next reminder is by a fresh read of the incident, in service time."""
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, number)
    when = bot.runtime.service.reminders.next_wakeup(inc)
    assert when is not None
    return when - bot.clock()


def test_open_and_each_command_plan_the_reminders_a_fresh_read_would() -> None:
    with LocalBot(start_scheduler=True) as bot:
        assert bot.runtime is not None
        assert bot.command("open Acme: checkout fails for a share of orders").ok
        channel = bot.incident_channel()
        assert abs(_planned_in(bot, 1) - _due_in(bot, 1)) < TOLERANCE
        # owning it ends the "nobody owns this" nag; each cadence moves the next update
        for command, roughly in (("own", timedelta(minutes=55)),
                                 ("cadence 2h", timedelta(minutes=115)),
                                 ("cadence 30m", timedelta(minutes=25))):
            assert bot.command(command, channel=channel).ok
            bot.slack.wait_for(
                lambda roughly=roughly: abs(_planned_in(bot, 1) - roughly) < TOLERANCE, 5.0,
                message=f"the plan to move after {command!r}")
            assert abs(_planned_in(bot, 1) - _due_in(bot, 1)) < TOLERANCE, command
        assert bot.slack.violations == []
