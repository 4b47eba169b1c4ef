"""Use cases: load an incident, let the rules decide, save state, history and effects at once.

Each use case is one database transaction: the new state, its timeline lines and the outbox rows
for every Slack side effect commit together or not at all, so nothing acknowledged is lost and a
crash between "decided" and "posted" only delays the post. Conflicting writers are retried from
a fresh read (optimistic concurrency), so two people acting at once both land.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain import cadence, capture, links, parse, recurrence, reminders, rules, verbs
from playbook.domain.errors import NotFound, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Actor,
    AddBookmark,
    CaptureKind,
    CreateChannel,
    Effect,
    Incident,
    Invite,
    Outcome,
    Policy,
    Post,
    PostSummary,
    RefreshCard,
    ReopenChannel,
    Reschedule,
    Status,
    TimelineEntry,
)
from playbook.domain.playbook_file import Playbook
from playbook.domain.text import esc, mention, plain
from playbook.domain.timeline import display
from playbook.services.playbooks import builtin_playbook
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outbox
from playbook.store import playbooks as playbook_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25


class Duplicate(PlaybookError):
    """The same form arrived twice; the first one already did the work."""


class BatchError(PlaybookError):
    """One verb of a modal's batch was refused; `index` says which, for an inline error."""

    def __init__(self, index: int, error: PlaybookError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Origin:
    """Where a request came from, so failures after the ack can be reported to the person."""

    channel_id: str | None = None
    response_url: str | None = None
    # Buttons and modals have no reply body: deliver the confirmation from the outbox instead.
    reply_later: bool = False


@dataclass(frozen=True)
class ServiceConfig:
    policy: Policy = field(default_factory=lambda: Policy(playbook=builtin_playbook()))
    responders: tuple[str, ...] = ()
    private_channels: bool = False
    recurrence_days: int = 90


@dataclass(frozen=True)
class Fired:
    """What `Service.fire_due` did: the effects it fired and the incident as it saved it
    (None when the incident is gone)."""

    effects: list[Effect]
    incident: Incident | None
    paused: bool = False  # Slack took the team's tokens: nothing was claimed


def _notify(origin: Origin | None, requested_by: str | None) -> dict[str, Any]:
    """Whom an effect's failure (or a later answer) is told, and where they asked."""
    return {"user": requested_by, "channel": origin.channel_id if origin else None,
            "response_url": origin.response_url if origin else None}


def outbox_rows(outcome: Outcome, origin: Origin | None = None,
                requested_by: str | None = None) -> list[tuple[str, dict]]:
    """Translate effects and timeline lines into outbox rows, in the order they must run."""
    rows: list[tuple[str, dict]] = []
    notify = _notify(origin, requested_by)
    for effect in outcome.effects:
        if isinstance(effect, CreateChannel):
            rows.append(("create_channel", {"private": effect.private,
                                            "invite": list(effect.invite), "notify": notify}))
        elif isinstance(effect, ReopenChannel):  # before any line is posted to the channel
            rows.append(("reopen_channel", {"notify": notify}))
    # notify: a line that can never be posted (channel archived, bot removed) is reported to
    # the person whose command it records, like every other effect they asked for
    rows.extend(("timeline", {"text": display(e.kind, e.text, e.actor), "kind": e.kind,
                              "notify": notify})
                for e in outcome.timeline)
    for effect in outcome.effects:
        if isinstance(effect, Post):
            rows.append(("post", {"target": effect.target.value, "text": effect.text,
                                  "user": effect.user, "notify": notify}))
        elif isinstance(effect, Invite):
            rows.append(("invite", {"users": list(effect.users), "notify": notify}))
        elif isinstance(effect, PostSummary):
            rows.append(("summary", {"target": effect.target.value}))
        elif isinstance(effect, AddBookmark):
            rows.append(("bookmark", {"number": effect.number, "notify": notify}))
    if any(isinstance(e, RefreshCard) for e in outcome.effects):
        rows.append(("refresh_card", {}))
    if origin is not None and origin.reply_later and outcome.reply:
        rows.append(("tell", {"text": outcome.reply, "notify": notify}))
    return rows


class Service:
    """The playbook's use cases over a database. One instance per process."""

    def __init__(self, sessions: sessionmaker[Session], config: ServiceConfig,
                 clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock
        # parsed playbook versions by hash (immutable values; filled from the database on demand)
        current = config.policy.playbook
        self._playbooks: dict[str, Playbook] = {current.version: current}
        self._stored: set[str] = set()  # versions known to be in the database

    @property
    def playbook(self) -> Playbook:
        """The playbook new incidents open under (the team's file, or the built-in one)."""
        return self.config.policy.playbook

    def playbook_for(self, incident: Incident, session: Session | None = None) -> Playbook:
        """The playbook `incident` was opened under: its checklist, gates and reminder texts."""
        version = incident.playbook_version
        if version is None:
            return builtin_playbook()
        found = self._playbooks.get(version)
        if found is None:
            if session is None:
                with store.reading(self.sessions) as own:
                    found = playbook_store.load(own, version)
            else:
                found = playbook_store.load(session, version)
            if found is None:  # a database edited by hand: better the current one than nothing
                log.warning("playbook version %s of %s is not stored; using the current one",
                            version, incident.key)
                found = self.playbook
            self._playbooks[version] = found
        return found

    def policy_for(self, incident: Incident, session: Session | None = None) -> Policy:
        """The policy for commands on `incident`: the settings' timings, its own playbook."""
        playbook = self.playbook_for(incident, session)
        if playbook is self.config.policy.playbook:
            return self.config.policy
        return replace(self.config.policy, playbook=playbook)

    # --- helpers ------------------------------------------------------------------------------

    def _persist(self, session: Session, outcome: Outcome, *, origin: Origin | None,
                 requested_by: str | None, now: datetime, new: bool = False,
                 stored: store.Snapshot | None = None) -> Incident:
        """Save the outcome's incident, its timeline lines and its outbox rows; `stored`: the
        incident's child rows as loaded (`store.children_snapshot`), so they are not re-read.
        A `new` incident is added unnumbered: the caller numbers it last (`number_incident`)."""
        inc = store.add_incident(session, outcome.incident, numbered=False) if new \
            else store.save_incident(session, outcome.incident, stored=stored)
        assert inc.id is not None
        store.append_timeline(session, inc.id, inc.team_id, outcome.timeline)
        store.enqueue_many(session, team_id=inc.team_id, incident_id=inc.id,
                           rows=outbox_rows(outcome, origin, requested_by),
                           requested_by=requested_by, now=now)
        return inc

    def _retrying(self, work: Callable[[Session, datetime], Outcome]) -> Outcome:
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.sessions.begin() as session:
                    return work(session, self.clock())
            except store.StaleIncident:
                log.debug("concurrent change; retrying (attempt %d)", attempt + 1)
                # jittered backoff so racing writers stop colliding in lockstep
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise PlaybookError("Too many people changed this incident at once; please try again.")

    # --- use cases ----------------------------------------------------------------------------

    def open(self, team_id: str, actor: Actor, text: str, *, origin: Origin | None = None,
             severity: str | None = None) -> Outcome:
        """`/incident open [sevN] <customer>: <what happened>`; returns the saved incident."""
        parsed_sev, customer, description = parse.parse_open(text)
        return self.open_parsed(team_id, actor, customer=plain(customer),
                                description=plain(description),
                                severity=severity or parsed_sev, origin=origin)

    def open_parsed(self, team_id: str, actor: Actor, *, customer: str, description: str,
                    severity: str | None, origin: Origin | None = None,
                    dedupe_key: str | None = None, ticket_url: str | None = None) -> Outcome:
        """Open an incident; `ticket_url` (checked by `playbook.domain.links.parse_url`) is linked
        at once: on the card, and as a bookmark once the channel exists."""
        def decide(now: datetime) -> Outcome:
            return rules.open_incident(
                team_id=team_id, customer=customer, description=description, severity=severity,
                actor=actor, now=now, policy=self.config.policy,
                responders=self.config.responders, private=self.config.private_channels)

        def work(session: Session, now: datetime) -> Outcome:
            if dedupe_key and not store.remember_event(session, team_id, dedupe_key, now):
                raise Duplicate("That form was already submitted; the incident is open.")
            outcome = decide(now)
            if self.playbook.version not in self._stored:
                playbook_store.remember(session, self.playbook, now)
            if ticket_url:
                _, entry, bookmark = links.add_link(outcome.incident, actor, ticket_url,
                                                    "Support ticket", now)
                outcome.timeline.append(entry)
                outcome.effects.append(bookmark)
            reply = outcome.reply
            saved = self._persist(session, outcome, origin=origin, requested_by=actor.user_id,
                                  now=now, new=True)
            # The repeat-crisis check runs after the ack, in the outbox (`flag_recurrence`): it
            # compares the new incident with up to hundreds of earlier ones, which took half
            # the CPU of an open, and its warning is advice, not part of what was recorded.
            store.enqueue(session, team_id=team_id, incident_id=saved.id, kind="recurrence",
                          payload={"notify": _notify(origin, actor.user_id)},
                          requested_by=actor.user_id, now=now)
            # last before the commit: the team's number counter is locked from here to it
            saved = store.number_incident(session, saved)
            return replace(outcome, incident=saved,
                           reply=f"Opened *{saved.key}* for {esc(customer)}. "
                                 f"{reply.replace('Opening', 'Creating')}")
        opened = self._retrying(work)
        self._stored.add(self.playbook.version)  # committed with the incident: no need again
        return opened

    def flag_recurrence(self, incident_id: int, notify: dict[str, Any]) -> str | None:
        """After an open: warn when the customer, or the problem, was in crisis recently.

        The warning goes on the timeline, into the incident channel and to the opener (`notify`:
        where they typed); returns it, or None when nothing matches. Runs from the outbox, so
        a retry must not warn twice: a recurrence line already recorded ends it.
        """
        inc = self.get_by_id(incident_id)
        if inc is None or inc.id is None:
            return None
        warning = self._recurrence_warning(inc)
        if not warning:
            return None
        with self.sessions.begin() as session:
            if store.has_timeline_kind(session, inc.id, "recurrence"):
                return warning
            entry = TimelineEntry(self.clock(), "recurrence", warning)
            store.append_timeline(session, inc.id, inc.team_id, [entry])
            for kind, payload in (
                    ("timeline", {"text": display(entry.kind, entry.text, None),
                                  "kind": entry.kind, "notify": notify}),
                    ("tell", {"text": warning, "notify": notify})):
                store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind=kind,
                              payload=payload, requested_by=notify.get("user"), now=entry.at)
        return warning

    def _recurrence_warning(self, new: Incident) -> str | None:
        """The repeat-crisis note for an incident just opened, or None."""
        since = new.opened_at - timedelta(days=self.config.recurrence_days)
        with store.reading(self.sessions) as session:
            earlier = [c for c in store.recurrence_candidates(
                session, new.team_id, new.customer, since)
                # opened before it (the check runs after the insert, and others may follow)
                if (c.opened_at, c.id) < (new.opened_at, new.id or 0)]
            hits = recurrence.related(new, earlier)
            whole = {inc.id: inc for inc in store.load_incidents(
                session, [m.incident.id for m in hits[:recurrence.SHOWN]])}
        matches: list[recurrence.Match[Any]] = [
            recurrence.Match(whole[m.incident.id], m.same_customer, m.similarity)
            if m.incident.id in whole else m for m in hits]
        return recurrence.note(matches, new.customer, self.config.recurrence_days)

    def _record_refusal(self, incident_id: int, actor: Actor, verb: str,
                        err: PermissionDenied) -> None:
        """A refused action goes on the timeline too, with who tried: leads see the attempt."""
        now = self.clock()
        entry = TimelineEntry(now, "refused", f"⛔ {mention(actor.user_id)} tried "
                              f"`/incident {esc(verb)}`: {err.message}", actor.user_id)
        with self.sessions.begin() as session:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None or inc.id is None:
                return
            store.append_timeline(session, inc.id, inc.team_id, [entry])
            store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind="timeline",
                          payload={"text": entry.text, "kind": entry.kind},
                          requested_by=actor.user_id, now=now)

    def tell(self, incident_id: int, user: str, text: str, origin: Origin) -> None:
        """Queue an ephemeral answer for someone (a button's result has nowhere else to go)."""
        with self.sessions.begin() as session:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            notify = {"user": user, "channel": origin.channel_id,
                      "response_url": origin.response_url}
            store.enqueue(session, team_id=inc.team_id, incident_id=incident_id, kind="tell",
                          payload={"text": text, "notify": notify}, requested_by=user,
                          now=self.clock())

    def enqueue_home(self, team_id: str, user: str) -> None:
        """Queue a refresh of someone's App Home (rendered by the outbox worker)."""
        with self.sessions.begin() as session:
            store.enqueue(session, team_id=team_id, incident_id=None, kind="home",
                          payload={"user": user}, requested_by=user, now=self.clock())

    def remember_event(self, team_id: str, event_id: str) -> bool:
        """True the first time an event id is seen: Slack retries events and Bolt won't dedupe."""
        with self.sessions.begin() as session:
            return store.remember_event(session, team_id, event_id, self.clock())

    def incident_for_channel(self, channel_id: str) -> Incident | None:
        with store.reading(self.sessions) as session:
            return store.get_incident_by_channel(session, channel_id)

    def get(self, team_id: str, number: int) -> Incident:
        with store.reading(self.sessions) as session:
            inc = store.get_incident(session, team_id, number)
        if inc is None:
            raise NotFound(f"There is no INC-{number}.")
        return inc

    def get_by_id(self, incident_id: int) -> Incident | None:
        with store.reading(self.sessions) as session:
            return store.get_incident_by_id(session, incident_id)

    def command(self, incident_id: int, actor: Actor, verb: str, arg: str, *,
                origin: Origin | None = None) -> Outcome:
        """Run one `/incident` verb on an incident, saving everything it decided."""
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            stored = store.children_snapshot(inc)
            outcome = rules.run_command(inc, verb, arg, actor, now=now,
                                        policy=self.policy_for(inc, session))
            if not verbs.COMMANDS[verb].changes:
                for kind, payload in outbox_rows(outcome, origin, actor.user_id):
                    store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind=kind,
                                  payload=payload, requested_by=actor.user_id, now=now)
                return outcome
            saved = self._persist(session, outcome, origin=origin, requested_by=actor.user_id,
                                  now=now, stored=stored)
            return replace(outcome, incident=saved)
        try:
            return self._retrying(work)
        except PermissionDenied as err:
            self._record_refusal(incident_id, actor, verb, err)  # after the rollback
            raise

    def command_many(self, incident_id: int, actor: Actor, steps: Sequence[verbs.Request], *,
                     origin: Origin | None = None, dedupe_key: str | None = None) -> Outcome:
        """Several verbs from one modal, all or nothing; a refusal names the step that failed.

        Each step carries the form's values as typed (`playbook.domain.verbs.Request`).

        With `dedupe_key` (a hash of the submitted view), a resubmission of the very same form
        changes nothing: the key is recorded in the same transaction, so a submission that
        failed can still be sent again.
        """
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            if dedupe_key and not store.remember_event(session, inc.team_id, dedupe_key, now):
                return Outcome(inc, "")
            merged = Outcome(inc, "")
            replies: list[str] = []
            policy = self.policy_for(inc, session)
            for index, step in enumerate(steps):
                try:
                    outcome = rules.run_request(merged.incident, step, actor, now=now,
                                                policy=policy)
                except PlaybookError as err:
                    raise BatchError(index, err) from err
                replies.append(outcome.reply)
                merged = Outcome(outcome.incident, "", merged.timeline + outcome.timeline,
                                 merged.effects + outcome.effects)
            merged.reply = " ".join(r for r in replies if r)
            if not steps:
                return merged
            saved = self._persist(session, merged, origin=origin, requested_by=actor.user_id,
                                  now=now)
            return replace(merged, incident=saved)
        try:
            return self._retrying(work)
        except BatchError as err:
            if isinstance(err.error, PermissionDenied):
                self._record_refusal(incident_id, actor, steps[err.index].verb, err.error)
            raise

    def capture(self, incident_id: int, actor: Actor, kind: CaptureKind, text: str,
                message: capture.MessageRef, *, due: datetime | None = None,
                origin: Origin | None = None, dedupe_key: str | None = None) -> Outcome:
        """File a Slack message on an incident (the "Add to incident…" shortcut)."""
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            if dedupe_key and not store.remember_event(session, inc.team_id, dedupe_key, now):
                return Outcome(inc, "")
            outcome = capture.apply_capture(inc, actor, kind, text, message, due=due, now=now,
                                            policy=self.policy_for(inc, session))
            saved = self._persist(session, outcome, origin=origin, requested_by=actor.user_id,
                                  now=now)
            return replace(outcome, incident=saved)
        try:
            return self._retrying(work)
        except PermissionDenied as err:
            self._record_refusal(incident_id, actor, f"capture {kind.value}", err)
            raise

    def attach_channel(self, incident_id: int, channel_id: str, name: str) -> Incident:
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            inc.channel_id, inc.channel_name = channel_id, name
            return Outcome(store.save_incident(session, inc), "")
        return self._retrying(work).incident

    def set_card(self, incident_id: int, card_ts: str | None) -> None:
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            inc.card_ts = card_ts
            return Outcome(store.save_incident(session, inc), "")
        self._retrying(work)

    def list_incidents(self, team_id: str, *, statuses: Iterable[Status] | None = None,
                       since: datetime | None = None) -> list[Incident]:
        with store.reading(self.sessions) as session:
            return store.list_incidents(session, team_id,
                                        statuses=list(statuses) if statuses else None,
                                        opened_since=since)

    def open_incidents_by_urgency(self, team_id: str) -> list[Incident]:
        """Open and resolved incidents, the most overdue first, then by next due time."""
        now = self.clock()
        active = self.list_incidents(team_id, statuses=[Status.OPEN, Status.RESOLVED])

        def key(inc: Incident) -> tuple[int, float]:
            due = cadence.next_update_due(inc)
            if due is None:
                return (2, 0.0)
            return (0 if due <= now else 1, due.timestamp())
        return sorted(active, key=key)

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        with store.reading(self.sessions) as session:
            return store.get_timeline(session, incident_id)

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
                found.extend(outbox.load_incidents(session, wanted[first:first + chunk]).values())
        return found

    # --- reminders ----------------------------------------------------------------------------

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
        if first is None or not cadence.due_reminders(first, self.policy_for(first),
                                                      self.clock()):
            return Fired([], first)
        read: list[Incident] = [first]
        result: list[Fired] = []

        def work(session: Session, now: datetime) -> Outcome:
            inc = read.pop() if read else store.get_incident_by_id(session, incident_id)
            result[:] = [self._fire_in(session, inc, worker, now, outdated=inc is first)]
            return Outcome(result[0].incident or Incident("", 0, "", "", "", now), "")
        self._retrying(work)
        return result[0]

    def fire_due_many(self, incident_ids: Iterable[int], worker: str) -> dict[int, Fired]:
        """`fire_due` for several incidents at once: read together, fired in one transaction.

        A burst of reminders (thousands of incidents due within a minute) then costs a read
        and a commit per batch instead of per incident. If any of them changed between the
        read and the write, each is fired again on its own (`fire_due`, from a fresh read).
        """
        ids = list(dict.fromkeys(incident_ids))
        with store.reading(self.sessions) as session:
            found = outbox.load_incidents(session, ids)
        now = self.clock()
        out = {i: Fired([], found.get(i)) for i in ids}
        due = [found[i] for i in ids
               if i in found and cadence.due_reminders(found[i], self.policy_for(found[i]), now)]
        if not due:
            return out
        try:
            with self.sessions.begin() as session:
                now = self.clock()
                paused: dict[str, bool] = {}
                fired = {inc.id: self._fire_in(session, inc, worker, now, outdated=True,
                                               paused=paused)
                         for inc in due}
        except store.StaleIncident:
            log.debug("an incident changed while its reminders fired; one at a time")
            return {**out, **{inc.id: self.fire_due(inc.id, worker)
                              for inc in due if inc.id is not None}}
        out.update({i: f for i, f in fired.items() if i is not None})
        return out

    def _fire_in(self, session: Session, inc: Incident | None, worker: str, now: datetime, *,
                 outdated: bool, paused: dict[str, bool] | None = None) -> Fired:
        """Claim and fire the incident's due reminders in `session`; `outdated`: `inc` was read
        before this transaction began (a change since then fails the save's version check);
        `paused`: each team's pause as this transaction read it (a batch reads it once)."""
        if inc is None or inc.id is None:
            return Fired([], None)
        if paused is None:
            paused = {}
        if inc.team_id not in paused:
            paused[inc.team_id] = lifecycle_store.is_paused(session, inc.team_id)
        if paused[inc.team_id]:
            # Slack took the team's tokens: claim nothing, so all is still due once reinstalled
            return Fired([], inc, paused=True)
        fired: list[Effect] = []
        policy = self.policy_for(inc, session)
        for reminder in cadence.due_reminders(inc, policy, now):
            # claimed and marked sent in one statement: the send (the outbox rows below)
            # commits with it or not at all
            if not store.take_reminder(
                    session, team_id=inc.team_id, incident_id=inc.id,
                    kind=reminder.kind.value, due_at=reminder.due_at, ref=reminder.ref,
                    now=now, worker=worker, lease=timedelta(minutes=5)):
                continue
            stored = store.children_snapshot(inc)  # before `fire` builds the changed copy
            outcome = reminders.fire(inc, reminder, now, policy)
            if outcome is None and outdated:
                # "nothing to say" from a read that may be outdated would mark it sent
                # unsaid: decide again from a read inside the transaction
                raise store.StaleIncident(inc.id, inc.version)
            if outcome is not None:
                # (saving checks the version: an outdated read is retried from a fresh one,
                # and a save that passes it proves `stored` is what the database holds)
                inc = self._persist(session, outcome, origin=None, requested_by=None, now=now,
                                    stored=stored)
                outdated = False
                fired.extend(outcome.effects)
        return Fired(fired, inc)

    def next_wakeup(self, incident: Incident) -> datetime | None:
        return cadence.next_wakeup(incident, self.config.policy, self.clock())


def needs_reschedule(outcome: Outcome) -> bool:
    return any(isinstance(e, Reschedule) for e in outcome.effects)
