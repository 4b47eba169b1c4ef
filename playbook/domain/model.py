"""The incident as plain data, and the effects the playbook asks the shell to carry out.

Everything here is a dataclass with no behaviour that touches the outside world: the rules
(`playbook.domain.rules`) take an `Incident` plus `now` and return a new `Incident` with a list of
effects, and the store maps these classes to tables. Times are always aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playbook.domain.playbook_file import Playbook

from playbook.domain.windows import Window


class Step(StrEnum):
    """The five playbook steps, in the order the gates open them."""

    LISTEN = "listen"
    RESTATE = "restate"
    OWN = "own"
    SOLVE = "solve"
    FOLLOW_UP = "follow-up"


STEPS: tuple[Step, ...] = tuple(Step)


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    MISSED = "missed"


@dataclass(frozen=True)
class Actor:
    """Who asked. `is_lead` comes from settings; `tz` is the person's Slack zone for typed times."""

    user_id: str
    is_lead: bool = False
    tz: str = "UTC"


@dataclass(frozen=True)
class Policy:
    """The reminder timings (from settings) and the playbook in force.

    For a command on an incident, `playbook` is the one the incident was opened under, so a
    later change of the team's file never rewrites an open incident's checklist or gates. It has
    no default: reading the built-in one is a file read, which the pure core leaves to the
    services (`playbook.services.playbooks`).
    """

    nudge_before: timedelta = timedelta(minutes=5)
    escalate_after: timedelta = timedelta(minutes=15)
    escalate_repeat: timedelta = timedelta(minutes=30)
    checkins: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=7))
    playbook: Playbook = field(kw_only=True)
    # Until someone owns it, nag the channel this long after open (the last one also tells
    # the leads channel, when `has_leads_channel`; else the channel is told there is none).
    owner_nags: tuple[timedelta, ...] = (
        timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20))
    has_leads_channel: bool = True
    # CRISISBOT_SMTP_URL and CRISISBOT_EMAIL_FROM are set: `send` may email the customer
    email_enabled: bool = False
    stale_after: timedelta = timedelta(days=2)  # no activity on an open incident
    stale_resolved: timedelta = timedelta(days=3)  # resolved, not closed, no activity
    # CRISISBOT_LEADER_CALL: within how long a lead contacts the customer personally, for the
    # top severity (None: off); a playbook file's `leader_call` per severity overrides it
    leader_call: timedelta | None = timedelta(minutes=30)

    def default_cadence(self, severity: str) -> timedelta:
        return self.playbook.default_cadence(severity)

    def leader_call_within(self, severity: str) -> timedelta | None:
        """How soon a lead should call the customer at `severity` (None: no call asked)."""
        return self.playbook.leader_call(severity, self.leader_call)


@dataclass
class Option:
    number: int
    text: str
    risk: str | None
    added_by: str
    added_at: datetime
    # Relief stops the pain now (power the screens down tonight); otherwise it is a fix that
    # removes the cause. Customers weigh the two differently, so each option says which it is.
    relief: bool = False


@dataclass
class Promise:
    number: int
    text: str
    due_at: datetime
    made_by: str
    made_at: datetime
    status: PromiseStatus = PromiseStatus.OPEN
    settled_at: datetime | None = None


@dataclass
class Action:
    """A prevention action from the follow-up step."""

    number: int
    text: str
    owner: str | None
    added_by: str
    added_at: datetime
    done_at: datetime | None = None


@dataclass
class ParkedTopic:
    number: int
    text: str
    added_by: str
    added_at: datetime


@dataclass
class CustomerUpdate:
    """An update the customer actually received (any medium). Each one restarts the clock."""

    number: int
    text: str
    by: str
    at: datetime
    sent_to_channel: bool = False


@dataclass
class CadenceChange:
    """The interval in force from `at` on; setting a cadence restarts the clock.

    With a `window` (the customer's working hours) the clock only runs inside it.
    """

    at: datetime
    interval: timedelta
    agreed: bool
    by: str | None = None
    window: Window | None = None


@dataclass
class Snooze:
    """Someone quieted the chasing reminders (update due, escalations, owner nags) until
    `until`, for a stated reason; the reminder comes back then if still needed."""

    number: int
    at: datetime
    until: datetime
    by: str
    reason: str


@dataclass
class StepRecord:
    """When a step was completed, and the reason if it was skipped past its criteria."""

    step: Step
    completed_at: datetime
    by: str | None = None
    skipped_reason: str | None = None


@dataclass
class Checkin:
    """A post-resolution check-in with the customer ("keep in touch")."""

    number: int
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None


class CaptureKind(StrEnum):
    """What a message picked with the "Add to incident…" shortcut is, for the playbook."""

    LISTEN = "listen"  # the customer's own words
    UPDATE = "update"  # an update we gave the customer (restarts the cadence clock)
    PROMISE = "promise"  # a commitment to the customer (needs a due time)
    NOTE = "note"  # a line for the timeline


@dataclass
class CapturedMessage:
    """A Slack message added to the incident, with where it came from.

    `text` is neutralised plain text (`playbook.domain.text.plain` of what Slack sent): stored as
    the reader saw it and escaped whenever it is posted, so it can never ping or mention anyone.
    `author` is the Slack id of who wrote it (a customer in a Slack Connect channel, say),
    `written_at` the message's own time (from its ts), `at` when it was added.
    """

    number: int
    kind: CaptureKind
    text: str
    author: str | None
    author_name: str | None
    channel_id: str
    message_ts: str
    permalink: str
    by: str
    at: datetime
    written_at: datetime


@dataclass
class Handover:
    """Ownership passed from one person to another, with the note given to the new owner."""

    number: int
    from_user: str
    to_user: str
    by: str
    at: datetime
    notes: str | None = None


@dataclass
class Reopening:
    """A closed incident opened again. Keeps what the earlier period ended with.

    ``closed_at`` is when the earlier period closed; ``resolved_at``, ``customer_informed_at``
    and ``resolution`` are that period's, cleared on the incident so it is solved again.
    """

    number: int
    at: datetime
    by: str
    reason: str
    closed_at: datetime
    resolved_at: datetime | None = None
    customer_informed_at: datetime | None = None
    resolution: str | None = None


@dataclass
class Link:
    """A ticket, CRM record or document linked to the incident (also a channel bookmark)."""

    number: int
    url: str
    label: str
    kind: str
    added_by: str
    added_at: datetime


class EmailStatus(StrEnum):
    PENDING = "pending"  # queued in the outbox, not accepted by the mail server yet
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # refused for good (a 5xx, or retries ran out): not an update


@dataclass
class CustomerEmail:
    """A `send` that goes to the customer by email, through the outbox.

    `counts`: its delivery is what restarts the cadence clock (no customer channel took the
    same text at once). `message_id` is assigned just before the first attempt and kept, so a
    retry is the same message and every later email of the incident threads under it.
    """

    number: int
    text: str
    by: str
    at: datetime
    recipients: tuple[str, ...]
    counts: bool
    status: EmailStatus = EmailStatus.PENDING
    message_id: str | None = None
    settled_at: datetime | None = None
    error: str | None = None


@dataclass
class EmailReply:
    """The customer's email reply, stripped of quoted history and signatures.

    `text` is plain text as the customer wrote it (escaped whenever it is posted);
    `attachments` are (file name, size in bytes): listed, never stored.
    """

    number: int
    sender: str
    sender_name: str | None
    subject: str
    text: str
    message_id: str
    written_at: datetime
    at: datetime
    attachments: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the append-only history. `text` is Slack mrkdwn with user text escaped."""

    at: datetime
    kind: str
    text: str
    actor: str | None = None


@dataclass
class Incident:
    team_id: str
    number: int
    customer: str
    description: str
    opened_by: str
    opened_at: datetime
    severity: str = "sev2"
    id: int | None = None
    # the version of the playbook it was opened under (None: from before playbook files)
    playbook_version: str | None = None
    version: int = 0
    status: Status = Status.OPEN
    step: Step = Step.LISTEN
    channel_id: str | None = None
    channel_name: str | None = None
    card_ts: str | None = None
    customer_channel_id: str | None = None
    # the customer's email addresses for `send` (`/incident customer-email`)
    customer_emails: list[str] = field(default_factory=list)
    # listen
    customer_words: list[str] = field(default_factory=list)
    impact: str | None = None
    drivers: list[str] = field(default_factory=list)
    cadence_changes: list[CadenceChange] = field(default_factory=list)
    # how the customer noticed (their monitoring, their boss, their end customers) and the
    # context we gave them: both shape what relief will matter to them
    noticed: str | None = None
    context_given: str | None = None
    # restate
    restatement: str | None = None
    restatement_confirmed_at: datetime | None = None
    # own
    owner: str | None = None
    owner_set_at: datetime | None = None
    communicator: str | None = None
    apology_at: datetime | None = None
    # solve
    options: list[Option] = field(default_factory=list)
    recommended: int | None = None
    recommend_why: str | None = None
    chosen: int | None = None
    chosen_at: datetime | None = None
    resolution: str | None = None
    resolved_at: datetime | None = None
    # immediate relief (the pain stopped) that reached the customer, before the lasting fix
    # that `resolution` records; time to relief counts from open
    relief: str | None = None
    relief_at: datetime | None = None
    relief_by: str | None = None
    # follow-up
    customer_informed_at: datetime | None = None
    root_cause: str | None = None
    lessons: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    checkins: list[Checkin] = field(default_factory=list)
    # across steps
    promises: list[Promise] = field(default_factory=list)
    parked: list[ParkedTopic] = field(default_factory=list)
    updates: list[CustomerUpdate] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    # items a playbook file added, ticked with `/incident check`: key -> typed value ("" if none)
    checks: dict[str, str] = field(default_factory=dict)
    snoozes: list[Snooze] = field(default_factory=list)
    reminders_fired: int = 0
    escalations_fired: int = 0
    # a lead contacts the customer personally (top severity): asked at open or when raised,
    # reminded at `leader_call_due_at`, recorded with `/incident leader-call <note>`
    leader_call_asked_at: datetime | None = None
    leader_call_due_at: datetime | None = None
    leader_call_at: datetime | None = None
    leader_call_by: str | None = None
    leader_call_note: str | None = None
    closed_at: datetime | None = None
    # The last time a person changed anything (commands, buttons, forms): stale nudges count
    # from it. None for incidents saved before it was tracked: `opened_at` stands in.
    last_activity_at: datetime | None = None
    # working the crisis: captured messages, ownership handovers, reopenings, links
    captures: list[CapturedMessage] = field(default_factory=list)
    handovers: list[Handover] = field(default_factory=list)
    reopenings: list[Reopening] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    # email to and from the customer
    emails: list[CustomerEmail] = field(default_factory=list)
    email_replies: list[EmailReply] = field(default_factory=list)
    # people Slack would not let the bot invite to the channel: user id -> Slack's refusal
    # (e.g. "user_is_restricted" for a guest), shown on the card until they are invited
    not_invited: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"INC-{self.number}"

    @property
    def cadence(self) -> timedelta | None:
        return self.cadence_changes[-1].interval if self.cadence_changes else None

    @property
    def cadence_agreed(self) -> bool:
        return any(c.agreed for c in self.cadence_changes)

    @property
    def window(self) -> Window | None:
        """The working hours the current cadence applies in (None: around the clock)."""
        return self.cadence_changes[-1].window if self.cadence_changes else None

    @property
    def last_update_at(self) -> datetime | None:
        return self.updates[-1].at if self.updates else None

    def step_record(self, step: Step) -> StepRecord | None:
        return next((r for r in self.steps if r.step == step), None)


# --- effects: what the shell must do after the state is saved ---------------------------------


class Target(StrEnum):
    """Where a post goes. The shell maps these to channel ids from the incident and settings."""

    INCIDENT = "incident"  # the incident channel
    CUSTOMER = "customer"  # the linked customer-facing channel: customer-ready text only
    LEADS = "leads"  # the leads channel, or each lead by DM when none is configured
    LEAD_DMS = "lead-dms"  # each lead by DM (a personal ask), whatever the leads channel
    OWNER = "owner"  # DM to the owner (falls back to the incident channel)
    USER = "user"  # DM to `user`


@dataclass(frozen=True)
class Post:
    target: Target
    text: str
    user: str | None = None


@dataclass(frozen=True)
class CreateChannel:
    """Open the incident's channel, invite people, pin the card (only ever on open).

    The name, topic and purpose are derived from the saved incident when the effect is
    carried out (`playbook.domain.rules.channel_name` and friends), because the INC number is
    only known then.
    """

    private: bool
    invite: tuple[str, ...]


@dataclass(frozen=True)
class Invite:
    users: tuple[str, ...]


@dataclass(frozen=True)
class PostSummary:
    """Render the incident's summary (`playbook.domain.summary`) and post it to `target`."""

    target: Target


@dataclass(frozen=True)
class RefreshCard:
    """The status card must be re-rendered from the saved incident."""


@dataclass(frozen=True)
class Reschedule:
    """Reminders for this incident must be recomputed from the saved incident."""


@dataclass(frozen=True)
class AddBookmark:
    """Add link L`number` as a bookmark of the incident channel (the card shows it anyway)."""

    number: int


@dataclass(frozen=True)
class ReopenChannel:
    """The incident was reopened: make its channel usable again (unarchive it if archived)."""


@dataclass(frozen=True)
class SendEmail:
    """Email `Incident.emails` item `number` to the customer (bot/outbox/email.py)."""

    number: int


Effect = (
    Post | CreateChannel | Invite | PostSummary | RefreshCard | Reschedule | AddBookmark
    | ReopenChannel | SendEmail
)


@dataclass
class Outcome:
    """The result of a command: new state, what to tell the actor, history and effects."""

    incident: Incident
    reply: str
    timeline: list[TimelineEntry] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
