"""Use cases of the timeline: capture a Slack message, list entries, correct or remove one.

Like `playbook.services.incidents`, each use case is one transaction and every Slack side effect is
an outbox row written in it. Capturing is split in two because a `reaction_added` event carries
only the message's timestamp: the listener records a ``capture`` request (fast, inside Slack's
ack window) and the outbox worker fetches the message and calls `capture`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.errors import NotFound
from playbook.domain.model import Actor, Incident, TimelineEntry
from playbook.domain.text import mention
from playbook.domain.timeline import CAPTURED, Entry, Line, check_correction, corrected
from playbook.services.outcomes import Origin, reply_to
from playbook.store import timeline as timeline_store

__all__ = ["TimelineService"]


class TimelineService:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def entries(self, incident_id: int) -> list[Entry]:
        with store.reading(self.sessions) as session:
            return timeline_store.load_entries(session, incident_id)

    def corrected(self, incident_id: int) -> tuple[Line, ...]:
        """The timeline as the summary shows it (removals gone, corrections applied)."""
        return corrected(self.entries(incident_id))

    def request_capture(self, inc: Incident, *, channel_id: str, message_ts: str, by: str,
                        via: str, message: dict | None = None) -> None:
        """Queue the capture of a message; the worker fetches it if `message` is missing."""
        assert inc.id is not None
        with self.sessions.begin() as session:
            store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind="capture",
                          payload={"channel": channel_id, "ts": message_ts, "by": by, "via": via,
                                   "message": message,
                                   "notify": reply_to(Origin(channel_id), by)},
                          requested_by=by, now=self.clock())

    def capture(self, inc: Incident, *, channel_id: str, message_ts: str, author: str | None,
                at: datetime, text: str, by: str, via: str) -> tuple[int, bool]:
        """Put a message on the timeline once; tell whoever captured it which entry it is.

        `text` must already be neutralised (`playbook.domain.timeline.neutralise`).
        """
        assert inc.id is not None
        now = self.clock()
        with self.sessions.begin() as session:
            number, added = timeline_store.capture(
                session, incident_id=inc.id, team_id=inc.team_id, channel_id=channel_id,
                message_ts=message_ts, entry=TimelineEntry(at, CAPTURED, text, author),
                captured_by=by, via=via, now=now)
            whose = f"{mention(author)}'s message" if author else "That message"
            if added:
                say = (f"📌 Added {whose} to the {inc.key} timeline as *T{number}*. "
                       f"`/incident timeline edit T{number}` corrects or removes it.")
            else:
                say = f"{whose} is already on the {inc.key} timeline as *T{number}*."
            store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind="tell",
                          payload={"text": say, "notify": reply_to(Origin(channel_id), by)},
                          requested_by=by, now=now)
        return number, added

    def correct(self, incident_id: int, entry_id: int, actor: Actor, *, team_id: str,
                typed: str, at: datetime, remove: bool) -> str:
        """Record a correction or removal as a new revision; returns the confirmation.

        Raises `PermissionDenied` for someone other than the author or a lead, `ParseError`
        for text or a time that can't be right.
        """
        now = self.clock()
        with self.sessions.begin() as session:
            inc = store.get_incident_by_id(session, incident_id)
            if inc is None or inc.team_id != team_id:
                raise NotFound("That timeline entry no longer exists.")
            entries = timeline_store.load_entries(session, incident_id)
            entry = next((e for e in entries if e.id == entry_id), None)
            if entry is None:
                raise NotFound("That timeline entry no longer exists.")
            revision = check_correction(entry, actor, typed=typed, at=at, remove=remove, now=now)
            if revision is None:
                return f"Nothing changed in {entry.ref}."
            timeline_store.add_revision(session, incident_id=incident_id, team_id=inc.team_id,
                                        entry_id=entry_id, revision=revision)
        if revision.removed:
            return (f"Removed {entry.ref} from the {inc.key} timeline. The original stays in "
                    "the history; the summary leaves it out.")
        restored = " and restored it" if entry.removed else ""
        return f"Corrected {entry.ref}{restored}: the summary shows the new version."
