"""APScheduler wiring: one wake-up job per incident, rebuilt from the database.

The database is the truth. This scheduler only remembers *when* to look next; at each wake-up
`Service.fire_due` works out from the saved incident what is due and claims every reminder in
the database before it is sent, so a restart, a resync or a second replica never sends twice.
Jobs live in memory (never a shared job store), use `misfire_grace_time=None` so a wake-up
that was due while the process was busy or down still runs, and are rebuilt at every start and
by a periodic resync that picks up changes made by other replicas.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from playbook import cadence
from playbook.model import Incident
from playbook.service import Service

log = logging.getLogger(__name__)


class ReminderScheduler:
    def __init__(self, service: Service, on_fired: Callable[[], None], *,
                 resync_every: timedelta = timedelta(seconds=60)) -> None:
        self.service = service
        self.on_fired = on_fired
        self.resync_every = resync_every
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    def start(self) -> None:
        self.scheduler.start()
        self.resync()
        self.scheduler.add_job(self.resync, "interval",
                               seconds=self.resync_every.total_seconds(), id="resync",
                               replace_existing=True)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def resync(self) -> None:
        """Rebuild every incident's wake-up from the database (start-up and periodically)."""
        try:
            incidents = self.service.active_incidents()
        except Exception:
            log.exception("resync failed; keeping the jobs we have")
            return
        wanted = set()
        for inc in incidents:
            wanted.add(self._job_id(inc.id))
            self.schedule(inc)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("inc-") and job.id not in wanted:
                job.remove()

    def reschedule(self, incident_id: int) -> None:
        """Called after a command saved a change that moves this incident's reminders."""
        inc = self.service.get_by_id(incident_id)
        if inc is None:
            self._remove(incident_id)
            return
        self.schedule(inc)

    def schedule(self, inc: Incident) -> None:
        assert inc.id is not None
        now = self.service.clock()
        policy = self.service.config.policy
        if cadence.due_reminders(inc, policy, now):
            when: datetime | None = now  # came due while we were down: fire at once
        else:
            when = cadence.next_wakeup(inc, policy, now)
        if when is None:
            self._remove(inc.id)
            return
        if self.scheduler.running:
            self.scheduler.add_job(self.fire, "date", run_date=self._real_time(when),
                                   args=[inc.id], id=self._job_id(inc.id),
                                   replace_existing=True)

    def fire(self, incident_id: int) -> None:
        try:
            self.service.fire_due(incident_id, self.worker)
        except Exception:
            log.exception("firing reminders for incident %s failed", incident_id)
        finally:
            self.on_fired()
            self.reschedule(incident_id)

    def run_due(self) -> int:
        """Fire everything due now by the service's clock (tests and `demo` drive time this way)."""
        fired = 0
        now = self.service.clock()
        for inc in self.service.active_incidents():
            if cadence.due_reminders(inc, self.service.config.policy, now):
                assert inc.id is not None
                self.service.fire_due(inc.id, self.worker)
                fired += 1
        if fired:
            self.on_fired()
        return fired

    def _real_time(self, when: datetime) -> datetime:
        """Map the service clock's time to wall time (they differ only under a test clock)."""
        offset = self.service.clock() - datetime.now(UTC)
        return when - offset

    def _remove(self, incident_id: int) -> None:
        job = self.scheduler.get_job(self._job_id(incident_id))
        if job is not None:
            job.remove()

    @staticmethod
    def _job_id(incident_id: int | None) -> str:
        return f"inc-{incident_id}"
