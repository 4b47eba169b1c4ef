"""The running bot prunes on a schedule: an hourly job, with CRISISBOT_RETENTION's period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.local.sandbox import LocalBot
from bot.scheduler import HOUSEKEEPING_EVERY
from playbook.store.tables import HandledEventRow, OutboxRow


def test_the_scheduler_prunes_finished_rows_hourly() -> None:
    with LocalBot(start_scheduler=True, settings={"retention": timedelta(hours=2)}) as bot:
        assert bot.command("open Acme: lobby screens down").ok
        assert bot.runtime is not None
        job = bot.runtime.scheduler.scheduler.get_job("housekeeping")
        assert job is not None and job.trigger.interval == HOUSEKEEPING_EVERY
        sessions = bot.runtime.service.sessions

        def counts() -> tuple[int, int]:
            with sessions() as s:
                return (s.scalar(select(func.count()).select_from(OutboxRow)) or 0,
                        s.scalar(select(func.count()).select_from(HandledEventRow)) or 0)
        done, _ = counts()
        assert done > 0
        job.func()  # as the hour comes round, before the period has passed: nothing goes
        assert counts()[0] == done
        bot.clock.advance(timedelta(hours=3))
        job.func()
        assert counts() == (0, 0)
        assert bot.command("status", channel=bot.incident_channel()).ok, "the bot goes on"
