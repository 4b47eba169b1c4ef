"""APScheduler wiring: wake-ups grouped into short time slots, rebuilt from the database.

The database is the truth. This scheduler only remembers *when* to look next; at each wake-up
`ReminderService.fire_due` works out from the saved incident what is due and claims every
reminder in the database before it is sent, so a restart, a resync or a second replica never
sends twice.
Jobs live in memory (never a shared job store), use `misfire_grace_time=None` so a wake-up
that was due while the process was busy or down still runs, and are rebuilt at every start and
by a periodic resync that picks up changes made by other replicas.

Each incident's next wake-up goes into a slot of SLOT (50 ms) of wall time, and APScheduler
holds one date job per slot, run at the slot's end (never early, at most a slot late). Ten
thousand incidents due within a minute are then some 1,200 jobs, not 10,000: the start-up
rebuild does not pay APScheduler's per-job cost (a signature check, a sorted insert) ten
thousand times, and the incidents of one slot are fired together in one transaction. (The slot
is a trade: 100 ms slots halved the jobs and added 50 ms to every reminder on average.)

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
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from bot import metrics
from playbook.domain import cadence
from playbook.domain.model import Incident
from playbook.services.incidents import Service

log = logging.getLogger(__name__)

# After a failed wake-up (database unreachable, too many conflicts): try again this much later.
RETRY_AFTER = timedelta(seconds=5)
# How often finished outbox rows and old event ids are pruned (`housekeeping`); the first run
# waits a little after start, so a restart is not slowed by it.
HOUSEKEEPING_EVERY = timedelta(hours=1)
HOUSEKEEPING_FIRST = timedelta(minutes=1)
# While Slack has revoked the team's tokens: how often to check whether it was reinstalled.
PAUSED_RECHECK = timedelta(minutes=5)


# APScheduler's executor threads. A wake-up is one short transaction: more threads than this
# only queue for the database (on SQLite, for its one writer, ahead of the outbox's threads).
EXECUTOR_THREADS = 4
# Wake-ups due together are fired together: at most this many incidents per transaction, and
# at most FIRERS transactions at once (SQLite has one writer anyway; PostgreSQL overlaps two).
FIRE_BATCH = 50
FIRERS = 2
# A resync leaves a job alone when its wall time moved less than this (measuring the clock's
# offset twice differs by microseconds; a test clock moved by a second or more is a change).
SAME_TIME = timedelta(milliseconds=50)
# Wake-ups are grouped into slots this long; a wake-up runs at its slot's end, at most this late.
SLOT = timedelta(milliseconds=50)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ReminderScheduler:
    def __init__(self, service: Service, on_fired: Callable[[], None], *,
                 resync_every: timedelta = timedelta(seconds=60),
                 executor_threads: int = EXECUTOR_THREADS,
                 housekeeping: Callable[[], object] | None = None) -> None:
        self.service = service
        # pruning (playbook/services/retention.py), run every HOUSEKEEPING_EVERY
        self.housekeeping = housekeeping
        self.on_fired = on_fired
        self.resync_every = resync_every
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(executor_threads)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        # Guards the maps below and job updates; never held across a database read (a resync
        # reads 10,000 incidents: every wake-up's follow-up would queue behind it).
        self._lock = threading.RLock()
        # incident id -> service time at which its last successful wake-up here began.
        self._handled: dict[int, datetime] = {}
        # incident id -> the incident version its job was planned from: a reader that read
        # before a change (a resync, a wake-up) never overwrites the plan of one that read
        # after it (every save increments the version).
        self._versions: dict[int, int] = {}
        # incident id -> the wall time (its slot's end) its wake-up is planned for (None: none
        # planned). It stays after the slot ran; `_slots` says whether it is still waiting.
        self._planned: dict[int, datetime | None] = {}
        # slot end (wall time) -> the incidents waiting in it; each slot is one APScheduler job
        self._slots: dict[datetime, set[int]] = {}
        # incidents whose wake-up came, waiting to be fired (see `fire`)
        self._due: deque[int] = deque()
        self._queued: set[int] = set()  # in `_due` or in a batch being fired
        # the service clock's offset from wall time at the last full resync (None: none yet)
        self._synced_offset: timedelta | None = None
        self._firers = threading.BoundedSemaphore(FIRERS)

    def start(self) -> None:
        # Paused while the jobs are rebuilt: a running scheduler wakes its thread for every
        # job added (10,000 at start-up), and those wake-ups compete with the rebuild itself.
        # What came due meanwhile runs as soon as it resumes (misfire_grace_time=None).
        self.scheduler.start(paused=True)
        try:
            self.resync()
            self.scheduler.add_job(self.resync, "interval",
                                   seconds=self.resync_every.total_seconds(), id="resync",
                                   replace_existing=True)
            if self.housekeeping is not None:
                self.scheduler.add_job(
                    self.housekeeping, "interval", id="housekeeping", replace_existing=True,
                    seconds=HOUSEKEEPING_EVERY.total_seconds(),
                    next_run_time=datetime.now(UTC) + HOUSEKEEPING_FIRST)
        finally:
            self.scheduler.resume()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def resync(self, *, full: bool = False) -> None:
        """Bring every incident's wake-up in line with the database (start-up and periodically).

        The first resync, and any after the service clock moved against wall time (tests and
        `demo` move it), read every active incident whole. The periodic ones read only ids and
        versions, and whole only the incidents that changed since (another replica saved them),
        are new, or have no wake-up waiting: at 10,000 incidents a full read is a second or more
        of the one interpreter, every minute, in the middle of whatever is firing.
        Jobs whose time did not change are left alone, and the lock is taken per incident, so
        wake-ups keep running while a resync goes through 10,000 incidents.
        """
        offset = self._offset()
        full = full or self._synced_offset is None or \
            abs(offset - self._synced_offset) >= SAME_TIME
        try:
            if full:
                incidents = self.service.reminders.active_incidents()
                active = {inc.id for inc in incidents}
            else:
                versions = self.service.reminders.active_versions()
                active = set(versions)
                with self._lock:
                    changed = [i for i, v in versions.items() if not self._in_line(i, v)]
                incidents = self.service.reminders.incidents_by_id(changed)
        except Exception:
            log.exception("resync failed; keeping the jobs we have")
            return
        for inc in incidents:
            with self._lock:
                self._apply(inc, force=False)
        with self._lock:
            for incident_id in [i for i in self._planned if i not in active]:
                self._remove(incident_id)
            for table in (self._handled, self._versions, self._planned):
                for incident_id in [i for i in table if i not in active]:
                    del table[incident_id]
        if full:
            self._synced_offset = offset

    def _in_line(self, incident_id: int, version: int) -> bool:
        """Planned from this version, and its wake-up still waiting (or none needed, or being
        fired now): a resync has nothing to do for it."""
        if self._versions.get(incident_id) != version or incident_id not in self._planned:
            return False
        slot = self._planned[incident_id]
        return slot is None or incident_id in self._queued or \
            incident_id in self._slots.get(slot, ())

    def reschedule(self, incident_id: int) -> None:
        """Called after a command saved a change that moves this incident's reminders."""
        try:
            inc = self.service.get_by_id(incident_id)
        except Exception:
            log.exception("could not reschedule incident %s; retrying", incident_id)
            with self._lock:
                self._set(incident_id, self.service.clock() + RETRY_AFTER)
            return
        with self._lock:
            if inc is None:
                self._forget(incident_id)
                return
            self._apply(inc, force=True)

    def schedule(self, inc: Incident) -> None:
        """Wake at once if a reminder not yet handled here is due, else at the next one."""
        with self._lock:
            self._apply(inc, force=True)

    def _apply(self, inc: Incident, *, force: bool) -> None:
        assert inc.id is not None
        seen = self._versions.get(inc.id)
        if seen is not None and inc.version < seen:
            return  # read before a change whose plan is already applied
        self._versions[inc.id] = inc.version
        now = self.service.clock()
        policy = self.service.playbooks.policy_for(inc)
        handled = self._handled.get(inc.id)
        pending = [r for r in cadence.due_reminders(inc, policy, now)
                   if handled is None or r.due_at > handled]
        # Due and not handled: it came due while we were down, busy or not watching.
        when = now if pending else cadence.next_wakeup(inc, policy, now)
        if not force and not pending and inc.id in self._planned:
            planned, wall = self._planned[inc.id], self._real_time(when) if when else None
            if (planned is None and wall is None) or (
                    planned is not None and wall is not None
                    and abs(planned - self._slot_of(wall)) < SAME_TIME
                    and inc.id in self._slots.get(planned, ())):
                return  # a resync, and nothing moved (neither the plan nor the clock)
        self._set(inc.id, when)

    def planned_at(self, incident_id: int) -> datetime | None:
        """The wall time this incident's next wake-up is waiting for (None: none waiting)."""
        with self._lock:
            when = self._planned.get(incident_id)
            return when if when is not None and incident_id in self._slots.get(when, ()) \
                else None

    def _wake_slot(self, slot: datetime) -> None:
        """A slot's job: fire the incidents waiting in it."""
        with self._lock:
            ids = self._slots.pop(slot, set())
        self.fire(*sorted(ids))

    def fire(self, *incident_ids: int) -> None:
        """Fire what is due for these incidents, then plan their next wake-ups.

        Wake-ups that come due together are fired together: each incident is queued, and up
        to FIRERS threads at a time take the queue in batches of up to FIRE_BATCH (one read
        and one transaction per batch, `ReminderService.fire_due_many`); other callers return at
        once. A lone wake-up is a batch of one (`ReminderService.fire_due`).
        """
        with self._lock:
            for incident_id in incident_ids:
                if incident_id in self._queued:
                    # queued or being fired already (a resync re-planned a wake-up still
                    # waiting): one at a time, or two batches would lock the same incidents
                    # (PostgreSQL deadlock); the firing in progress plans what is due after it
                    continue
                self._queued.add(incident_id)
                self._due.append(incident_id)
        while self._firers.acquire(blocking=False):
            try:
                while True:
                    with self._lock:
                        # in id order: concurrent batches lock incidents in one order
                        batch = sorted(self._due.popleft()
                                       for _ in range(min(len(self._due), FIRE_BATCH)))
                    if not batch:
                        break
                    self._fire_batch(batch)
            finally:
                self._firers.release()
            with self._lock:
                if not self._due:  # (checked after releasing: nothing queued is left behind)
                    return

    def _fire_batch(self, batch: list[int]) -> None:
        started = self.service.clock()
        try:
            if len(batch) == 1:
                results = {batch[0]: self.service.reminders.fire_due(batch[0], self.worker)}
            else:
                results = self.service.reminders.fire_due_many(batch, self.worker)
        except Exception:
            log.exception("firing reminders for incidents %s failed; retrying in %s",
                          batch, RETRY_AFTER)
            with self._lock:
                self._queued.difference_update(batch)
                for incident_id in batch:
                    self._set(incident_id, self.service.clock() + RETRY_AFTER)
            return
        fired_at = datetime.now(UTC)
        with self._lock:
            for incident_id in results:  # due (its slot's end, wall time) -> fired
                planned = self._planned.get(incident_id)
                if planned is not None:
                    metrics.reminder_lateness((fired_at - planned).total_seconds())
            # (before planning: a wake-up planned for now must find them not queued)
            self._queued.difference_update(batch)
            for incident_id, fired in list(results.items()):
                if fired.paused:  # the team's tokens are gone: look again later
                    self._set(incident_id, self.service.clock() + PAUSED_RECHECK)
                    del results[incident_id]
            for incident_id in results:
                # fire_due claimed everything due at `started` or found it claimed by someone
                # else (a claim commits with its send, so a taken claim is a sent reminder)
                self._handled[incident_id] = started
        self.on_fired()
        # plan each next wake-up from the incident as fire_due saved it (no second read); a
        # change committed after it carries a higher version and wins
        with self._lock:
            for incident_id, fired in results.items():
                if fired.incident is None:
                    self._forget(incident_id)
                else:
                    self._apply(fired.incident, force=True)

    @property
    def firing(self) -> bool:
        """Whether wake-ups are queued or being fired (the sandbox moves its clock only when
        not: bot/local/sandbox.py)."""
        with self._lock:
            return bool(self._queued)

    def run_due(self) -> int:
        """Fire everything due now by the service's clock (tests and `demo` drive time this way)."""
        fired = 0
        now = self.service.clock()
        for inc in self.service.reminders.active_incidents():
            due = cadence.due_reminders(inc, self.service.playbooks.policy_for(inc), now)
            if due:
                assert inc.id is not None
                metrics.reminder_lateness((now - min(r.due_at for r in due)).total_seconds())
                if not self.service.reminders.fire_due(inc.id, self.worker).paused:
                    fired += 1
        if fired:
            self.on_fired()
        return fired

    def _forget(self, incident_id: int) -> None:
        self._remove(incident_id)
        for table in (self._handled, self._versions, self._planned):
            table.pop(incident_id, None)

    def _set(self, incident_id: int, when: datetime | None) -> None:
        """Plan the incident's next wake-up at service time `when` (None: no wake-up)."""
        self._remove(incident_id)
        if when is None:
            self._planned[incident_id] = None
            return
        slot = self._planned[incident_id] = self._slot_of(self._real_time(when))
        if not self.scheduler.running:
            return  # (stopped: the next start rebuilds every wake-up from the database)
        waiting = self._slots.setdefault(slot, set())
        waiting.add(incident_id)
        if len(waiting) == 1:
            self.scheduler.add_job(self._wake_slot, "date", run_date=slot, args=[slot],
                                   id=self._slot_id(slot), replace_existing=True)

    @staticmethod
    def _slot_of(wall: datetime) -> datetime:
        """The end of the slot holding `wall` (never before it: a wake-up is never early)."""
        slots = -((_EPOCH - wall) // SLOT)  # ceiling division
        return _EPOCH + slots * SLOT

    def _real_time(self, when: datetime) -> datetime:
        """Map a time of the service clock to wall time (they differ only under a test clock).

        The offset is measured now (clock first, wall second, so rounding can only make the job
        a little late, never early) and baked into the job: after the clock moves, `reschedule`
        or `resync` must recompute it, which they do from the database.
        """
        return when - self._offset()

    def _offset(self) -> timedelta:
        return self.service.clock() - datetime.now(UTC)

    def _remove(self, incident_id: int) -> None:
        """Take the incident out of the slot it waits in; a slot left empty loses its job."""
        slot = self._planned.get(incident_id)
        waiting = self._slots.get(slot) if slot is not None else None
        if waiting is None or incident_id not in waiting:
            return
        waiting.discard(incident_id)
        if not waiting:
            del self._slots[slot]
            # the scheduler's own thread drops a date job once it has run: it may be gone
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(self._slot_id(slot))

    @staticmethod
    def _slot_id(slot: datetime) -> str:
        return f"slot-{round(slot.timestamp() * 1000)}"  # (ms: one id per slot, whatever SLOT)
