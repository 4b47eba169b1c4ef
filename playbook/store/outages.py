"""Outage tables and their repository functions (the only SQL about outages).

On the metadata of `playbook.store.base`, so `alembic check` and the migrations see these tables
like any other. An incident is attached to at most one outage at a time: a partial unique index
on the live links says so in the database itself.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from playbook.domain.outage import Draft, DraftStatus, Outage, OutageStatus, OutageUpdate
from playbook.store.base import Base, slack_id

LIVE_LINK = "detached_at IS NULL"


class OutageRow(Base):
    __tablename__ = "outages"
    __table_args__ = (UniqueConstraint("team_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    number: Mapped[int]
    title: Mapped[str]
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_by: Mapped[str] = mapped_column(slack_id())
    opened_at: Mapped[datetime]
    channel_id: Mapped[str | None] = mapped_column(slack_id(), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(slack_id())
    resolution: Mapped[str | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(slack_id())


class OutageUpdateRow(Base):
    __tablename__ = "outage_updates"
    __table_args__ = (UniqueConstraint("outage_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(slack_id())
    number: Mapped[int]
    text: Mapped[str]
    by: Mapped[str] = mapped_column(slack_id())
    at: Mapped[datetime]


class OutageLinkRow(Base):
    """An incident attached to an outage; detaching keeps the row (history) with detached_at."""

    __tablename__ = "outage_links"
    __table_args__ = (
        Index("ix_outage_links_live_incident", "incident_id", unique=True,
              sqlite_where=text(LIVE_LINK), postgresql_where=text(LIVE_LINK)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"),
                                           index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    attached_at: Mapped[datetime]
    attached_by: Mapped[str] = mapped_column(slack_id())
    detached_at: Mapped[datetime | None]
    detached_by: Mapped[str | None] = mapped_column(slack_id())


class OutageDraftRow(Base):
    """An outage update offered to one attached incident, until logged or dismissed there."""

    __tablename__ = "outage_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(slack_id())
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    update_number: Mapped[int]
    text: Mapped[str]
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    settled_by: Mapped[str | None] = mapped_column(slack_id())
    settled_at: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(slack_id())
    message_ts: Mapped[str | None] = mapped_column(slack_id())


# --- outages ----------------------------------------------------------------------------------


def _to_outage(session: Session, row: OutageRow) -> Outage:
    updates = session.execute(
        select(OutageUpdateRow).where(OutageUpdateRow.outage_id == row.id)
        .order_by(OutageUpdateRow.number)).scalars().all()
    return Outage(
        team_id=row.team_id, number=row.number, title=row.title, opened_by=row.opened_by,
        opened_at=row.opened_at, id=row.id, status=OutageStatus(row.status),
        channel_id=row.channel_id, channel_name=row.channel_name, card_ts=row.card_ts,
        resolution=row.resolution, resolved_at=row.resolved_at, resolved_by=row.resolved_by,
        updates=[OutageUpdate(u.number, u.text, u.by, u.at) for u in updates])


def add_outage(session: Session, out: Outage) -> Outage:
    """Insert with the team's next OUT number (the unique key settles a race: retry)."""
    for _ in range(5):
        highest = session.execute(select(func.max(OutageRow.number))
                                  .where(OutageRow.team_id == out.team_id)).scalar_one_or_none()
        row = OutageRow(team_id=out.team_id, number=(highest or 0) + 1, title=out.title,
                        status=out.status.value, opened_by=out.opened_by,
                        opened_at=out.opened_at)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        return _to_outage(session, row)
    raise RuntimeError(f"could not allocate an outage number for team {out.team_id}")


def save_outage(session: Session, out: Outage) -> Outage:
    """Write the outage's fields and any updates not stored yet (updates are append-only)."""
    assert out.id is not None
    session.execute(update(OutageRow).where(OutageRow.id == out.id).values(
        title=out.title, status=out.status.value, channel_id=out.channel_id,
        channel_name=out.channel_name, card_ts=out.card_ts, resolution=out.resolution,
        resolved_at=out.resolved_at, resolved_by=out.resolved_by))
    stored = set(session.execute(select(OutageUpdateRow.number)
                                 .where(OutageUpdateRow.outage_id == out.id)).scalars())
    for u in out.updates:
        if u.number not in stored:
            session.add(OutageUpdateRow(outage_id=out.id, team_id=out.team_id, number=u.number,
                                        text=u.text, by=u.by, at=u.at))
    session.flush()
    found = get_outage_by_id(session, out.id)
    assert found is not None
    return found


def get_outage_by_id(session: Session, outage_id: int) -> Outage | None:
    row = session.get(OutageRow, outage_id, populate_existing=True)
    return _to_outage(session, row) if row else None


def get_outage(session: Session, team_id: str, number: int) -> Outage | None:
    row = session.execute(select(OutageRow).where(OutageRow.team_id == team_id,
                                                  OutageRow.number == number)).scalar()
    return _to_outage(session, row) if row else None


def get_outage_by_channel(session: Session, channel_id: str) -> Outage | None:
    row = session.execute(select(OutageRow).where(OutageRow.channel_id == channel_id)).scalar()
    return _to_outage(session, row) if row else None


def list_outages(session: Session, team_id: str, *, open_only: bool = True) -> list[Outage]:
    query = select(OutageRow).where(OutageRow.team_id == team_id)
    if open_only:
        query = query.where(OutageRow.status == OutageStatus.OPEN.value)
    rows = session.execute(query.order_by(OutageRow.number)).scalars().all()
    return [_to_outage(session, r) for r in rows]


# --- links ------------------------------------------------------------------------------------


def attach(session: Session, *, team_id: str, outage_id: int, incident_id: int, by: str,
           now: datetime) -> None:
    """Attach; the partial unique index refuses a second live link of the same incident."""
    session.add(OutageLinkRow(team_id=team_id, outage_id=outage_id, incident_id=incident_id,
                              attached_at=now, attached_by=by))
    session.flush()


def detach(session: Session, *, incident_id: int, by: str, now: datetime) -> bool:
    result = session.execute(
        update(OutageLinkRow)
        .where(OutageLinkRow.incident_id == incident_id, OutageLinkRow.detached_at.is_(None))
        .values(detached_at=now, detached_by=by))
    return bool(result.rowcount)


def attached_ids(session: Session, outage_id: int) -> list[int]:
    return list(session.execute(
        select(OutageLinkRow.incident_id)
        .where(OutageLinkRow.outage_id == outage_id, OutageLinkRow.detached_at.is_(None))
        .order_by(OutageLinkRow.attached_at, OutageLinkRow.id)).scalars())


def outage_of(session: Session, incident_id: int) -> Outage | None:
    """The outage an incident is attached to now, if any."""
    outage_id = session.execute(
        select(OutageLinkRow.outage_id)
        .where(OutageLinkRow.incident_id == incident_id, OutageLinkRow.detached_at.is_(None))
    ).scalar()
    return get_outage_by_id(session, outage_id) if outage_id is not None else None


def outage_ids_of(session: Session, incident_ids: Collection[int]) -> dict[int, int]:
    """For each of `incident_ids` attached to an outage now, that outage's id."""
    if not incident_ids:
        return {}
    rows = session.execute(_ATTACHED, {"incidents": list(incident_ids)})
    return {incident_id: outage_id for incident_id, outage_id in rows}


# Read for every batch the outbox claims: built once (building costs more than running it).
_ATTACHED = select(OutageLinkRow.incident_id, OutageLinkRow.outage_id).where(
    OutageLinkRow.incident_id.in_(bindparam("incidents", expanding=True)),
    OutageLinkRow.detached_at.is_(None))


# --- drafts -----------------------------------------------------------------------------------


def _to_draft(row: OutageDraftRow) -> Draft:
    return Draft(outage_id=row.outage_id, incident_id=row.incident_id,
                 update_number=row.update_number, text=row.text, created_at=row.created_at,
                 id=row.id, status=DraftStatus(row.status), settled_by=row.settled_by,
                 settled_at=row.settled_at, channel_id=row.channel_id,
                 message_ts=row.message_ts)


def add_draft(session: Session, team_id: str, draft: Draft) -> Draft:
    row = OutageDraftRow(team_id=team_id, outage_id=draft.outage_id,
                         incident_id=draft.incident_id, update_number=draft.update_number,
                         text=draft.text, created_at=draft.created_at,
                         status=draft.status.value)
    session.add(row)
    session.flush()
    return _to_draft(row)


def get_draft(session: Session, draft_id: int) -> Draft | None:
    row = session.get(OutageDraftRow, draft_id, populate_existing=True)
    return _to_draft(row) if row else None


def settle_draft(session: Session, draft_id: int, status: DraftStatus, by: str,
                 now: datetime) -> bool:
    """Pending -> logged/dismissed, once: False when someone settled it first."""
    result = session.execute(
        update(OutageDraftRow)
        .where(OutageDraftRow.id == draft_id,
               OutageDraftRow.status == DraftStatus.PENDING.value)
        .values(status=status.value, settled_by=by, settled_at=now))
    return bool(result.rowcount)


def set_draft_message(session: Session, draft_id: int, channel_id: str, ts: str) -> None:
    session.execute(update(OutageDraftRow).where(OutageDraftRow.id == draft_id)
                    .values(channel_id=channel_id, message_ts=ts))


def drafts_for(session: Session, incident_id: int) -> list[Draft]:
    rows = session.execute(select(OutageDraftRow).where(OutageDraftRow.incident_id == incident_id)
                           .order_by(OutageDraftRow.id)).scalars().all()
    return [_to_draft(r) for r in rows]
