"""The timeline's persistence: the append-only history, its captures and its corrections.

``timeline_entries`` (`playbook.store.tables.TimelineRow`) is only ever appended to
(`append_timeline`). Two tables beside it:

* ``timeline_captures``: which Slack message became which entry. Its unique key
  ``(incident_id, message_ts)`` is the claim that keeps a message from being added twice, however
  many people react to it or pin it, on replicas at once (an insert that loses the race gets an
  IntegrityError, never a second entry).
* ``timeline_revisions``: every correction or removal of an entry as a new row. Nothing here
  updates or deletes a row: the latest revision wins, the earlier ones and the original entry
  stay on record.

Entry numbers (``T<n>``) are positions in the incident's timeline in insertion order, which
never change because the timeline is append-only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from playbook.domain.model import TimelineEntry
from playbook.domain.timeline import Entry, Revision
from playbook.store.base import Base
from playbook.store.engine import begin_reading
from playbook.store.tables import TimelineRow

__all__ = [
    "TimelineCaptureRow",
    "TimelineRevisionRow",
    "add_revision",
    "append_timeline",
    "capture",
    "get_timeline",
    "has_timeline_kind",
    "load_entries",
]


class TimelineCaptureRow(Base):
    """A Slack message captured onto an incident's timeline (by reaction, pin or the like)."""

    __tablename__ = "timeline_captures"
    __table_args__ = (UniqueConstraint("incident_id", "message_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_entries.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(String(64))
    message_ts: Mapped[str] = mapped_column(String(64))
    captured_by: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))
    captured_at: Mapped[datetime]


class TimelineRevisionRow(Base):
    """A correction (new time and text) or a removal of a timeline entry; never updated."""

    __tablename__ = "timeline_revisions"
    __table_args__ = (Index("ix_timeline_revisions_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_entries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    text: Mapped[str]
    removed: Mapped[bool]
    by: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime]


def append_timeline(
    session: Session, incident_id: int, team_id: str, entries: Iterable[TimelineEntry]
) -> None:
    """Add history lines. There is deliberately no way to edit or delete them."""
    append_timelines(session, ((incident_id, team_id, entry) for entry in entries))


def append_timelines(session: Session,
                     lines: Iterable[tuple[int, str, TimelineEntry]]) -> None:
    """Add history lines of several incidents ((incident id, team, line) each) in one
    executemany: a batch of reminders writes its lines in one round trip."""
    rows = [
        {
            "incident_id": incident_id,
            "team_id": team_id,
            "at": entry.at,
            "kind": entry.kind,
            "actor": entry.actor,
            "text": entry.text,
        }
        for incident_id, team_id, entry in lines
    ]
    if rows:
        session.execute(insert(TimelineRow.__table__), rows)


def get_timeline(session: Session, incident_id: int) -> list[TimelineEntry]:
    """The incident's history in order of time, then of insertion."""
    begin_reading(session)
    t = TimelineRow.__table__
    result = session.execute(
        select(t.c.at, t.c.kind, t.c.text, t.c.actor)
        .where(t.c.incident_id == incident_id)
        .order_by(t.c.at, t.c.id)
    )
    return [
        TimelineEntry(at=at, kind=kind, text=txt, actor=actor) for at, kind, txt, actor in result
    ]


def has_timeline_kind(session: Session, incident_id: int, kind: str) -> bool:
    """Whether the incident's history already holds a line of this kind (a retried effect
    that adds a one-off line checks this first)."""
    t = TimelineRow.__table__
    found = session.execute(select(t.c.id).where(t.c.incident_id == incident_id,
                                                 t.c.kind == kind).limit(1)).first()
    return found is not None


def load_entries(session: Session, incident_id: int) -> list[Entry]:
    """Every entry of the incident, numbered, with who captured it and all its revisions."""
    t = TimelineRow.__table__
    c = TimelineCaptureRow.__table__
    r = TimelineRevisionRow.__table__
    rows = session.execute(
        select(t.c.id, t.c.at, t.c.kind, t.c.text, t.c.actor, c.c.captured_by)
        .select_from(t.outerjoin(c, c.c.entry_id == t.c.id))
        .where(t.c.incident_id == incident_id)
        .order_by(t.c.id)
    ).all()
    revisions: dict[int, list[Revision]] = defaultdict(list)
    for entry_id, at, text, removed, by, made_at in session.execute(
        select(r.c.entry_id, r.c.at, r.c.text, r.c.removed, r.c.by, r.c.made_at)
        .where(r.c.incident_id == incident_id)
        .order_by(r.c.id)
    ):
        revisions[entry_id].append(Revision(at, text, bool(removed), by, made_at))
    return [
        Entry(row_id, number, at, kind, text, actor, captured_by, tuple(revisions[row_id]))
        for number, (row_id, at, kind, text, actor, captured_by) in enumerate(rows, start=1)
    ]


def _number(session: Session, incident_id: int, entry_id: int) -> int:
    t = TimelineRow.__table__
    return int(
        session.execute(
            select(func.count())
            .select_from(t)
            .where(t.c.incident_id == incident_id, t.c.id <= entry_id)
        ).scalar_one()
    )


def capture(
    session: Session,
    *,
    incident_id: int,
    team_id: str,
    channel_id: str,
    message_ts: str,
    entry: TimelineEntry,
    captured_by: str,
    via: str,
    now: datetime,
) -> tuple[int, bool]:
    """Add the message's entry unless it is already on the timeline.

    Returns the entry's number and whether it was added now (False: captured before, and the
    number is the earlier entry's).
    """
    t = TimelineRow.__table__
    c = TimelineCaptureRow.__table__
    try:
        with session.begin_nested():
            entry_id = session.execute(
                insert(t)
                .values(
                    incident_id=incident_id,
                    team_id=team_id,
                    at=entry.at,
                    kind=entry.kind,
                    actor=entry.actor,
                    text=entry.text,
                )
                .returning(t.c.id)
            ).scalar_one()
            session.execute(
                insert(c).values(
                    team_id=team_id,
                    incident_id=incident_id,
                    entry_id=entry_id,
                    channel_id=channel_id,
                    message_ts=message_ts,
                    captured_by=captured_by,
                    via=via,
                    captured_at=now,
                )
            )
    except IntegrityError:
        earlier = session.execute(
            select(c.c.entry_id).where(c.c.incident_id == incident_id, c.c.message_ts == message_ts)
        ).scalar_one()
        return _number(session, incident_id, earlier), False
    return _number(session, incident_id, entry_id), True


def add_revision(
    session: Session, *, incident_id: int, team_id: str, entry_id: int, revision: Revision
) -> None:
    """Record a correction; the entry and its earlier revisions are left as they were."""
    session.execute(
        insert(TimelineRevisionRow.__table__).values(
            team_id=team_id,
            incident_id=incident_id,
            entry_id=entry_id,
            at=revision.at,
            text=revision.text,
            removed=revision.removed,
            by=revision.by,
            made_at=revision.made_at,
        )
    )
