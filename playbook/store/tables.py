"""The core tables: incidents and their child lists, team counters, playbook versions, the
timeline, the outbox, reminder claims and handled Slack events.

Rows never leave `playbook.store`: the repositories turn them into `playbook.domain.model`
dataclasses (`playbook.store.mapping`). Outages, channel states and timeline captures are declared
beside their repositories (`outages`, `lifecycle`, `timeline`), on the same metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from playbook.store.base import Base, slack_id

__all__ = [
    "ActionRow",
    "CadenceChangeRow",
    "CapturedMessageRow",
    "CheckinRow",
    "CustomerUpdateRow",
    "EmailReplyRow",
    "HandledEventRow",
    "HandoverRow",
    "IncidentRow",
    "LinkRow",
    "OptionRow",
    "OutboxRow",
    "ParkedTopicRow",
    "PlaybookVersionRow",
    "PromiseRow",
    "ReminderClaimRow",
    "ReopeningRow",
    "SentEmailRow",
    "SnoozeRow",
    "StepRecordRow",
    "TeamCounterRow",
    "TimelineRow",
]

# --- incidents and their children ---------------------------------------------------------------


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("team_id", "number"),
        Index("ix_incidents_team_id_customer_key", "team_id", "customer_key"),
        Index("ix_incidents_team_id_opened_at", "team_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    number: Mapped[int]
    version: Mapped[int] = mapped_column(server_default=text("1"))
    customer: Mapped[str]
    customer_key: Mapped[str]
    description: Mapped[str]
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    step: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str | None] = mapped_column(slack_id(), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(slack_id())
    customer_channel_id: Mapped[str | None] = mapped_column(slack_id())
    # the customer's email addresses for `send` (NULL on incidents from before email)
    customer_emails: Mapped[list[str] | None] = mapped_column(JSON)
    opened_by: Mapped[str] = mapped_column(slack_id())
    opened_at: Mapped[datetime]
    # listen
    customer_words: Mapped[list[str]] = mapped_column(JSON)
    impact: Mapped[str | None]
    drivers: Mapped[list[str]] = mapped_column(JSON)
    noticed: Mapped[str | None]
    context_given: Mapped[str | None]
    # restate
    restatement: Mapped[str | None]
    restatement_confirmed_at: Mapped[datetime | None]
    # own
    owner: Mapped[str | None] = mapped_column(slack_id())
    owner_set_at: Mapped[datetime | None]
    communicator: Mapped[str | None] = mapped_column(slack_id())
    apology_at: Mapped[datetime | None]
    # solve
    recommended: Mapped[int | None]
    recommend_why: Mapped[str | None]
    chosen: Mapped[int | None]
    chosen_at: Mapped[datetime | None]
    resolution: Mapped[str | None]
    resolved_at: Mapped[datetime | None]
    relief: Mapped[str | None]
    relief_at: Mapped[datetime | None]
    relief_by: Mapped[str | None] = mapped_column(slack_id())
    # follow-up
    customer_informed_at: Mapped[datetime | None]
    root_cause: Mapped[str | None]
    lessons: Mapped[list[str]] = mapped_column(JSON)
    # across steps
    reminders_fired: Mapped[int] = mapped_column(server_default=text("0"))
    escalations_fired: Mapped[int] = mapped_column(server_default=text("0"))
    leader_call_asked_at: Mapped[datetime | None]
    leader_call_due_at: Mapped[datetime | None]
    leader_call_at: Mapped[datetime | None]
    leader_call_by: Mapped[str | None] = mapped_column(slack_id())
    leader_call_note: Mapped[str | None]
    closed_at: Mapped[datetime | None]
    # the playbook it was opened under (playbook_versions.version; NULL: the built-in one, for
    # incidents from before playbook files) and the items of that playbook ticked so far
    playbook_version: Mapped[str | None] = mapped_column(String(64))
    checks: Mapped[dict[str, str] | None] = mapped_column(JSON)
    last_activity_at: Mapped[datetime | None]
    # people Slack refused to let the bot invite: user id -> Slack's error name (0012)
    not_invited: Mapped[dict[str, str] | None] = mapped_column(JSON)

    # Children load eagerly (one SELECT ... IN per table) because every use of an incident
    # needs the whole of it; delete-orphan lets save_incident mirror removals.
    cadence_changes: Mapped[list[CadenceChangeRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CadenceChangeRow.number"
    )
    options: Mapped[list[OptionRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="OptionRow.number"
    )
    promises: Mapped[list[PromiseRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="PromiseRow.number"
    )
    actions: Mapped[list[ActionRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ActionRow.number"
    )
    parked: Mapped[list[ParkedTopicRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ParkedTopicRow.number"
    )
    updates: Mapped[list[CustomerUpdateRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CustomerUpdateRow.number"
    )
    checkins: Mapped[list[CheckinRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CheckinRow.number"
    )
    steps: Mapped[list[StepRecordRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="StepRecordRow.number"
    )
    snoozes: Mapped[list[SnoozeRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="SnoozeRow.number"
    )
    captures: Mapped[list[CapturedMessageRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CapturedMessageRow.number"
    )
    handovers: Mapped[list[HandoverRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="HandoverRow.number"
    )
    reopenings: Mapped[list[ReopeningRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ReopeningRow.number"
    )
    links: Mapped[list[LinkRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="LinkRow.number"
    )
    emails: Mapped[list[SentEmailRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="SentEmailRow.number"
    )
    email_replies: Mapped[list[EmailReplyRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="EmailReplyRow.number"
    )


class _Child:
    """Columns every child row of an incident has; `(incident_id, number)` is its identity."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-4)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), sort_order=-3
    )
    team_id: Mapped[str] = mapped_column(slack_id(), sort_order=-2)
    number: Mapped[int] = mapped_column(sort_order=-1)


class CadenceChangeRow(_Child, Base):
    __tablename__ = "cadence_changes"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    interval_seconds: Mapped[int]
    agreed: Mapped[bool]
    by_user: Mapped[str | None] = mapped_column(slack_id())
    # the cadence window (`playbook.domain.windows.Window.spec`), e.g. "weekdays 09:00-18:00 UTC"
    window_spec: Mapped[str | None] = mapped_column(String(200))


class SnoozeRow(_Child, Base):
    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    until_at: Mapped[datetime]
    by_user: Mapped[str] = mapped_column(slack_id())
    reason: Mapped[str]


class OptionRow(_Child, Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    risk: Mapped[str | None]
    added_by: Mapped[str] = mapped_column(slack_id())
    added_at: Mapped[datetime]
    relief: Mapped[bool] = mapped_column(server_default=false())


class PromiseRow(_Child, Base):
    __tablename__ = "promises"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    due_at: Mapped[datetime]
    made_by: Mapped[str] = mapped_column(slack_id())
    made_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    settled_at: Mapped[datetime | None]


class ActionRow(_Child, Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    owner: Mapped[str | None] = mapped_column(slack_id())
    added_by: Mapped[str] = mapped_column(slack_id())
    added_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ParkedTopicRow(_Child, Base):
    __tablename__ = "parked_topics"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    added_by: Mapped[str] = mapped_column(slack_id())
    added_at: Mapped[datetime]


class CustomerUpdateRow(_Child, Base):
    __tablename__ = "customer_updates"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    text: Mapped[str]
    by_user: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]
    sent_to_channel: Mapped[bool] = mapped_column(server_default=false())


class CheckinRow(_Child, Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(slack_id())


class StepRecordRow(_Child, Base):
    __tablename__ = "step_records"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    step: Mapped[str] = mapped_column(String(16))
    completed_at: Mapped[datetime]
    by_user: Mapped[str | None] = mapped_column(slack_id())
    skipped_reason: Mapped[str | None]


class CapturedMessageRow(_Child, Base):
    """A Slack message added with the "Add to incident…" shortcut (text neutralised)."""

    __tablename__ = "captured_messages"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str]
    author: Mapped[str | None] = mapped_column(slack_id())
    author_name: Mapped[str | None]
    channel_id: Mapped[str] = mapped_column(slack_id())
    message_ts: Mapped[str] = mapped_column(slack_id())
    permalink: Mapped[str]
    by_user: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]
    written_at: Mapped[datetime]


class HandoverRow(_Child, Base):
    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    from_user: Mapped[str] = mapped_column(slack_id())
    to_user: Mapped[str] = mapped_column(slack_id())
    by_user: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]
    notes: Mapped[str | None]


class ReopeningRow(_Child, Base):
    __tablename__ = "reopenings"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    at: Mapped[datetime]
    by_user: Mapped[str] = mapped_column(slack_id())
    reason: Mapped[str]
    closed_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    customer_informed_at: Mapped[datetime | None]
    resolution: Mapped[str | None]


class LinkRow(_Child, Base):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    url: Mapped[str]
    label: Mapped[str]
    kind: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(slack_id())
    added_at: Mapped[datetime]


class SentEmailRow(_Child, Base):
    """A `send` emailed to the customer; its Message-ID is how their replies find the incident."""

    __tablename__ = "sent_emails"
    __table_args__ = (
        UniqueConstraint("incident_id", "number"),
        Index("ix_sent_emails_message_id", "message_id"),
    )

    text: Mapped[str]
    by_user: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]
    recipients: Mapped[str]  # comma-separated
    counts: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(255))
    settled_at: Mapped[datetime | None]
    error: Mapped[str | None]


class EmailReplyRow(_Child, Base):
    """A customer's email reply; the unique Message-ID per incident records it once."""

    __tablename__ = "email_replies"
    __table_args__ = (
        UniqueConstraint("incident_id", "number"),
        UniqueConstraint("incident_id", "message_id"),
    )

    sender: Mapped[str] = mapped_column(String(255))
    sender_name: Mapped[str | None]
    subject: Mapped[str]
    text: Mapped[str]
    message_id: Mapped[str] = mapped_column(String(255))
    written_at: Mapped[datetime]
    at: Mapped[datetime]
    attachments: Mapped[str | None]  # one "size<TAB>name" per line


class TeamCounterRow(Base):
    """The last incident number handed out per team: the row lock serializes concurrent opens."""

    __tablename__ = "team_counters"

    team_id: Mapped[str] = mapped_column(slack_id(), primary_key=True)
    last_number: Mapped[int]


class PlaybookVersionRow(Base):
    """Every playbook an incident was opened under, by its content hash (see playbook_file).

    Incidents keep their version for life, so the content must outlive the file it came from.
    Content-addressed, hence shared by every team in the database.
    """

    __tablename__ = "playbook_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str]
    content: Mapped[str]
    created_at: Mapped[datetime]


class TimelineRow(Base):
    """Append-only history: nothing in `playbook.store` updates or deletes it."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_incident_id_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(slack_id())
    text: Mapped[str]


# --- delivery and exactly-once bookkeeping ------------------------------------------------------


class OutboxRow(Base):
    """A Slack side effect recorded in the same transaction as the state that asked for it."""

    __tablename__ = "outbox"
    # Open items only (partial index): claims scan these in id order, so a claim costs the same
    # with 100 or 100,000 done items behind it (a full scan grew with the history and ran inside
    # the write transaction every worker queues for). Two more for batch claims
    # (playbook/store/outbox.py): "an earlier open item of this incident?" is one probe of
    # ix_outbox_open_incident, and claims in priority order walk ix_outbox_open_priority
    # (priority, id), so the first heads of the highest priority are found without walking
    # past the queued card refreshes.
    __table_args__ = (
        Index(
            "ix_outbox_open",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("done_at IS NULL AND failed_at IS NULL"),
        ),
        Index(
            "ix_outbox_open_incident",
            "incident_id",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("done_at IS NULL AND failed_at IS NULL"),
        ),
        Index(
            "ix_outbox_open_priority",
            "priority",
            "id",
            sqlite_where=text("done_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("done_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    # Who waits for whom (playbook/domain/priority.py, lower first): set from the kind when
    # the row is queued. The default is for rows queued by a version that did not set it.
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str | None] = mapped_column(slack_id())
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None]


class ReminderClaimRow(Base):
    """One row per reminder that is being or has been sent; the unique key makes it once."""

    __tablename__ = "reminder_claims"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "due_at", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    ref: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class HandledEventRow(Base):
    """Slack retries events and Bolt does not deduplicate: remember the ids we handled."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    seen_at: Mapped[datetime] = mapped_column(index=True)
