"""Slack event de-duplication: Slack retries events and Bolt does not deduplicate them.

Also the claim that makes a form submitted twice count once (its key stands in for an event id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playbook.store.tables import HandledEventRow

__all__ = ["remember_event"]


def remember_event(session: Session, team_id: str, event_id: str, now: datetime) -> bool:
    """True the first time `event_id` is seen (handle it), False for Slack's retries."""
    e = HandledEventRow.__table__
    try:
        with session.begin_nested():
            session.execute(insert(e).values(event_id=event_id, team_id=team_id, seen_at=now))
    except IntegrityError:
        return False
    return True
