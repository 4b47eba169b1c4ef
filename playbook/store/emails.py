"""Finding the incident an inbound email belongs to, by the Message-IDs of what we sent.

A reply's `In-Reply-To` and `References` name our earlier emails; their Message-IDs are in
`sent_emails` (indexed), and Message-IDs are unique worldwide, so no team is needed to look.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from playbook.store.tables import SentEmailRow

__all__ = ["incident_for_message_ids"]


def incident_for_message_ids(session: Session, message_ids: Sequence[str]) -> int | None:
    """The incident that sent one of `message_ids` (the most recent such email wins)."""
    wanted = [m for m in dict.fromkeys(message_ids) if m][:100]
    if not wanted:
        return None
    row = session.execute(
        select(SentEmailRow.incident_id).where(SentEmailRow.message_id.in_(wanted))
        .order_by(SentEmailRow.id.desc()).limit(1)).first()
    return None if row is None else int(row[0])
