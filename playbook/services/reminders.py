"""Reminders: firing those due (each claimed exactly once) and the scheduler's reads.

The scheduler keeps only in-memory wake-ups, rebuilt from the database (`active_incidents`,
`active_versions`, `incidents_by_id`); at each wake-up `fire_due` works out from the saved
incident what is due and claims and sends it in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain import cadence, reminders
from playbook.domain.model import Effect, Incident, Policy, TimelineEntry
from playbook.services.outcomes import outbox_rows
from playbook.services.playbooks import PlaybookCatalog
from playbook.services.transactions import retry_stale
from playbook.store import lifecycle as lifecycle_store

__all__ = ["Fired", "ReminderService"]

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
"""How long a reminder claim holds before another process may take it over (see
`playbook.store.reminder_claims.take_reminders`)."""


@dataclass(frozen=True)
class Fired:
    """What `ReminderService.fire_due` did: the effects it fired and the incident as it saved it
    (None when the incident is gone)."""

    effects: list[Effect]
    incident: Incident | None
    paused: bool = False  # Slack took the team's tokens: nothing was claimed


class ReminderService:
    """Reminders over the database; shares the incident service's sessions, clock and playbooks."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 playbooks: PlaybookCatalog) -> None:
        self.sessions = sessions
        self.clock = clock
        self.playbooks = playbooks

    # --- the scheduler's reads ----------------------------------------------------------------

    def active_incidents(self) -> list[Incident]:
        with store.reading(self.sessions) as session:
            return store.list_active(session)

    def active_versions(self) -> dict[int, int]:
        with store.reading(self.sessions) as session:
            return store.active_versions(session)

    def incidents_by_id(self, ids: Iterable[int], chunk: int = 500) -> list[Incident]:
        """These incidents, whole (those that still exist), a few hundred per statement."""
        wanted = list(ids)
        found: list[Incident] = []
        with store.reading(self.sessions) as session:
            for first in range(0, len(wanted), chunk):
                found.extend(store.load_incidents(session, wanted[first:first + chunk]).values())
        return found

    def next_wakeup(self, incident: Incident) -> datetime | None:
        return cadence.next_wakeup(incident, self.playbooks.policy_for(incident), self.clock())

    # --- firing -------------------------------------------------------------------------------

    def fire_due(self, incident_id: int, worker: str) -> Fired:
        """Fire every reminder of the incident that is due now, each claimed exactly once.

        Returns what was fired and the incident as this transaction left it, so the scheduler
        can plan the next wake-up without reading it again.
        """
        # Read first, outside any write transaction (on SQLite a plain reader takes no lock):
        # most wake-ups then write once, and one that finds nothing due never writes at all.
        # The write re-checks everything: a claim taken meanwhile is skipped, and a change
        # saved meanwhile fails the version check and the whole wake-up is retried from a
        # fresh read inside the transaction.
        with store.reading(self.sessions) as session:
            first = store.get_incident_by_id(session, incident_id)
        if first is None or not cadence.due_reminders(first, self.playbooks.policy_for(first),
                                                      self.clock()):
            return Fired([], first)
        read: list[Incident] = [first]

        def work(session: Session, now: datetime) -> Fired:
            inc = read.pop() if read else store.get_incident_by_id(session, incident_id)
            return self._fire_in(session, inc, worker, now, outdated=inc is first)
        return retry_stale(self.sessions, self.clock, work)

    def fire_due_many(self, incident_ids: Iterable[int], worker: str) -> dict[int, Fired]:
        """`fire_due` for several incidents at once: read together, fired in one transaction.

        A burst of reminders (thousands of incidents due within a minute) then costs a read
        and a commit per batch instead of per incident. If any of them changed between the
        read and the write, each is fired again on its own (`fire_due`, from a fresh read).
        """
        ids = list(dict.fromkeys(incident_ids))
        with store.reading(self.sessions) as session:
            found = store.load_incidents(session, ids)
        now = self.clock()
        out = {i: Fired([], found.get(i)) for i in ids}
        policy_for = self.playbooks.policy_for
        due = [found[i] for i in ids
               if i in found and cadence.due_reminders(found[i], policy_for(found[i]), now)]
        if not due:
            return out
        try:
            with self.sessions.begin() as session:
                now = self.clock()
                # each team's pause, read once for the batch in one query (a batch spans many
                # workspaces: one query per team was a round trip per incident)
                teams = {inc.team_id for inc in due}
                stopped = lifecycle_store.paused_reasons(session, teams)
                paused: dict[str, bool] = {team: team in stopped for team in teams}
                fired = self._fire_batch(session, due, worker, now, paused)
        except store.StaleIncident:
            log.debug("an incident changed while its reminders fired; one at a time")
            return {**out, **{inc.id: self.fire_due(inc.id, worker)
                              for inc in due if inc.id is not None}}
        out.update({i: f for i, f in fired.items() if i is not None})
        return out

    def _fire_batch(self, session: Session, due: list[Incident], worker: str, now: datetime,
                    paused: dict[str, bool], *, outdated: bool = True) -> dict[int | None, Fired]:
        """Claim and fire the due reminders of these incidents in `session`, with a handful of
        round trips for the whole batch rather than four or more per incident: the claims in
        one insert, the saves (their version checks) in one executemany, the timeline lines and
        outbox rows in one each. Each claim commits with the send (its outbox rows) or not at
        all. `paused`: each team's pause as this transaction read it. `outdated`: the incidents
        were read before this transaction; it raises `StaleIncident` when any changed since
        (the save's version check), or when a reminder it had due now says nothing (marking it
        sent unsaid on an outdated read would lose it): the caller fires again from a fresh
        read."""
        fired: dict[int | None, Fired] = {}
        plans: list[tuple[Incident, Policy, list[cadence.Reminder]]] = []
        for inc in due:
            if paused.get(inc.team_id):
                # Slack took the team's tokens: claim nothing, so all is still due once back
                fired[inc.id] = Fired([], inc, paused=True)
                continue
            policy = self.playbooks.policy_for(inc, session)
            plans.append((inc, policy, cadence.due_reminders(inc, policy, now)))
        taken = store.take_reminders(
            session, [(inc.team_id, (inc.id, r.kind.value, r.due_at, r.ref))
                      for inc, _policy, due_now in plans for r in due_now if inc.id is not None],
            now=now, worker=worker, lease=CLAIM_LEASE)
        saves: list[tuple[Incident, store.Snapshot]] = []
        lines: list[tuple[int, str, TimelineEntry]] = []
        rows: list[tuple[str, int | None, str, dict]] = []
        for inc, policy, due_now in plans:
            assert inc.id is not None
            current, spoke = inc, False
            effects: list[Effect] = []
            for reminder in due_now:
                if (inc.id, reminder.kind.value, reminder.due_at, reminder.ref) not in taken:
                    continue
                outcome = reminders.fire(current, reminder, now, policy)
                if outcome is None:
                    if outdated and not spoke:  # (once one spoke, the save proves the read)
                        raise store.StaleIncident(inc.id, inc.version)
                    continue
                spoke = True
                current = outcome.incident
                effects.extend(outcome.effects)
                lines.extend((inc.id, inc.team_id, entry) for entry in outcome.timeline)
                rows.extend((inc.team_id, inc.id, kind, payload)
                            for kind, payload in outbox_rows(outcome))
            if spoke:
                saves.append((current, store.children_snapshot(inc)))
            fired[inc.id] = Fired(effects, current)
        for saved in store.save_incidents(session, saves):
            fired[saved.id] = replace(fired[saved.id], incident=saved)
        store.append_timelines(session, lines)
        store.enqueue_for(session, rows, requested_by=None, now=now)
        return fired

    def _fire_in(self, session: Session, inc: Incident | None, worker: str, now: datetime, *,
                 outdated: bool) -> Fired:
        """Claim and fire the incident's due reminders in `session` (`_fire_batch` for one);
        `outdated`: `inc` was read before this transaction began."""
        if inc is None or inc.id is None:
            return Fired([], None)
        paused = {inc.team_id: lifecycle_store.is_paused(session, inc.team_id)}
        return self._fire_batch(session, [inc], worker, now, paused, outdated=outdated)[inc.id]
