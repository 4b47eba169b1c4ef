"""Incident use cases: load an incident, let the rules decide, save state, history and effects at
once.

Each use case is one database transaction (`playbook.services.transactions`): the new state, its
timeline lines and the outbox rows for every Slack side effect (`playbook.services.outcomes`)
commit together or not at all, so nothing acknowledged is lost and a crash between "decided" and
"posted" only delays the post. Conflicting writers are retried from a fresh read (optimistic
concurrency), so two people acting at once both land.

`Service` is the one object the shell holds for all of this: it also answers for the reminder
use cases (`playbook.services.reminders`) and the playbooks incidents run under
(`playbook.services.playbooks`), which it composes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain import cadence, capture, links, parse, recurrence, rules, verbs
from playbook.domain.errors import NotFound, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Actor,
    CaptureKind,
    Incident,
    Outcome,
    Policy,
    Reschedule,
    Status,
    TimelineEntry,
)
from playbook.domain.text import esc, mention, plain
from playbook.domain.timeline import display
from playbook.domain.workspace_settings import WorkspaceSettings
from playbook.services.builtin import builtin_playbook
from playbook.services.outcomes import Origin, outbox_rows, persist, reply_to
from playbook.services.playbooks import PlaybookCatalog
from playbook.services.reminders import ReminderService
from playbook.services.settings import SettingsService
from playbook.services.transactions import GroupCommit, retry_stale

__all__ = ["BatchError", "Duplicate", "Recorded", "Service", "ServiceConfig",
           "needs_reschedule", "owned_incident"]

GONE = "That incident no longer exists."


def owned_incident(session: Session, team_id: str, incident_id: int) -> Incident:
    """The incident `incident_id` of workspace `team_id`, or `NotFound`.

    Every use case a request starts loads its incident through this (or
    `Service.incident_for_channel` / `Service.get`): ids and channels arrive in payloads, and a
    payload from another workspace must find nothing here, never act on this one's incidents.
    Another workspace's incident is "not found", in the very words of a missing one, so a
    request learns nothing about what other workspaces keep.
    """
    inc = store.get_incident_by_id(session, incident_id)
    if inc is None or inc.team_id != team_id:
        raise NotFound(GONE)
    return inc


class Duplicate(PlaybookError):
    """The same form arrived twice; the first one already did the work."""


class Recorded(Protocol):
    """An open that carries out a command recorded earlier (playbook/services/intake.py): it
    is claimed first in the open's transaction, and settled (marked done, the person told)
    last, so the incident and the command's end commit together or not at all."""

    def claim(self, session: Session, now: datetime) -> None:
        """Raise when the command is no longer this transaction's to carry out."""

    def settle(self, session: Session, now: datetime, opened: Outcome) -> None:
        """`opened`: the numbered incident and the reply the person would have had."""


class BatchError(PlaybookError):
    """One verb of a modal's batch was refused; `index` says which, for an inline error."""

    def __init__(self, index: int, error: PlaybookError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


@dataclass(frozen=True)
class ServiceConfig:
    """The environment's settings: every workspace's defaults (`playbook.services.settings`
    applies a workspace's own over them)."""

    policy: Policy = field(default_factory=lambda: Policy(playbook=builtin_playbook()))
    responders: tuple[str, ...] = ()
    private_channels: bool = False
    recurrence_days: int = 90
    leads: tuple[str, ...] = ()
    leads_channel: str | None = None

    def defaults(self) -> WorkspaceSettings:
        p = self.policy
        return WorkspaceSettings(
            leads=self.leads, leads_channel=self.leads_channel, responders=self.responders,
            private_channels=self.private_channels, nudge_before=p.nudge_before,
            escalate_after=p.escalate_after, escalate_repeat=p.escalate_repeat,
            checkins=p.checkins, leader_call=p.leader_call)


class Service:
    """The playbook's use cases over a database. One instance per process."""

    def __init__(self, sessions: sessionmaker[Session], config: ServiceConfig,
                 clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock
        # each workspace's settings over the environment's (timings, playbook, people)
        self.workspaces = SettingsService(sessions, clock, config.defaults(), config.policy)
        self.playbooks = PlaybookCatalog(sessions, config.policy,
                                         policy_of=self.workspaces.policy_of)
        self.reminders = ReminderService(sessions, clock, self.playbooks)
        # opens that arrive together (a burst of acks) share one transaction
        self.group = GroupCommit(sessions, clock)

    # --- use cases ----------------------------------------------------------------------------

    def open(self, team_id: str, actor: Actor, text: str, *, origin: Origin | None = None,
             severity: str | None = None, recorded: Recorded | None = None) -> Outcome:
        """`/incident open [sevN] <customer>: <what happened>`; returns the saved incident.
        `recorded`: the command was recorded at its ack and is carried out now."""
        parsed_sev, customer, description = parse.parse_open(text)
        return self.open_parsed(team_id, actor, customer=plain(customer),
                                description=plain(description),
                                severity=severity or parsed_sev, origin=origin,
                                recorded=recorded)

    def open_parsed(self, team_id: str, actor: Actor, *, customer: str, description: str,
                    severity: str | None, origin: Origin | None = None,
                    dedupe_key: str | None = None, ticket_url: str | None = None,
                    customer_emails: Sequence[str] = (),
                    recorded: Recorded | None = None) -> Outcome:
        """Open an incident; `ticket_url` (checked by `playbook.domain.links.parse_url`) is linked
        at once: on the card, and as a bookmark once the channel exists; `customer_emails`
        (checked by `playbook.domain.mail.parse_addresses`) are where `send` emails."""
        team = self.workspaces.get(team_id)

        def decide(now: datetime) -> Outcome:
            return rules.open_incident(
                team_id=team_id, customer=customer, description=description, severity=severity,
                actor=actor, now=now, policy=team.policy,
                responders=team.settings.responders, private=team.settings.private_channels)

        def work(session: Session, now: datetime) -> Outcome:
            if recorded is not None:
                recorded.claim(session, now)
            if dedupe_key and not store.remember_event(session, team_id, dedupe_key, now):
                raise Duplicate("That form was already submitted; the incident is open.")
            outcome = decide(now)
            self.playbooks.remember_current(session, now, team.playbook)
            if ticket_url:
                _, entry, bookmark = links.add_link(outcome.incident, actor, ticket_url,
                                                    "Support ticket", now)
                outcome.timeline.append(entry)
                outcome.effects.append(bookmark)
            if customer_emails:
                outcome.incident.customer_emails = list(customer_emails)
                outcome.timeline.append(TimelineEntry(
                    now, "customer-email", f"{mention(actor.user_id)} set the customer's email "
                    f"to {', '.join(esc(a) for a in customer_emails)}.", actor.user_id))
            reply = outcome.reply
            saved = persist(session, outcome, origin=origin, requested_by=actor.user_id,
                            now=now, new=True)
            # The repeat-crisis check runs after the ack, in the outbox (`flag_recurrence`): it
            # compares the new incident with up to hundreds of earlier ones, which took half
            # the CPU of an open, and its warning is advice, not part of what was recorded.
            store.enqueue(session, team_id=team_id, incident_id=saved.id, kind="recurrence",
                          payload={"notify": reply_to(origin, actor.user_id)},
                          requested_by=actor.user_id, now=now)
            # last before the commit: the team's number counter is locked from here to it
            saved = store.number_incident(session, saved)
            opened = replace(outcome, incident=saved,
                             reply=f"Opened *{saved.key}* for {esc(customer)}. "
                                   f"{reply.replace('Opening', 'Creating')}")
            if recorded is not None:
                recorded.settle(session, now, opened)
            return opened
        # answered only once committed; locks its team's counter (and claims the form's key)
        opened = self.group.run(work, order=team_id, claims=bool(dedupe_key))
        self.playbooks.current_stored(team.playbook)  # committed with it: no need again
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
            whole = store.load_incidents(
                session, [m.incident.id for m in hits[:recurrence.SHOWN]])
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

    def tell(self, team_id: str, incident_id: int, user: str, text: str,
             origin: Origin) -> None:
        """Queue an ephemeral answer for someone (a button's result has nowhere else to go)."""
        with self.sessions.begin() as session:
            inc = owned_incident(session, team_id, incident_id)
            store.enqueue(session, team_id=inc.team_id, incident_id=incident_id, kind="tell",
                          payload={"text": text, "notify": reply_to(origin, user)},
                          requested_by=user, now=self.clock())

    def enqueue_home(self, team_id: str, user: str) -> None:
        """Queue a refresh of someone's App Home (rendered by the outbox worker)."""
        with self.sessions.begin() as session:
            store.enqueue(session, team_id=team_id, incident_id=None, kind="home",
                          payload={"user": user}, requested_by=user, now=self.clock())

    def remember_event(self, team_id: str, event_id: str) -> bool:
        """True the first time an event id is seen: Slack retries events and Bolt won't dedupe."""
        with self.sessions.begin() as session:
            return store.remember_event(session, team_id, event_id, self.clock())

    def incident_for_channel(self, team_id: str, channel_id: str) -> Incident | None:
        """The incident of this channel, when workspace `team_id` owns it."""
        with store.reading(self.sessions) as session:
            inc = store.get_incident_by_channel(session, channel_id)
        return inc if inc is not None and inc.team_id == team_id else None

    def owned(self, team_id: str, incident_id: int) -> Incident | None:
        """The incident `incident_id` when workspace `team_id` owns it (a button's value, a
        form's metadata: ids a request carries)."""
        with store.reading(self.sessions) as session:
            try:
                return owned_incident(session, team_id, incident_id)
            except NotFound:
                return None

    def get(self, team_id: str, number: int) -> Incident:
        with store.reading(self.sessions) as session:
            inc = store.get_incident(session, team_id, number)
        if inc is None:
            raise NotFound(f"There is no INC-{number}.")
        return inc

    def get_by_id(self, incident_id: int) -> Incident | None:
        """Any workspace's incident: for the outbox and the scheduler, which act on rows the
        database already tied to a workspace. Requests use `owned`."""
        with store.reading(self.sessions) as session:
            return store.get_incident_by_id(session, incident_id)

    def command(self, incident_id: int, actor: Actor, verb: str, arg: str, *, team_id: str,
                origin: Origin | None = None) -> Outcome:
        """Run one `/incident` verb on an incident of workspace `team_id`, saving everything it
        decided."""
        def work(session: Session, now: datetime) -> Outcome:
            inc = owned_incident(session, team_id, incident_id)
            stored = store.children_snapshot(inc)
            outcome = rules.run_command(inc, verb, arg, actor, now=now,
                                        policy=self.playbooks.policy_for(inc, session))
            if not verbs.COMMANDS[verb].changes:
                for kind, payload in outbox_rows(outcome, origin, actor.user_id):
                    store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind=kind,
                                  payload=payload, requested_by=actor.user_id, now=now)
                return outcome
            saved = persist(session, outcome, origin=origin, requested_by=actor.user_id,
                            now=now, stored=stored)
            return replace(outcome, incident=saved)
        try:
            return retry_stale(self.sessions, self.clock, work)
        except PermissionDenied as err:
            self._record_refusal(incident_id, actor, verb, err)  # after the rollback
            raise

    def command_many(self, incident_id: int, actor: Actor, steps: Sequence[verbs.Request], *,
                     team_id: str, origin: Origin | None = None,
                     dedupe_key: str | None = None) -> Outcome:
        """Several verbs from one modal, all or nothing; a refusal names the step that failed.

        Each step carries the form's values as typed (`playbook.domain.verbs.Request`).

        With `dedupe_key` (a hash of the submitted view), a resubmission of the very same form
        changes nothing: the key is recorded in the same transaction, so a submission that
        failed can still be sent again.
        """
        def work(session: Session, now: datetime) -> Outcome:
            inc = owned_incident(session, team_id, incident_id)
            if dedupe_key and not store.remember_event(session, inc.team_id, dedupe_key, now):
                return Outcome(inc, "")
            merged = Outcome(inc, "")
            replies: list[str] = []
            policy = self.playbooks.policy_for(inc, session)
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
            saved = persist(session, merged, origin=origin, requested_by=actor.user_id,
                            now=now)
            return replace(merged, incident=saved)
        try:
            return retry_stale(self.sessions, self.clock, work)
        except BatchError as err:
            if isinstance(err.error, PermissionDenied):
                self._record_refusal(incident_id, actor, steps[err.index].verb, err.error)
            raise

    def capture(self, incident_id: int, actor: Actor, kind: CaptureKind, text: str,
                message: capture.MessageRef, *, team_id: str, due: datetime | None = None,
                origin: Origin | None = None, dedupe_key: str | None = None) -> Outcome:
        """File a Slack message on an incident of workspace `team_id` (the "Add to
        incident…" shortcut)."""
        def work(session: Session, now: datetime) -> Outcome:
            inc = owned_incident(session, team_id, incident_id)
            if dedupe_key and not store.remember_event(session, inc.team_id, dedupe_key, now):
                return Outcome(inc, "")
            outcome = capture.apply_capture(inc, actor, kind, text, message, due=due, now=now,
                                            policy=self.playbooks.policy_for(inc, session))
            saved = persist(session, outcome, origin=origin, requested_by=actor.user_id,
                            now=now)
            return replace(outcome, incident=saved)
        try:
            return retry_stale(self.sessions, self.clock, work)
        except PermissionDenied as err:
            self._record_refusal(incident_id, actor, f"capture {kind.value}", err)
            raise

    def attach_channel(self, incident_id: int, channel_id: str, name: str) -> Incident:
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound(GONE)
            inc.channel_id, inc.channel_name = channel_id, name
            return Outcome(store.save_incident(session, inc), "")
        return retry_stale(self.sessions, self.clock, work).incident

    def note_invites(self, incident_id: int, refused: dict[str, str],
                     invited: Iterable[str] = ()) -> Incident | None:
        """Record who Slack refused to let us invite (user -> Slack's reason) and who is in the
        channel now, for the card's people line. Returns the incident when that changed what
        the card shows, else None (nothing saved, so a retried row changes nothing)."""
        joined = set(invited)

        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            after = {u: why for u, why in inc.not_invited.items() if u not in joined}
            after.update(refused)
            if after == inc.not_invited:
                return Outcome(inc, "")
            inc.not_invited = after
            return Outcome(store.save_incident(session, inc), "changed")
        outcome = retry_stale(self.sessions, self.clock, work)
        return outcome.incident if outcome.reply else None

    def set_card(self, incident_id: int, card_ts: str | None) -> None:
        def work(session: Session, now: datetime) -> Outcome:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None:
                raise NotFound(GONE)
            inc.card_ts = card_ts
            return Outcome(store.save_incident(session, inc), "")
        retry_stale(self.sessions, self.clock, work)

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


def needs_reschedule(outcome: Outcome) -> bool:
    return any(isinstance(e, Reschedule) for e in outcome.effects)
