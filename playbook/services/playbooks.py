"""The playbooks incidents run under: the built-in one, the current one, and every stored version.

The built-in playbook is read by `playbook.services.builtin`; a team's own file is read by the
shell (`bot.config.load_playbook`) and passed in with the policy. Every incident
keeps the playbook it was opened under, stored by version (`playbook.store.playbooks`).
"""

from __future__ import annotations

import logging
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

    def __init__(self, sessions: sessionmaker[Session], policy: Policy) -> None:
        self.sessions = sessions
        self.policy = policy
        current = policy.playbook
        self._parsed: dict[str, Playbook] = {current.version: current}
        self._stored: set[str] = set()  # versions known to be in the database

    @property
    def current(self) -> Playbook:
        """The playbook new incidents open under (the team's file, or the built-in one)."""
        return self.policy.playbook

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
        """The policy for commands on `incident`: the settings' timings, its own playbook."""
        playbook = self.playbook_for(incident, session)
        if playbook is self.policy.playbook:
            return self.policy
        return replace(self.policy, playbook=playbook)

    def remember_current(self, session: Session, now: datetime) -> None:
        """Store the current playbook in `session` unless it is known to be stored already."""
        if self.current.version not in self._stored:
            playbook_store.remember(session, self.current, now)

    def current_stored(self) -> None:
        """The transaction that called `remember_current` committed: no need to store it again."""
        self._stored.add(self.current.version)
