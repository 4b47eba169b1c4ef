"""Installations of the app (one per workspace or Grid org), the OAuth states of installs in
progress, and each workspace's own settings.

`slack_installations`, `slack_bots` and `slack_oauth_states` are the tables slack_sdk's
SQLAlchemy installation and state stores read and write (bot/slack/installations.py builds
those stores on our engine). They are declared here, column for column as slack_sdk declares
them, so that our migration (0013_installations) creates them on both databases and `alembic
check` compares them like every other table; tests/integration/test_installations.py checks
that these declarations still match slack_sdk's.

`workspaces` is ours: for each workspace the Grid org it belongs to (what finds an org-wide
install's token for it) and the settings its admins chose (`settings`, a JSON object read by
`playbook.services.settings`; absent keys fall back to the environment).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from playbook.store.base import Base, metadata, slack_id
from playbook.store.tables import OutboxRow

__all__ = [
    "BOTS",
    "INSTALLATIONS",
    "OAUTH_STATES",
    "WorkspaceRow",
    "enterprise_of",
    "release_held",
    "remember_workspace",
    "save_workspace_settings",
    "workspace_settings",
]

INSTALLATIONS = Table(
    "slack_installations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id",
          "installed_at"),
)

BOTS = Table(
    "slack_bots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

OAUTH_STATES = Table(
    "slack_oauth_states", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class WorkspaceRow(Base):
    """A workspace we have heard from: its Grid org, and the settings its admins chose."""

    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(slack_id(), primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(slack_id())
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str | None] = mapped_column(slack_id())
    updated_at: Mapped[datetime | None]


def remember_workspace(session: Session, team_id: str, enterprise_id: str | None) -> bool:
    """Record (or correct) which Grid org `team_id` belongs to; True if that was news."""
    row = session.get(WorkspaceRow, team_id)
    if row is None:
        session.add(WorkspaceRow(team_id=team_id, enterprise_id=enterprise_id, settings={}))
        session.flush()
        return True
    if enterprise_id and row.enterprise_id != enterprise_id:
        row.enterprise_id = enterprise_id
        session.flush()
        return True
    return False


def enterprise_of(session: Session, team_id: str) -> str | None:
    return session.execute(select(WorkspaceRow.enterprise_id)
                           .where(WorkspaceRow.team_id == team_id)).scalar_one_or_none()


def workspace_settings(session: Session, team_id: str, *,
                       for_update: bool = False) -> dict[str, Any]:
    """The settings a workspace's admins saved (empty: all from the environment).
    `for_update`: lock the row until the transaction ends (PostgreSQL; SQLite's writers are
    serialized by BEGIN IMMEDIATE), so two admins' changes of different keys both land."""
    query = select(WorkspaceRow.settings).where(WorkspaceRow.team_id == team_id)
    if for_update:
        query = query.with_for_update()
    found = session.execute(query).scalar_one_or_none()
    return dict(found or {})


def save_workspace_settings(session: Session, team_id: str, settings: dict[str, Any], *,
                            by: str, now: datetime) -> None:
    row = session.get(WorkspaceRow, team_id)
    if row is None:
        row = WorkspaceRow(team_id=team_id, enterprise_id=None)
        session.add(row)
    row.settings = dict(settings)
    row.updated_by = by
    row.updated_at = now
    session.flush()


def release_held(session: Session, team_id: str, now: datetime) -> int:
    """Make the team's outbox rows held during a pause due now (the app is installed again);
    returns how many. Held rows are the unfinished ones whose last error says so
    (`playbook.store.lifecycle.hold_outbox` writes "paused: …")."""
    o = OutboxRow.__table__
    result = session.execute(
        update(o).where(o.c.team_id == team_id, o.c.done_at.is_(None),
                        o.c.failed_at.is_(None), o.c.claimed_by.is_(None),
                        o.c.last_error.like("paused:%"), o.c.next_attempt_at > now)
        .values(next_attempt_at=now))
    return int(result.rowcount or 0)
