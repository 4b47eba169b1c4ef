"""What the bot records when Slack changes things under it: channels and the install.

A channel archived, renamed or unarchived by someone, the bot removed from a channel (or finding
out from a Web API error), tokens revoked or the app uninstalled. Each change is recorded in the
database (the incident's timeline says what happened, `channel_states` and `team_pauses` say
where the bot may post), with outbox rows that tell people where the card and the reminders
continue. Nothing is ever deleted.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from playbook import store
from playbook.domain.model import Incident, TimelineEntry
from playbook.domain.text import esc, mention
from playbook.services.incidents import Service
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outages as outage_store
from playbook.store.lifecycle import ChannelState

log = logging.getLogger(__name__)


class Change(StrEnum):
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"
    RENAMED = "renamed"
    REMOVED = "removed"  # the bot was removed (or a Web API call said it is not in there)
    REJOINED = "rejoined"  # the bot was invited back


LOST = (Change.ARCHIVED, Change.REMOVED)


def _line(change: Change, inc: Incident, *, actor: str | None, name: str | None,
          why: str | None) -> str:
    by = f" by {mention(actor)}" if actor else ""
    if change is Change.ARCHIVED:
        return (f"🗄️ The channel of {inc.key} was archived{by}. The card and reminders continue "
                "in the leads channel or the owner's DM; unarchive the channel to bring them "
                "back.")
    if change is Change.UNARCHIVED:
        return f"📂 The channel of {inc.key} was unarchived{by}: the card and reminders are back."
    if change is Change.RENAMED:
        return f"✏️ The channel of {inc.key} was renamed to #{esc(name or '')}."
    if change is Change.REMOVED:
        detail = f" ({esc(why)})" if why else ""
        return (f"🚪 I was removed from the channel of {inc.key}{by}{detail}. The card and "
                "reminders continue in the leads channel or the owner's DM; `/invite` me back "
                "to bring them here again.")
    return f"👋 I'm back in the channel of {inc.key}: the card and reminders are here again."


class LifecycleService:
    def __init__(self, service: Service) -> None:
        self.sessions = service.sessions
        self.clock = service.clock

    # --- channels -----------------------------------------------------------------------------

    def channel_changed(self, team_id: str, channel_id: str, change: Change, *,
                        actor: str | None = None, name: str | None = None,
                        why: str | None = None) -> bool:
        """Record a change to one of our channels; False when it is not ours or not news."""
        with self.sessions.begin() as session:
            now = self.clock()
            inc = store.get_incident_by_channel(session, channel_id)
            out = None if inc else outage_store.get_outage_by_channel(session, channel_id)
            owner = inc.team_id if inc is not None else out.team_id if out is not None else None
            if owner != team_id:
                return False  # not ours, or another workspace's: none of this one's business
            before = lifecycle_store.get_channel_state(session, team_id, channel_id)
            fields: dict[str, object] = {}
            if change is Change.ARCHIVED:
                if before.archived_at is not None:
                    return False
                fields["archived_at"] = now
            elif change is Change.UNARCHIVED:
                if before.archived_at is None:
                    return False
                fields["archived_at"] = None
            elif change is Change.REMOVED:
                if before.removed_at is not None:
                    return False
                fields["removed_at"] = now
            elif change is Change.REJOINED:
                if before.removed_at is None:
                    return False
                fields["removed_at"] = None
            elif change is Change.RENAMED:
                fields["name"] = name
            lifecycle_store.set_channel_state(session, team_id, channel_id, now,
                                              **fields)  # type: ignore[arg-type]
            if out is not None:  # outage channels: the state is what matters (posts skip it)
                if change is Change.RENAMED and name:
                    outage_store.save_outage(session, replace(out, channel_name=name))
                log.info("%s: channel %s %s", out.key, channel_id, change.value)
                return True
            assert inc is not None and inc.id is not None
            if change is Change.RENAMED and name:
                inc.channel_name = name
                inc = store.save_incident(session, inc)
            entry = TimelineEntry(now, "lifecycle", _line(change, inc, actor=actor, name=name,
                                                          why=why), actor)
            store.append_timeline(session, inc.id, team_id, [entry])
            self._enqueue_change(session, inc, change, entry, now)
            log.info("%s: channel %s %s", inc.key, channel_id, change.value)
            return True

    @staticmethod
    def _enqueue_change(session: Session, inc: Incident, change: Change, entry: TimelineEntry,
                        now: datetime) -> None:
        def enqueue(kind: str, payload: dict) -> None:
            store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind=kind,
                          payload=payload, requested_by=None, now=now)
        if change in LOST:
            enqueue("channel_lost", {"text": entry.text})
        elif change in (Change.UNARCHIVED, Change.REJOINED):
            enqueue("channel_back", {"text": entry.text})
        else:
            enqueue("timeline", {"text": entry.text, "kind": entry.kind})
        enqueue("refresh_card", {})

    def channel_state(self, team_id: str, channel_id: str) -> ChannelState:
        with store.reading(self.sessions) as session:
            return lifecycle_store.get_channel_state(session, team_id, channel_id)

    def channel_usable(self, channel_id: str) -> bool:
        with store.reading(self.sessions) as session:
            return lifecycle_store.channel_usable(session, channel_id)

    def set_fallback(self, team_id: str, channel_id: str, fallback_channel: str | None,
                     fallback_ts: str | None) -> None:
        with self.sessions.begin() as session:
            lifecycle_store.set_channel_state(session, team_id, channel_id, self.clock(),
                                              fallback_channel=fallback_channel,
                                              fallback_ts=fallback_ts)

    def brief(self, team_id: str, channel_id: str, user: str) -> bool:
        """Queue a "where we are" brief for someone who joined an incident's channel."""
        with self.sessions.begin() as session:
            inc = store.get_incident_by_channel(session, channel_id)
            if inc is None or inc.id is None or inc.team_id != team_id:
                return False
            store.enqueue(session, team_id=team_id, incident_id=inc.id, kind="brief",
                          payload={"user": user}, requested_by=None, now=self.clock())
            return True

    # --- the install --------------------------------------------------------------------------

    def pause(self, team_id: str, reason: str) -> bool:
        with self.sessions.begin() as session:
            return lifecycle_store.pause_team(session, team_id, reason, self.clock())

    def resume(self, team_id: str) -> bool:
        with self.sessions.begin() as session:
            return lifecycle_store.resume_team(session, team_id)

    def paused(self, team_id: str) -> str | None:
        """Why sends for the team are paused, or None."""
        with store.reading(self.sessions) as session:
            return lifecycle_store.paused_reason(session, team_id)
