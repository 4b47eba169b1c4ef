"""APScheduler wiring: one wake-up job per incident, rebuilt from the database.

The database is the truth. This scheduler only remembers *when* to look next; at each wake-up
`Service.fire_due` works out from the saved incident what is due and claims every reminder in
the database before it is sent, so a restart, a resync or a second replica never sends twice.
Jobs live in memory (never a shared job store), use `misfire_grace_time=None` so a wake-up
that was due while the process was busy or down still runs, and are rebuilt at every start and
by a periodic resync that picks up changes made by other replicas.

A reminder stays "due" after it was sent (an unanswered update is due until someone logs one),
so "is anything due?" alone would wake an incident again and again. Each process remembers when
its last successful wake-up of an incident began: everything due at that moment was claimed
then (sent by us, or already by another replica), so only reminders due after it count.

Times: the service's clock may run ahead of the wall clock (tests and `demo` move it), while
APScheduler runs jobs by wall time. Each job's wall time is worked out from the clock's offset
when it is scheduled; a clock moved afterwards leaves jobs at their old wall times until the
next `reschedule` or `resync`, which recompute them from the database with the new offset.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from playbook import cadence
from playbook.model import Incident
from playbook.service import Service

log = logging.getLogger(__name__)

# After a failed wake-up (database unreachable, too many conflicts): try again this much later.
RETRY_AFTER = timedelta(seconds=5)
# While Slack has revoked the team's tokens: how often to check whether it was reinstalled.
PAUSED_RECHECK = timedelta(minutes=5)


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
        # Held from reading an incident to setting its job, so a reader that read before a
        # change was committed (a resync) can never overwrite the job of one that read after.
        self._lock = threading.RLock()
        # incident id -> service time at which its last successful wake-up here began.
        self._handled: dict[int, datetime] = {}

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
        with self._lock:
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
                    self._remove_job(job.id)
            active = {inc.id for inc in incidents}
            for incident_id in list(self._handled):
                if incident_id not in active:
                    del self._handled[incident_id]

    def reschedule(self, incident_id: int) -> None:
        """Called after a command saved a change that moves this incident's reminders."""
        with self._lock:
            try:
                inc = self.service.get_by_id(incident_id)
            except Exception:
                log.exception("could not reschedule incident %s; retrying", incident_id)
                self._set(incident_id, self.service.clock() + RETRY_AFTER)
                return
            if inc is None:
                self._remove(incident_id)
                return
            self.schedule(inc)

    def schedule(self, inc: Incident) -> None:
        """Wake at once if a reminder not yet handled here is due, else at the next one."""
        assert inc.id is not None
        with self._lock:
            now = self.service.clock()
            policy = self.service.config.policy
            handled = self._handled.get(inc.id)
            pending = [r for r in cadence.due_reminders(inc, policy, now)
                       if handled is None or r.due_at > handled]
            # Due and not handled: it came due while we were down, busy or not watching.
            self._set(inc.id, now if pending else cadence.next_wakeup(inc, policy, now))

    def fire(self, incident_id: int) -> None:
        started = self.service.clock()
        try:
            fired = self.service.fire_due(incident_id, self.worker)
        except Exception:
            log.exception("firing reminders for incident %s failed; retrying in %s",
                          incident_id, RETRY_AFTER)
            with self._lock:
                self._set(incident_id, self.service.clock() + RETRY_AFTER)
            return
        if fired is None:  # the team's tokens are gone: look again later, claim nothing
            with self._lock:
                self._set(incident_id, self.service.clock() + PAUSED_RECHECK)
            return
        with self._lock:
            # fire_due claimed everything due at `started` or found it claimed by someone else
            # (a claim commits together with its send, so a taken claim is a sent reminder).
            self._handled[incident_id] = started
        self.on_fired()
        self.reschedule(incident_id)

    def run_due(self) -> int:
        """Fire everything due now by the service's clock (tests and `demo` drive time this way)."""
        fired = 0
        now = self.service.clock()
        for inc in self.service.active_incidents():
            if cadence.due_reminders(inc, self.service.config.policy, now):
                assert inc.id is not None
                if self.service.fire_due(inc.id, self.worker) is not None:
                    fired += 1
        if fired:
            self.on_fired()
        return fired

    def _set(self, incident_id: int, when: datetime | None) -> None:
        if when is None:
            self._remove(incident_id)
            return
        if self.scheduler.running:
            self.scheduler.add_job(self.fire, "date", run_date=self._real_time(when),
                                   args=[incident_id], id=self._job_id(incident_id),
                                   replace_existing=True)

    def _real_time(self, when: datetime) -> datetime:
        """Map a time of the service clock to wall time (they differ only under a test clock).

        The offset is measured now (clock first, wall second, so rounding can only make the job
        a little late, never early) and baked into the job: after the clock moves, `reschedule`
        or `resync` must recompute it, which they do from the database.
        """
        offset = self.service.clock() - datetime.now(UTC)
        return when - offset

    def _remove(self, incident_id: int) -> None:
        self._remove_job(self._job_id(incident_id))

    def _remove_job(self, job_id: str) -> None:
        # The scheduler's own thread drops a date job once it has run: it may be gone already.
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    @staticmethod
    def _job_id(incident_id: int | None) -> str:
        return f"inc-{incident_id}"
