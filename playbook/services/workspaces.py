"""The workspaces the app serves: which Grid org each belongs to, and what happens to a
workspace's sends when the app is uninstalled and installed again.

One transaction per use case, like every service. The installations themselves (tokens) are
slack_sdk's business (bot/slack/installations.py); here is only what our own tables say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.store import installations as installs_store
from playbook.store import lifecycle as lifecycle_store


class WorkspaceService:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def remember(self, team_id: str, enterprise_id: str | None) -> bool:
        """Note which Grid org the workspace belongs to (an org-wide install's token serves
        it); True if that was news."""
        with self.sessions.begin() as session:
            return installs_store.remember_workspace(session, team_id, enterprise_id)

    def enterprise_of(self, team_id: str) -> str | None:
        with store.reading(self.sessions) as session:
            return installs_store.enterprise_of(session, team_id)

    def teams_of(self, enterprise_id: str) -> list[str]:
        """The workspaces of a Grid org we have heard from."""
        row = installs_store.WorkspaceRow
        with store.reading(self.sessions) as session:
            return list(session.execute(select(row.team_id)
                                        .where(row.enterprise_id == enterprise_id)).scalars())

    def uninstalled(self, team_ids: Iterable[str], reason: str) -> list[str]:
        """Pause the sends of these workspaces (their data stays); returns the newly paused."""
        now = self.clock()
        with self.sessions.begin() as session:
            return [team for team in team_ids
                    if lifecycle_store.pause_team(session, team, reason, now)]

    def installed(self, team_ids: Iterable[str]) -> dict[str, int]:
        """The app is installed again: resume each workspace's sends and make every outbox
        row held during the pause due now. Returns team -> rows released (teams that were
        neither paused nor holding anything are left out)."""
        now = self.clock()
        out: dict[str, int] = {}
        with self.sessions.begin() as session:
            for team in team_ids:
                resumed = lifecycle_store.resume_team(session, team)
                released = installs_store.release_held(session, team, now)
                if resumed or released:
                    out[team] = released
        return out
