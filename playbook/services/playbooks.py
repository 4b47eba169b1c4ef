"""The playbooks incidents run under: the built-in one, the current one, and every stored version.

The built-in playbook is read by `playbook.services.builtin`; a team's own file is read by the
shell (`bot.config.load_playbook`) and passed in with the policy. Every incident
keeps the playbook it was opened under, stored by version (`playbook.store.playbooks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.model import Incident, Policy
from playbook.domain.playbook_file import Playbook
from playbook.services.builtin import builtin_playbook
from playbook.store import playbooks as playbook_store

__all__ = ["PlaybookCatalog"]

log = logging.getLogger(__name__)


class PlaybookCatalog:
    """The current playbook and the stored versions incidents were opened under, each parsed
    once (immutable values) and read from the database only when first needed."""

    def __init__(self, sessions: sessionmaker[Session], policy: Policy, *,
                 policy_of: Callable[[str], Policy] | None = None) -> None:
        """`policy` is the environment's; `policy_of(team)` a workspace's own (its timings
        and playbook: `playbook.services.settings`), by default the environment's."""
        self.sessions = sessions
        self.policy = policy
        self.policy_of: Callable[[str], Policy] = policy_of or (lambda team: policy)
        current = policy.playbook
        self._parsed: dict[str, Playbook] = {current.version: current}
        self._stored: set[str] = set()  # versions known to be in the database

    @property
    def current(self) -> Playbook:
        """The environment's playbook (CRISISBOT_PLAYBOOK's file, or the built-in one)."""
        return self.policy.playbook

    def current_for(self, team_id: str) -> Playbook:
        """The playbook `team_id`'s new incidents open under (its own, else the default)."""
        return self.policy_of(team_id).playbook

    def playbook_for(self, incident: Incident, session: Session | None = None) -> Playbook:
        """The playbook `incident` was opened under: its checklist, gates and reminder texts."""
        version = incident.playbook_version
        if version is None:
            return builtin_playbook()
        found = self._parsed.get(version)
        if found is None:
            if session is None:
                with store.reading(self.sessions) as own:
                    found = playbook_store.load(own, version)
            else:
                found = playbook_store.load(session, version)
            if found is None:  # a database edited by hand: better the current one than nothing
                log.warning("playbook version %s of %s is not stored; using the current one",
                            version, incident.key)
                found = self.current
            self._parsed[version] = found
        return found

    def policy_for(self, incident: Incident, session: Session | None = None) -> Policy:
        """The policy for commands on `incident`: its workspace's timings, its own playbook."""
        team = self.policy_of(incident.team_id)
        if incident.playbook_version == team.playbook.version:
            return team
        playbook = self.playbook_for(incident, session)
        if playbook is team.playbook:
            return team
        return replace(team, playbook=playbook)

    def remember_current(self, session: Session, now: datetime,
                         playbook: Playbook | None = None) -> None:
        """Store `playbook` (default: the environment's) in `session` unless it is known to
        be stored already."""
        playbook = playbook or self.current
        self._parsed.setdefault(playbook.version, playbook)
        if playbook.version not in self._stored:
            playbook_store.remember(session, playbook, now)

    def current_stored(self, playbook: Playbook | None = None) -> None:
        """The transaction that called `remember_current` committed: no need to store it again."""
        self._stored.add((playbook or self.current).version)
