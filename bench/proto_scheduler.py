"""PROTOTYPE (bench only, not used by the bot): scheduler-side changes measured by
`bench/reminders.py --scheduler proto`, proposed for bot/scheduler.py.

A subclass of the current `bot.scheduler.ReminderScheduler`, so it measures exactly these
changes on top of whatever that file holds (the report prints its sha256):

1. The database read happens *outside* `_lock`. `reschedule` and `resync` held the one lock of
   the scheduler while they loaded incidents, so every wake-up's follow-up queued behind every
   other one's database read, and behind a whole resync (list_active plus 10,000 jobs). The lock
   only stopped an older read from overwriting a newer one; comparing the incident's `version`
   (which every save increments) with the last version applied does that without the wait.
2. A resync leaves a job alone when its time did not change (the usual case), instead of
   replacing all 10,000 APScheduler jobs every minute; it takes the lock per incident, so
   wake-ups interleave with it.
3. APScheduler's executor gets 4 threads instead of its default 10: a wake-up is one short
   transaction, and 10 of them queue for SQLite's single writer ahead of the outbox's 4 threads
   (which then starve: the reminder is claimed on time and posted late).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.scheduler import RETRY_AFTER, ReminderScheduler
from playbook.domain import cadence
from playbook.domain.model import Incident
from playbook.services.incidents import Service

log = logging.getLogger(__name__)

EXECUTOR_THREADS = 4


class ProtoScheduler(ReminderScheduler):
    def __init__(self, service: Service, on_fired: Callable[[], None], *,
                 resync_every: timedelta = timedelta(seconds=60),
                 executor_threads: int = EXECUTOR_THREADS) -> None:
        super().__init__(service, on_fired, resync_every=resync_every)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(executor_threads)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._versions: dict[int, int] = {}  # incident id -> version its job was set from
        self._planned: dict[int, datetime | None] = {}  # incident id -> when (service clock)

    # 1. read outside the lock, apply only what is not older than what was applied
    def reschedule(self, incident_id: int) -> None:
        try:
            inc = self.service.get_by_id(incident_id)
        except Exception:
            log.exception("could not reschedule incident %s; retrying", incident_id)
            with self._lock:
                self._set(incident_id, self.service.clock() + RETRY_AFTER)
            return
        with self._lock:
            if inc is None:
                self._versions.pop(incident_id, None)
                self._planned.pop(incident_id, None)
                self._remove(incident_id)
                return
            self._apply(inc, force=True)

    def resync(self) -> None:
        try:
            incidents = self.service.reminders.active_incidents()
        except Exception:
            log.exception("resync failed; keeping the jobs we have")
            return
        for inc in incidents:
            with self._lock:
                self._apply(inc, force=False)
        active = {inc.id for inc in incidents}
        with self._lock:
            for job in self.scheduler.get_jobs():
                if job.id.startswith("inc-") and int(job.id[4:]) not in active:
                    self._remove_job(job.id)
            for table in (self._handled, self._versions, self._planned):
                for incident_id in [i for i in table if i not in active]:
                    del table[incident_id]

    def _apply(self, inc: Incident, *, force: bool) -> None:
        assert inc.id is not None
        seen = self._versions.get(inc.id)
        if seen is not None and inc.version < seen:
            return  # read before a change another thread has already applied
        self._versions[inc.id] = inc.version
        # 2. what `schedule` would set; skip the job update when nothing moved
        now = self.service.clock()
        policy = self.service.config.policy
        handled = self._handled.get(inc.id)
        pending = [r for r in cadence.due_reminders(inc, policy, now)
                   if handled is None or r.due_at > handled]
        when = now if pending else cadence.next_wakeup(inc, policy, now)
        if not force and not pending and inc.id in self._planned \
                and self._planned[inc.id] == when \
                and (when is None or self.scheduler.get_job(self._job_id(inc.id)) is not None):
            return
        self._set(inc.id, when)

    def schedule(self, inc: Incident) -> None:
        with self._lock:
            self._apply(inc, force=True)

    def _set(self, incident_id: int, when: datetime | None) -> None:
        self._planned[incident_id] = when
        super()._set(incident_id, when)
