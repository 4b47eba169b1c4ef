"""The real APScheduler against a real database and the local Slack: reminders at their time.

Nothing here calls `run_due`: the production `ReminderScheduler` runs in the background with its
real `BackgroundScheduler`, and the test only moves the `LocalBot` clock so that a due time 30
minutes away arrives within a couple of seconds of wall time. After moving the clock the test
calls `reschedule` (or `resync`): a job's wall time is worked out from the clock offset when it
is scheduled, so recomputing it is how a moved clock reaches the scheduler.

Lateness is measured from the local Slack's message timestamp (wall time of the post), shifted by
the clock offset into the service's time, minus the reminder's due time. It therefore includes
the outbox hop (the scheduler commits the reminder, the outbox worker posts it).

Restarts keep the same `LocalBot` (its local Slack, with the incident channel, and the database)
and replace only its `Runtime`: `runtime.stop()`, move the clock while "down", then
`Runtime.build` again on the same settings and start its outbox worker and scheduler, as
`crisisbot run` would. (The bot's HTTP server still serves the first runtime's app; these tests
send no commands after a restart.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.local.sandbox import LocalBot, shown
from bot.runtime import Runtime
from playbook.domain import cadence
from playbook.domain.model import Incident

LATENESS_LIMIT = timedelta(seconds=1.5)


@pytest.fixture
def bot(db_url: str) -> Iterator[LocalBot]:
    with LocalBot(database_url=db_url, start_scheduler=True) as running:
        yield running
        assert running.slack.violations == [], "payloads Slack would refuse"


def _runtime(bot: LocalBot) -> Runtime:
    assert bot.runtime is not None
    return bot.runtime


def _open_with_cadence(bot: LocalBot) -> tuple[str, Incident]:
    bot.command("open Acme: every lobby screen shows an error")
    channel = bot.incident_channel()
    bot.command("own", channel=channel)
    bot.command("cadence 30m", channel=channel)
    return channel, _runtime(bot).service.get(bot.slack.team_id, 1)


def _due_at(bot: LocalBot, number: int = 1) -> datetime:
    due = cadence.next_update_due(_runtime(bot).service.get(bot.slack.team_id, number))
    assert due is not None
    return due


def _bring_within(bot: LocalBot, due: datetime, seconds: float) -> None:
    """Move the clock so that `due` is `seconds` of wall time away."""
    bot.clock.advance(due - bot.clock() - timedelta(seconds=seconds))


def _lines(bot: LocalBot, channel: str, mark: str) -> list[tuple[float, str]]:
    """(wall time posted, text) of the channel's messages that start with `mark`."""
    return [(float(m.ts), shown(m.text, m.blocks)) for m in bot.slack.messages(channel)
            if shown(m.text, m.blocks).startswith(mark)]


def _dues(bot: LocalBot, channel: str) -> list[tuple[float, str]]:
    return _lines(bot, channel, "🔔")


def _wait_for_due(bot: LocalBot, channel: str, timeout: float = 6.0) -> tuple[float, str]:
    found = bot.slack.wait_for(lambda: _dues(bot, channel), timeout,
                               message="the due reminder to be posted")
    return found[0]


def _lateness(bot: LocalBot, posted: float, due: datetime) -> timedelta:
    """How long after `due` (service time) a message posted at wall time `posted` went out."""
    return datetime.fromtimestamp(posted, UTC) + bot.clock.offset - due


def test_a_due_reminder_fires_once_at_its_time(bot: LocalBot) -> None:
    channel, inc = _open_with_cadence(bot)
    assert inc.id is not None
    rt = _runtime(bot)
    calls: list[float] = []
    fire_due = rt.service.reminders.fire_due

    def counted(incident_id: int, worker: str):  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        return fire_due(incident_id, worker)

    rt.service.reminders.fire_due = counted  # type: ignore[method-assign]
    due = _due_at(bot)
    _bring_within(bot, due, 2.0)
    rt.scheduler.reschedule(inc.id)

    posted, text = _wait_for_due(bot, channel)
    late = _lateness(bot, posted, due)
    print(f"\nlateness of the due reminder: {late.total_seconds():.3f} s")
    assert timedelta(0) <= late < LATENESS_LIMIT, late
    assert "late" not in text, "a reminder on time does not apologise"
    time.sleep(1.5)
    assert len(_dues(bot, channel)) == 1, "exactly one due reminder"
    # The nudge (due in 5 min) came due when the clock jumped: sent once, saying it is late.
    nudges = _lines(bot, channel, "⏰")
    assert len(nudges) == 1 and "late" in nudges[0][1]
    # Once sent, the reminder stays "due" until an update is logged: the wake-up must go to the
    # next reminder (the escalation), not spin on the one already claimed.
    assert len(calls) <= 3, f"{len(calls)} wake-ups for one nudge and one due reminder"
    rt.scheduler.resync()  # nor does a resync wake it again for what it already sent
    time.sleep(0.5)
    assert len(calls) <= 3, f"{len(calls)} wake-ups after a resync"
    planned = rt.scheduler.planned_at(inc.id)
    assert planned is not None
    escalation = due + rt.service.config.policy.escalate_after
    assert abs(planned - (escalation - bot.clock.offset)) < timedelta(seconds=1)


def test_a_clock_moved_after_scheduling_is_picked_up_by_resync(bot: LocalBot) -> None:
    channel, inc = _open_with_cadence(bot)
    rt = _runtime(bot)
    planned = rt.scheduler.planned_at(inc.id)
    assert planned is not None
    nudge_wall = _due_at(bot) - rt.service.config.policy.nudge_before - bot.clock.offset
    assert abs(planned - nudge_wall) < timedelta(seconds=1), "the nudge, 25 min out"

    due = _due_at(bot)
    _bring_within(bot, due, 2.5)
    rt.scheduler.resync()  # the periodic resync, run now rather than in a minute

    posted, _ = _wait_for_due(bot, channel)
    late = _lateness(bot, posted, due)
    print(f"\nlateness after a resync: {late.total_seconds():.3f} s")
    assert timedelta(0) <= late < LATENESS_LIMIT, late
    time.sleep(1.0)
    assert len(_dues(bot, channel)) == 1


def test_an_update_before_due_moves_the_reminder(bot: LocalBot) -> None:
    channel, inc = _open_with_cadence(bot)
    assert inc.id is not None
    rt = _runtime(bot)
    old_due = _due_at(bot)
    _bring_within(bot, old_due, 3.0)
    rt.scheduler.reschedule(inc.id)
    time.sleep(1.0)
    bot.command("update told them we are rolling back the release", channel=channel)
    new_due = _due_at(bot)
    assert new_due > old_due + timedelta(minutes=29)

    # Past the old due time (plus the allowed lateness) nothing was posted.
    time.sleep(max(0.0, (old_due - bot.clock()).total_seconds()) + 1.5)
    assert _dues(bot, channel) == [], "no reminder at the old due time"

    _bring_within(bot, new_due, 2.0)
    rt.scheduler.reschedule(inc.id)
    posted, text = _wait_for_due(bot, channel)
    late = _lateness(bot, posted, new_due)
    print(f"\nlateness at the moved due time: {late.total_seconds():.3f} s")
    assert timedelta(0) <= late < LATENESS_LIMIT, late
    assert "since the last customer update" in text
    time.sleep(1.0)
    assert len(_dues(bot, channel)) == 1


def _restart(bot: LocalBot, *, while_down: timedelta) -> float:
    """Stop the runtime, let `while_down` pass, start a new one; return its start wall time."""
    old = _runtime(bot)
    old.stop()
    bot.clock.advance(while_down)
    new = Runtime.build(old.settings, clock=bot.clock, outbox_threads=2)
    bot.runtime = new
    new.worker.start()
    started = time.time()
    new.scheduler.start()
    return started


def test_a_restart_after_the_due_time_fires_once_promptly_and_says_how_late(
        bot: LocalBot) -> None:
    channel, _ = _open_with_cadence(bot)
    due = _due_at(bot)
    # Down from now until 3 minutes after the due time (before the 15-minute escalation).
    started = _restart(bot, while_down=due + timedelta(minutes=3) - bot.clock())

    posted, text = _wait_for_due(bot, channel, timeout=5.0)
    print(f"\nposted {posted - started:.3f} s after the restart, "
          f"{_lateness(bot, posted, due).total_seconds():.1f} s after its due time")
    assert posted - started < 2.0, "fired promptly after the start"
    assert "3 min late" in text, text
    assert _lines(bot, channel, "⏰") == [], "no stale pre-due nudge after the downtime"

    # Another restart finds the reminder already claimed: nothing is posted again.
    _restart(bot, while_down=timedelta(seconds=1))
    time.sleep(1.5)
    assert len(_dues(bot, channel)) == 1
    assert _lines(bot, channel, "🚨") == [], "not escalated yet"


def test_a_snooze_that_ends_while_down_brings_the_reminder_back_once(bot: LocalBot) -> None:
    channel, _ = _open_with_cadence(bot)
    due = _due_at(bot)
    bot.clock.advance(due - bot.clock() + timedelta(minutes=1))
    reply = bot.command("snooze 15m on a call with their IT lead", channel=channel)
    assert "Snoozed the reminders about the overdue customer update" in reply.body["text"]
    # Down past the end of the snooze (and past the 15-minute escalation, which it covered).
    _restart(bot, while_down=timedelta(minutes=17))
    back = bot.slack.wait_for(lambda: _lines(bot, channel, "⏰ The snooze"), 5.0,
                              message="the snoozed reminder to come back")
    assert "customer update is overdue" in back[0][1] and "2 min late" in back[0][1]
    assert not [t for t in bot.lines(bot.leads.id) if "🚨" in t], "the escalation was snoozed"
    _restart(bot, while_down=timedelta(seconds=1))
    time.sleep(1.5)
    assert len(_lines(bot, channel, "⏰ The snooze")) == 1, "claimed once, across restarts"


def test_a_periodic_resync_picks_up_what_another_replica_changed(bot: LocalBot) -> None:
    """Another process on the same database moves the cadence; this one hears of it only
    through its periodic resync (the clock does not move, so the resync reads only changes)."""
    from bot.local.sandbox import ALICE
    from playbook.domain.model import Actor

    _, inc = _open_with_cadence(bot)
    assert inc.id is not None
    rt = _runtime(bot)
    before = rt.scheduler.planned_at(inc.id)
    assert before is not None
    other = Runtime.build(rt.settings, clock=bot.clock, migrate=False)  # never started
    try:
        saved = other.service.command(inc.id, Actor(ALICE), "cadence", "10m",
                                      team_id=bot.slack.team_id).incident
    finally:
        other.stop()
    assert saved is not None
    moved = cadence.next_update_due(saved)
    assert moved is not None
    assert rt.scheduler.planned_at(inc.id) == before, "nothing told this replica yet"

    rt.scheduler.resync()
    after = rt.scheduler.planned_at(inc.id)
    assert after is not None
    nudge = moved - rt.service.config.policy.nudge_before - bot.clock.offset
    assert abs(after - nudge) < timedelta(seconds=1), "the nudge of the new 10-minute cadence"
    assert after < before


def test_every_slot_is_a_job_of_its_own() -> None:
    """Slots shorter than the job id's resolution shared one job: half of a burst's wake-ups
    (every other 50 ms slot) were dropped when the next slot replaced the job."""
    from bot.scheduler import SLOT, ReminderScheduler

    start = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    slots = [start + n * SLOT for n in range(1000)]
    ids = {ReminderScheduler._slot_id(slot) for slot in slots}
    assert len(ids) == len(slots)
