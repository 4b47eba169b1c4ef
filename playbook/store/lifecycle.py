"""What Slack did to our channels and our install, as the bot last heard it.

`channel_states` remembers, per channel the bot works in (incident or outage channels), that
it was archived or that the bot was removed, its latest name, and where the status card lives
meanwhile (the fallback copy). `team_pauses` remembers that Slack revoked the bot's tokens or
uninstalled the app: nothing is sent for that team until it is installed again, and nothing
is deleted. Both are the truth the outbox worker and the scheduler consult before sending.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from playbook.store.base import Base, slack_id
from playbook.store.tables import OutboxRow


class ChannelStateRow(Base):
    __tablename__ = "channel_states"

    team_id: Mapped[str] = mapped_column(slack_id(), primary_key=True)
    channel_id: Mapped[str] = mapped_column(slack_id(), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(80))
    archived_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    fallback_channel: Mapped[str | None] = mapped_column(slack_id())
    fallback_ts: Mapped[str | None] = mapped_column(slack_id())
    updated_at: Mapped[datetime]


class TeamPauseRow(Base):
    __tablename__ = "team_pauses"

    team_id: Mapped[str] = mapped_column(slack_id(), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime]


@dataclass(frozen=True)
class ChannelState:
    team_id: str
    channel_id: str
    name: str | None = None
    archived_at: datetime | None = None
    removed_at: datetime | None = None
    fallback_channel: str | None = None
    fallback_ts: str | None = None

    @property
    def usable(self) -> bool:
        """The bot can post there: not archived and still a member."""
        return self.archived_at is None and self.removed_at is None


def get_channel_state(session: Session, team_id: str, channel_id: str) -> ChannelState:
    row = session.get(ChannelStateRow, (team_id, channel_id), populate_existing=True)
    if row is None:
        return ChannelState(team_id, channel_id)
    return ChannelState(team_id, channel_id, row.name, row.archived_at, row.removed_at,
                        row.fallback_channel, row.fallback_ts)


def channel_usable(session: Session, channel_id: str) -> bool:
    """True unless the bot knows it can't post there (any team: channel ids are unique)."""
    lost = session.execute(
        select(ChannelStateRow.channel_id).where(
            ChannelStateRow.channel_id == channel_id,
            (ChannelStateRow.archived_at.is_not(None)) | (ChannelStateRow.removed_at.is_not(None))
        )).first()
    return lost is None


def lost_channels(session: Session, channel_ids: Collection[str]) -> set[str]:
    """Of `channel_ids`, the ones the bot knows it can't post in (`channel_usable` for many)."""
    if not channel_ids:
        return set()
    return set(session.execute(_LOST, {"channels": list(channel_ids)}).scalars())


# Read for every batch the outbox claims: built once (building costs more than running it).
_LOST = select(ChannelStateRow.channel_id).where(
    ChannelStateRow.channel_id.in_(bindparam("channels", expanding=True)),
    (ChannelStateRow.archived_at.is_not(None)) | (ChannelStateRow.removed_at.is_not(None)))


_UNSET = object()


def set_channel_state(session: Session, team_id: str, channel_id: str, now: datetime, *,
                      name: object = _UNSET, archived_at: object = _UNSET,
                      removed_at: object = _UNSET, fallback_channel: object = _UNSET,
                      fallback_ts: object = _UNSET) -> ChannelState:
    """Change the given fields (others are kept) and return the state before the change."""
    before = get_channel_state(session, team_id, channel_id)
    values = {k: v for k, v in (("name", name), ("archived_at", archived_at),
                                ("removed_at", removed_at),
                                ("fallback_channel", fallback_channel),
                                ("fallback_ts", fallback_ts)) if v is not _UNSET}
    row = session.get(ChannelStateRow, (team_id, channel_id))
    if row is None:
        session.add(ChannelStateRow(team_id=team_id, channel_id=channel_id, updated_at=now,
                                    **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
    session.flush()
    return before


# --- install state ------------------------------------------------------------------------------


def pause_team(session: Session, team_id: str, reason: str, now: datetime) -> bool:
    """Record that Slack took our tokens; True if this is news (not already paused)."""
    if session.get(TeamPauseRow, team_id) is not None:
        return False
    session.add(TeamPauseRow(team_id=team_id, reason=reason[:64], paused_at=now))
    session.flush()
    return True


def resume_team(session: Session, team_id: str) -> bool:
    result = session.execute(delete(TeamPauseRow).where(TeamPauseRow.team_id == team_id))
    return bool(result.rowcount)


def is_paused(session: Session, team_id: str) -> bool:
    return session.execute(select(TeamPauseRow.team_id)
                           .where(TeamPauseRow.team_id == team_id)).first() is not None


def paused_reason(session: Session, team_id: str) -> str | None:
    row = session.get(TeamPauseRow, team_id, populate_existing=True)
    return row.reason if row else None


def hold_outbox(session: Session, item_id: int, *, until: datetime, why: str,
                worker: str | None = None) -> None:
    """Put a claimed item back untouched until `until`: not an attempt, not a failure (the
    team is paused; the item runs when Slack lets us send again). With `worker`, only while
    that worker still holds it: one that lost the lease must not clear its new holder's."""
    o = OutboxRow.__table__
    mine = [o.c.claimed_by == worker, o.c.done_at.is_(None)] if worker is not None else []
    session.execute(update(o).where(o.c.id == item_id, *mine).values(
        next_attempt_at=until, claimed_by=None, claimed_until=None, last_error=why[:200]))


def paused_reasons(session: Session, team_ids: Collection[str]) -> dict[str, str]:
    """Of `team_ids`, the paused ones and why (`paused_reason` for many, in one query)."""
    if not team_ids:
        return {}
    rows = session.execute(_PAUSED, {"teams": list(team_ids)})
    return {str(team): str(reason) for team, reason in rows}


_PAUSED = select(TeamPauseRow.team_id, TeamPauseRow.reason).where(
    TeamPauseRow.team_id.in_(bindparam("teams", expanding=True)))
