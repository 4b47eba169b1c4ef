"""Incidents <-> rows: which column holds which `Incident` field, and how each child list maps to
its table.

Child lists of an incident are child tables keyed by `(incident_id, number)`. Cadence changes
and step records have no number of their own in the model, so theirs is the 1-based position
in the list. Small lists of plain strings (customer words, drivers, lessons) are JSON columns:
nothing ever queries inside them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from playbook.domain.errors import PlaybookError
from playbook.domain.model import (
    Action,
    CadenceChange,
    CapturedMessage,
    CaptureKind,
    Checkin,
    CustomerEmail,
    CustomerUpdate,
    EmailReply,
    EmailStatus,
    Handover,
    Incident,
    Link,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Reopening,
    Snooze,
    Status,
    Step,
    StepRecord,
)
from playbook.domain.parse import normalize_customer, parse_window
from playbook.domain.windows import Window
from playbook.store.tables import (
    ActionRow,
    CadenceChangeRow,
    CapturedMessageRow,
    CheckinRow,
    CustomerUpdateRow,
    EmailReplyRow,
    HandoverRow,
    LinkRow,
    OptionRow,
    ParkedTopicRow,
    PromiseRow,
    ReopeningRow,
    SentEmailRow,
    SnoozeRow,
    StepRecordRow,
)

__all__ = [
    "CHILDREN",
    "LIST_FIELDS",
    "PERSISTED_FIELDS",
    "SCALAR_FIELDS",
    "ChildSpec",
    "customer_key",
    "incident_values",
    "keyed_items",
    "to_incident",
]

log = logging.getLogger(__name__)


def customer_key(customer: str) -> str:
    """The key two incidents share when they are about the same customer (recurrence).

    `playbook.domain.parse.normalize_customer`, so the store and the parser agree on what "the same
    customer" means. Stored in `incidents.customer_key`: changing the normalization needs a data
    migration that recomputes the column.
    """
    return normalize_customer(customer)


# Scalar fields of Incident that map 1:1 to a column of the same name.
SCALAR_FIELDS: tuple[str, ...] = (
    "customer",
    "description",
    "severity",
    "channel_id",
    "channel_name",
    "card_ts",
    "customer_channel_id",
    "opened_by",
    "opened_at",
    "impact",
    "noticed",
    "context_given",
    "restatement",
    "restatement_confirmed_at",
    "owner",
    "owner_set_at",
    "communicator",
    "apology_at",
    "recommended",
    "recommend_why",
    "chosen",
    "chosen_at",
    "resolution",
    "resolved_at",
    "relief",
    "relief_at",
    "relief_by",
    "customer_informed_at",
    "root_cause",
    "reminders_fired",
    "escalations_fired",
    "leader_call_asked_at",
    "leader_call_due_at",
    "leader_call_at",
    "leader_call_by",
    "leader_call_note",
    "closed_at",
    "playbook_version",
    "last_activity_at",
)
LIST_FIELDS: tuple[str, ...] = ("customer_words", "drivers", "lessons", "customer_emails")


def incident_values(incident: Incident) -> dict[str, Any]:
    """Column values of the incidents row (not id, team_id, number or version)."""
    values: dict[str, Any] = {name: getattr(incident, name) for name in SCALAR_FIELDS}
    values.update({name: list(getattr(incident, name)) for name in LIST_FIELDS})
    values["checks"] = dict(incident.checks)
    values["not_invited"] = dict(incident.not_invited)
    values["customer_key"] = customer_key(incident.customer)
    values["status"] = Status(incident.status).value
    values["step"] = Step(incident.step).value
    return values


@dataclass(frozen=True)
class ChildSpec:
    """How one list of an Incident maps to its child table."""

    field: str  # attribute name on Incident and relationship name on IncidentRow
    row_type: type[Any]
    numbered: bool  # True: the item carries `number`; False: number = 1-based position
    to_values: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], Any]


CHILDREN: tuple[ChildSpec, ...] = (
    ChildSpec(
        "cadence_changes",
        CadenceChangeRow,
        False,
        lambda c: {
            "at": c.at,
            "interval_seconds": int(c.interval.total_seconds()),
            "agreed": c.agreed,
            "by_user": c.by,
            "window_spec": c.window.spec if c.window is not None else None,
        },
        lambda r: CadenceChange(
            at=r.at, interval=timedelta(seconds=r.interval_seconds), agreed=r.agreed,
            by=r.by_user, window=_window(r.window_spec),
        ),
    ),
    ChildSpec(
        "options",
        OptionRow,
        True,
        lambda o: {"text": o.text, "risk": o.risk, "added_by": o.added_by,
                   "added_at": o.added_at, "relief": o.relief},
        lambda r: Option(
            number=r.number, text=r.text, risk=r.risk, added_by=r.added_by, added_at=r.added_at,
            relief=bool(r.relief),
        ),
    ),
    ChildSpec(
        "promises",
        PromiseRow,
        True,
        lambda p: {
            "text": p.text,
            "due_at": p.due_at,
            "made_by": p.made_by,
            "made_at": p.made_at,
            "status": PromiseStatus(p.status).value,
            "settled_at": p.settled_at,
        },
        lambda r: Promise(
            number=r.number,
            text=r.text,
            due_at=r.due_at,
            made_by=r.made_by,
            made_at=r.made_at,
            status=PromiseStatus(r.status),
            settled_at=r.settled_at,
        ),
    ),
    ChildSpec(
        "actions",
        ActionRow,
        True,
        lambda a: {
            "text": a.text,
            "owner": a.owner,
            "added_by": a.added_by,
            "added_at": a.added_at,
            "done_at": a.done_at,
        },
        lambda r: Action(
            number=r.number,
            text=r.text,
            owner=r.owner,
            added_by=r.added_by,
            added_at=r.added_at,
            done_at=r.done_at,
        ),
    ),
    ChildSpec(
        "parked",
        ParkedTopicRow,
        True,
        lambda t: {"text": t.text, "added_by": t.added_by, "added_at": t.added_at},
        lambda r: ParkedTopic(
            number=r.number, text=r.text, added_by=r.added_by, added_at=r.added_at
        ),
    ),
    ChildSpec(
        "updates",
        CustomerUpdateRow,
        True,
        lambda u: {
            "text": u.text,
            "by_user": u.by,
            "at": u.at,
            "sent_to_channel": u.sent_to_channel,
        },
        lambda r: CustomerUpdate(
            number=r.number, text=r.text, by=r.by_user, at=r.at, sent_to_channel=r.sent_to_channel
        ),
    ),
    ChildSpec(
        "checkins",
        CheckinRow,
        True,
        lambda c: {"due_at": c.due_at, "done_at": c.done_at, "done_by": c.done_by},
        lambda r: Checkin(number=r.number, due_at=r.due_at, done_at=r.done_at, done_by=r.done_by),
    ),
    ChildSpec(
        "steps",
        StepRecordRow,
        False,
        lambda s: {
            "step": Step(s.step).value,
            "completed_at": s.completed_at,
            "by_user": s.by,
            "skipped_reason": s.skipped_reason,
        },
        lambda r: StepRecord(
            step=Step(r.step),
            completed_at=r.completed_at,
            by=r.by_user,
            skipped_reason=r.skipped_reason,
        ),
    ),
    ChildSpec(
        "snoozes",
        SnoozeRow,
        True,
        lambda z: {"at": z.at, "until_at": z.until, "by_user": z.by, "reason": z.reason},
        lambda r: Snooze(number=r.number, at=r.at, until=r.until_at, by=r.by_user,
                         reason=r.reason),
    ),
    ChildSpec(
        "captures",
        CapturedMessageRow,
        True,
        lambda c: {
            "kind": CaptureKind(c.kind).value,
            "text": c.text,
            "author": c.author,
            "author_name": c.author_name,
            "channel_id": c.channel_id,
            "message_ts": c.message_ts,
            "permalink": c.permalink,
            "by_user": c.by,
            "at": c.at,
            "written_at": c.written_at,
        },
        lambda r: CapturedMessage(
            number=r.number,
            kind=CaptureKind(r.kind),
            text=r.text,
            author=r.author,
            author_name=r.author_name,
            channel_id=r.channel_id,
            message_ts=r.message_ts,
            permalink=r.permalink,
            by=r.by_user,
            at=r.at,
            written_at=r.written_at,
        ),
    ),
    ChildSpec(
        "handovers",
        HandoverRow,
        True,
        lambda h: {
            "from_user": h.from_user,
            "to_user": h.to_user,
            "by_user": h.by,
            "at": h.at,
            "notes": h.notes,
        },
        lambda r: Handover(
            number=r.number,
            from_user=r.from_user,
            to_user=r.to_user,
            by=r.by_user,
            at=r.at,
            notes=r.notes,
        ),
    ),
    ChildSpec(
        "reopenings",
        ReopeningRow,
        True,
        lambda o: {
            "at": o.at,
            "by_user": o.by,
            "reason": o.reason,
            "closed_at": o.closed_at,
            "resolved_at": o.resolved_at,
            "customer_informed_at": o.customer_informed_at,
            "resolution": o.resolution,
        },
        lambda r: Reopening(
            number=r.number,
            at=r.at,
            by=r.by_user,
            reason=r.reason,
            closed_at=r.closed_at,
            resolved_at=r.resolved_at,
            customer_informed_at=r.customer_informed_at,
            resolution=r.resolution,
        ),
    ),
    ChildSpec(
        "links",
        LinkRow,
        True,
        lambda lk: {
            "url": lk.url,
            "label": lk.label,
            "kind": lk.kind,
            "added_by": lk.added_by,
            "added_at": lk.added_at,
        },
        lambda r: Link(
            number=r.number,
            url=r.url,
            label=r.label,
            kind=r.kind,
            added_by=r.added_by,
            added_at=r.added_at,
        ),
    ),
    ChildSpec(
        "emails",
        SentEmailRow,
        True,
        lambda e: {
            "text": e.text,
            "by_user": e.by,
            "at": e.at,
            "recipients": ",".join(e.recipients),
            "counts": e.counts,
            "status": EmailStatus(e.status).value,
            "message_id": e.message_id,
            "settled_at": e.settled_at,
            "error": e.error,
        },
        lambda r: CustomerEmail(
            number=r.number,
            text=r.text,
            by=r.by_user,
            at=r.at,
            recipients=tuple(a for a in r.recipients.split(",") if a),
            counts=bool(r.counts),
            status=EmailStatus(r.status),
            message_id=r.message_id,
            settled_at=r.settled_at,
            error=r.error,
        ),
    ),
    ChildSpec(
        "email_replies",
        EmailReplyRow,
        True,
        lambda m: {
            "sender": m.sender,
            "sender_name": m.sender_name,
            "subject": m.subject,
            "text": m.text,
            "message_id": m.message_id,
            "written_at": m.written_at,
            "at": m.at,
            "attachments": _attachments_text(m.attachments),
        },
        lambda r: EmailReply(
            number=r.number,
            sender=r.sender,
            sender_name=r.sender_name,
            subject=r.subject,
            text=r.text,
            message_id=r.message_id,
            written_at=r.written_at,
            at=r.at,
            attachments=_attachments(r.attachments),
        ),
    ),
)


def _attachments_text(items: tuple[tuple[str, int], ...]) -> str | None:
    return "\n".join(f"{size}\t{name}" for name, size in items) or None


def _attachments(text: str | None) -> tuple[tuple[str, int], ...]:
    found = []
    for line in (text or "").splitlines():
        size, _, name = line.partition("\t")
        found.append((name, int(size) if size.isdigit() else 0))
    return tuple(found)


def _window(spec: str | None) -> Window | None:
    """A stored cadence window read back; one that no longer parses (a zone dropped from the
    tz database) becomes "around the clock" rather than an incident that can't be loaded."""
    if not spec:
        return None
    try:
        return parse_window(spec)
    except PlaybookError:
        log.warning("ignoring unreadable cadence window %r", spec)
        return None


# Every field of Incident must be persisted somewhere; tests check this stays true.
PERSISTED_FIELDS: frozenset[str] = frozenset(
    {"id", "team_id", "number", "version", "status", "step"}
    | set(SCALAR_FIELDS)
    | set(LIST_FIELDS)
    | {"checks", "not_invited"}
    | {spec.field for spec in CHILDREN}
)


def keyed_items(spec: ChildSpec, items: Sequence[Any]) -> list[tuple[int, dict[str, Any]]]:
    keyed = [
        (item.number if spec.numbered else position, spec.to_values(item))
        for position, item in enumerate(items, start=1)
    ]
    numbers = [number for number, _ in keyed]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"Incident.{spec.field} has duplicate numbers: {numbers}")
    return keyed


# Columns of the incidents row that become Incident fields as they are (the rest is converted).
_PLAIN_FIELDS: tuple[str, ...] = ("team_id", "number", "id", "version", *SCALAR_FIELDS)


def to_incident(values: dict[str, Any]) -> Incident:
    """An incident from a row of the incidents table (as a dict), its child lists still empty."""
    return Incident(
        status=Status(values["status"]),
        step=Step(values["step"]),
        customer_words=list(values["customer_words"] or []),
        drivers=list(values["drivers"] or []),
        lessons=list(values["lessons"] or []),
        customer_emails=list(values["customer_emails"] or []),
        checks=dict(values["checks"] or {}),
        not_invited=dict(values["not_invited"] or {}),
        **{name: values[name] for name in _PLAIN_FIELDS},
    )
